"""Config: memberlist's Config fields in snake_case, with its three presets (``config.go``).

``Config()`` equals memberlist's ``DefaultLANConfig``; ``Config.lan/wan/local`` build the
presets with keyword overrides. Durations are float seconds. ``validate()`` checks every field
and raises :class:`ConfigError` (or :class:`InvalidKeyError`) naming it, before any I/O.
"""

from __future__ import annotations

import ipaddress
import socket
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from swimlib.errors import ConfigError, InvalidKeyError
from swimlib.wire.keyring import Keyring
from swimlib.wire.limits import MAX_LABEL_LEN, MAX_NAME_BYTES
from swimlib.wire.messages import META_MAX_SIZE, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN


def default_node_name() -> str:
    """Hostname plus a random suffix: unique even for several nodes in one process."""
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


def parse_key(value: str | bytes, field_name: str = "secret_key") -> bytes:
    """Accept a raw 16/24/32-byte key or its standard base64 text (as serf's ``-encrypt``)."""
    try:
        return Keyring.parse_key(value)
    except InvalidKeyError as err:
        raise InvalidKeyError(f"{field_name}: {err}") from None


@dataclass(frozen=True)
class Config:
    """Every tunable of a node. Defaults are memberlist's DefaultLANConfig."""

    node_name: str = field(default_factory=default_node_name)
    bind_addr: str = "0.0.0.0"
    bind_port: int = 7946
    advertise_addr: str = ""
    advertise_port: int = 0  # 0: same as the bound port
    protocol_version: int = 2
    tcp_timeout: float = 10.0
    indirect_checks: int = 3
    retransmit_mult: int = 4
    # User broadcasts have no anti-entropy backstop, so by default they are sent twice as
    # often as membership updates (0 means 2 * retransmit_mult).
    broadcast_retransmit_mult: int = 0
    suspicion_mult: int = 4
    suspicion_max_timeout_mult: int = 6
    push_pull_interval: float = 30.0
    probe_timeout: float = 0.5
    protocol_interval: float = 1.0  # memberlist's ProbeInterval
    disable_tcp_pings: bool = False
    awareness_max_multiplier: int = 8
    gossip_nodes: int = 3
    gossip_interval: float = 0.2
    gossip_to_the_dead_time: float = 30.0
    gossip_verify_incoming: bool = True
    gossip_verify_outgoing: bool = True
    enable_compression: bool = True
    secret_key: bytes | str | None = None
    keyring: tuple[bytes | str, ...] = ()
    encryption_enabled: bool | None = None  # None: on exactly when a key is configured
    encryption_version: int = 1  # memberlist sends v1 when speaking protocol >= 2
    label: str = ""
    skip_inbound_label_check: bool = False
    # Bound of the queue of received user messages waiting for the on_message callbacks
    # (memberlist: the handoff queue for the delegate); overflow is drop.delivery_queue_full.
    handoff_queue_depth: int = 1024
    # Bound of Cluster.events. Past it, events are counted as lost and an EventsLost event
    # (with the count) is queued as soon as there is room. 16,384 holds every join of a
    # 5,000-node cluster three times over, at about 0.5 kB an event (~8 MB at most).
    events_maxsize: int = 16384
    # Reconnect to failed members (Serf's model, which memberlist lacks): every interval a
    # join push/pull with one random member declared dead (not left), remembered for
    # reconnect_timeout apart from the member table's reaping. 0 disables. 30 s and 24 h are
    # Serf's defaults; the cost is at most one push/pull per node per interval, and only
    # while failed members exist (docs/self-healing.md).
    reconnect_interval: float = 30.0
    reconnect_timeout: float = 86400.0
    # Background join (serf agent -retry-join): seeds tried every retry_interval until one
    # answers (retry_max attempts, 0 for no limit); a JoinCompleted or JoinFailed event follows.
    retry_join: tuple[str, ...] = ()
    retry_interval: float = 30.0
    retry_max: int = 0
    # Every rejoin_interval, if the node is alone or has lost more than half of the members it
    # had, re-contact the seeds it joined through (names resolved again). 0 disables.
    rejoin_interval: float = 60.0
    udp_buffer_size: int = 1400
    dead_node_reclaim_time: float = 0.0
    delegate_protocol_version: int = 0
    delegate_protocol_min: int = 0
    delegate_protocol_max: int = 0
    meta: bytes = b""
    tcp_workers: int = 8  # bounded pool for push/pull, TCP pings and reliable sends
    # Lifeguard (awareness, nacks, buddy probes, confirmation-shortened suspicion) is always on
    # in memberlist; False gives plain SWIM, only for comparison studies in the simulator.
    lifeguard: bool = True

    # ------------------------------------------------------------------ presets

    @classmethod
    def lan(cls, **overrides: Any) -> Config:
        """memberlist's DefaultLANConfig: tuned for a LAN (the default)."""
        return cls(**overrides)

    @classmethod
    def wan(cls, **overrides: Any) -> Config:
        """memberlist's DefaultWANConfig: slower timings for high-latency links."""
        base: dict[str, Any] = dict(
            tcp_timeout=30.0,
            suspicion_mult=6,
            push_pull_interval=60.0,
            probe_timeout=3.0,
            protocol_interval=5.0,
            gossip_nodes=4,
            gossip_interval=0.5,
            gossip_to_the_dead_time=60.0,
        )
        base.update(overrides)
        return cls(**base)

    @classmethod
    def local(cls, **overrides: Any) -> Config:
        """memberlist's DefaultLocalConfig: fast timings for loopback or one host."""
        base: dict[str, Any] = dict(
            tcp_timeout=1.0,
            indirect_checks=1,
            retransmit_mult=2,
            suspicion_mult=3,
            push_pull_interval=15.0,
            probe_timeout=0.2,
            protocol_interval=1.0,
            gossip_interval=0.1,
            gossip_to_the_dead_time=15.0,
            reconnect_interval=10.0,
        )
        base.update(overrides)
        return cls(**base)

    def with_changes(self, **changes: Any) -> Config:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    # ------------------------------------------------------------------ derived

    def keys(self) -> list[bytes]:
        """The initial keyring, primary first (memberlist: SecretKey becomes primary)."""
        out: list[bytes] = []
        if self.secret_key is not None:
            out.append(parse_key(self.secret_key, "secret_key"))
        for i, k in enumerate(self.keyring):
            key = parse_key(k, f"keyring[{i}]")
            if key not in out:
                out.append(key)
        return out

    @property
    def encrypted(self) -> bool:
        if self.encryption_enabled is None:
            return bool(self.secret_key is not None or self.keyring)
        return self.encryption_enabled

    @property
    def label_bytes(self) -> bytes:
        return self.label.encode("utf-8")

    def advertise(self) -> tuple[str, int]:
        """Address and port to announce; never 0.0.0.0 (a concrete IP is picked)."""
        host = self.advertise_addr or self.bind_addr
        if host in ("0.0.0.0", "", "::"):
            host = _guess_private_ip()
        return host, self.advertise_port or self.bind_port

    # ------------------------------------------------------------------ validation

    def validate(self) -> None:
        """Raise ConfigError/InvalidKeyError naming the first bad field."""
        if not isinstance(self.node_name, str) or not self.node_name:
            raise ConfigError("node_name: must be a non-empty string")
        try:
            name_bytes = len(self.node_name.encode("utf-8"))
        except UnicodeEncodeError:
            raise ConfigError("node_name: must be valid Unicode text") from None
        if name_bytes > MAX_NAME_BYTES:
            raise ConfigError(f"node_name: longer than {MAX_NAME_BYTES} bytes (peers drop it)")
        _check_ip("bind_addr", self.bind_addr)
        if self.advertise_addr:
            _check_ip("advertise_addr", self.advertise_addr)
        _check_int("bind_port", self.bind_port, 0, 65535)
        _check_int("advertise_port", self.advertise_port, 0, 65535)
        _check_int(
            "protocol_version", self.protocol_version, PROTOCOL_VERSION_MIN, PROTOCOL_VERSION_MAX
        )
        for name in ("delegate_protocol_version", "delegate_protocol_min", "delegate_protocol_max"):
            _check_int(name, getattr(self, name), 0, 255)
        _check_int("broadcast_retransmit_mult", self.broadcast_retransmit_mult, 0, 1 << 16)
        for name in ("indirect_checks", "gossip_nodes"):
            _check_int(name, getattr(self, name), 0, 1 << 16)
        for name in (
            "retransmit_mult",
            "suspicion_mult",
            "suspicion_max_timeout_mult",
            "awareness_max_multiplier",
            "tcp_workers",
        ):
            _check_int(name, getattr(self, name), 1, 1 << 16)
        _check_int("handoff_queue_depth", self.handoff_queue_depth, 1, 1 << 24)
        _check_int("events_maxsize", self.events_maxsize, 1, 1 << 24)
        _check_int("retry_max", self.retry_max, 0, 1 << 30)
        if not isinstance(self.retry_join, (tuple, list)) or not all(
            isinstance(s, str) and s for s in self.retry_join
        ):
            raise ConfigError("retry_join: must be a sequence of 'host:port' strings")
        _check_int("udp_buffer_size", self.udp_buffer_size, 256, 65507)
        for name in ("tcp_timeout", "probe_timeout", "protocol_interval"):
            _check_seconds(name, getattr(self, name), positive=True)
        for name in (
            "push_pull_interval",
            "gossip_interval",
            "gossip_to_the_dead_time",
            "dead_node_reclaim_time",
            "reconnect_interval",
            "reconnect_timeout",
            "retry_interval",
            "rejoin_interval",
        ):
            _check_seconds(name, getattr(self, name), positive=False)
        if self.probe_timeout > self.protocol_interval:
            raise ConfigError("probe_timeout: must not exceed protocol_interval")
        if not isinstance(self.meta, bytes) or len(self.meta) > META_MAX_SIZE:
            raise ConfigError(f"meta: must be bytes of at most {META_MAX_SIZE}")
        if not isinstance(self.label, str):
            raise ConfigError("label: must be a str")
        if len(self.label_bytes) > MAX_LABEL_LEN:
            raise ConfigError(f"label: at most {MAX_LABEL_LEN} bytes once UTF-8 encoded")
        if self.encryption_version not in (0, 1):
            raise ConfigError("encryption_version: must be 0 or 1")
        if not isinstance(self.keyring, (tuple, list)):
            raise InvalidKeyError("keyring: must be a sequence of keys")
        keys = self.keys()
        if self.encryption_enabled and not keys:
            raise InvalidKeyError("encryption_enabled: set, but no secret_key or keyring given")


def _check_int(name: str, value: object, lo: int, hi: int) -> None:
    if type(value) is not int or not lo <= value <= hi:
        raise ConfigError(f"{name}: must be an integer in [{lo}, {hi}], got {value!r}")


def _check_seconds(name: str, value: object, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: must be a number of seconds, got {value!r}")
    if value < 0 or (positive and value == 0) or value != value or value > 1e7:
        raise ConfigError(f"{name}: out of range: {value!r}")


def _check_ip(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{name}: must be an IP address string")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(f"{name}: not an IP address: {value!r}") from None


def _guess_private_ip() -> str:
    """The host's own address by name lookup; loopback when the name does not resolve."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
