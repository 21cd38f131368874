"""``swimlib agent``: run one swimlib node, print its events and messages, obey stdin commands.

Commands are plain words (``broadcast TEXT``, ``send NODE TEXT``, ``members``, ``leave``,
``quit``) or the Go interop peer's JSON objects, so scripts can drive either side alike.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import queue
import sys
import threading
import time
from typing import Any

from swimlib.cluster import Cluster
from swimlib.config import Config
from swimlib.errors import SwimError
from swimlib.events import (
    AliveEvent,
    Event,
    EventsLost,
    JoinCompleted,
    JoinEvent,
    JoinFailed,
    LeaveEvent,
    SuspectEvent,
    UpdateEvent,
)
from swimlib.node import Node
from swimlib.tools.common import (
    CliError,
    addr_text,
    check_positive,
    out,
    out_json,
    parse_crypto,
    resolve,
)
from swimlib.tools.render import show_bytes

_EVENT_NAMES: dict[type, str] = {
    JoinEvent: "join",
    LeaveEvent: "leave",
    UpdateEvent: "update",
    SuspectEvent: "suspect",
    AliveEvent: "alive",
}

Inbox = queue.Queue[tuple[str | None, str | None, bytes]]


def cmd_agent(args: argparse.Namespace) -> int:
    keys, _ = parse_crypto(args)  # the label is validated here, but Config takes the text
    check_positive(args.seconds, "--seconds")
    _, host, port = resolve(args.bind, "--bind", allow_zero=True)
    preset = {"lan": Config.lan, "wan": Config.wan, "local": Config.local}[args.preset]
    try:
        cfg = preset(
            node_name=args.name,
            bind_addr=host,
            bind_port=port,
            label=args.label,
            keyring=tuple(keys),
            meta=args.meta.encode("utf-8"),
        )
        cluster = Cluster(cfg)
    except SwimError as exc:
        raise CliError(str(exc)) from None
    inbox: Inbox = queue.Queue()
    cluster.on_message(lambda s, t, p: inbox.put((s.name if s else None, t, p)))
    commands: queue.Queue[str] = queue.Queue()
    try:
        cluster.start()
    except OSError as exc:
        raise CliError(f"cannot start on {host}:{port}: {exc}") from None
    try:
        if args.json:
            out_json({"event": "start", "name": args.name, "addr": host, "port": cluster.port})
        else:
            out(f"started {args.name} on {addr_text((host, cluster.port))}")
        if args.join:
            try:
                n = cluster.join(args.join)
            except SwimError as exc:
                raise CliError(f"join failed: {exc}") from None
            out_json({"event": "joined", "n": n}) if args.json else out(f"joined {n} seed(s)")
        if not args.no_stdin:
            threading.Thread(
                target=_read_commands, args=(commands,), name="swimlib-cli-stdin", daemon=True
            ).start()
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                _show_event(cluster.events.get(timeout=0.05), args.json)
            _show_messages(inbox, args.json)
            while not commands.empty():
                if not _agent_command(cluster, commands.get_nowait(), args.json):
                    return 0
        return 0
    finally:
        if args.leave_on_exit:
            with contextlib.suppress(SwimError):
                cluster.leave(timeout=2.0)
        cluster.shutdown()


def _node_json(n: Node) -> dict[str, Any]:
    return {
        "name": n.name,
        "addr": n.addr,
        "port": n.port,
        "meta": n.meta.decode("utf-8", "replace"),
        "state": n.state.name.lower(),
        "incarnation": n.incarnation,
    }


def _show_event(ev: Event, as_json: bool) -> None:
    name = _EVENT_NAMES.get(type(ev), type(ev).__name__)
    if isinstance(ev, (EventsLost, JoinCompleted, JoinFailed)):
        fields = {k: getattr(ev, k) for k in ev.__slots__}
        if as_json:
            out_json({"event": name, **fields})
        else:
            out(name + " " + " ".join(f"{k}={v}" for k, v in fields.items()))
        return
    n = ev.node
    if as_json:
        out_json({"event": name, "node": _node_json(n)})
    else:
        out(
            f"{name} {n.name} {addr_text((n.addr, n.port))} state={n.state.name.lower()} "
            f"incarnation={n.incarnation} meta={show_bytes(n.meta)}"
        )


def _show_messages(inbox: Inbox, as_json: bool) -> None:
    while not inbox.empty():
        sender, topic, payload = inbox.get_nowait()
        if as_json:
            out_json(
                {
                    "event": "message",
                    "from": sender,
                    "topic": topic,
                    "payload_b64": base64.b64encode(payload).decode("ascii"),
                    "payload_text": payload.decode("utf-8", "replace"),
                }
            )
        else:
            out(f"message from {sender} topic={topic} payload={show_bytes(payload)}")


def _read_commands(into: queue.Queue[str]) -> None:
    with contextlib.suppress(Exception):  # stdin closed or not readable: no commands
        for line in sys.stdin:
            into.put(line)


def _agent_command(cluster: Cluster, line: str, as_json: bool) -> bool:
    """Run one stdin command; False means quit. JSON like the Go peer, or plain words."""
    line = line.strip()
    if not line:
        return True
    try:
        if line.startswith("{"):
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError("a command must be a JSON object")
        else:
            word, _, rest = line.partition(" ")
            cmd = {"cmd": word}
            if word == "send":
                to, _, text = rest.partition(" ")
                cmd.update(to=to, payload=text)
            elif word == "broadcast":
                cmd["payload"] = rest
        name = cmd.get("cmd")
        payload = str(cmd.get("payload", "")).encode("utf-8")
        topic = cmd.get("topic")
        if name == "broadcast":
            cluster.broadcast(payload, topic=topic)
        elif name == "send":
            cluster.send(
                str(cmd.get("to", "")),
                payload,
                topic=topic,
                reliable=bool(cmd.get("reliable", False)),
            )
        elif name == "members":
            _show_members(cluster, as_json)
        elif name == "leave":
            ok = cluster.leave(timeout=float(str(cmd.get("timeout", 2.0)).rstrip("s")))
            out_json({"event": "left", "ok": ok}) if as_json else out(f"left (ok={ok})")
        elif name in ("quit", "shutdown", "exit"):
            return False
        else:
            raise ValueError(f"unknown command {name!r} (broadcast, send, members, leave, quit)")
    except (ValueError, TypeError, SwimError, OSError) as exc:
        if as_json:
            out_json({"event": "error", "error": str(exc), "line": line})
        else:
            out(f"command failed: {exc}")
    return True


def _show_members(cluster: Cluster, as_json: bool) -> None:
    ms = [_node_json(m) for m in cluster.members()]
    if as_json:
        out_json({"event": "members", "members": ms})
        return
    for m in ms:
        out(
            f"member {m['name']} {m['addr']}:{m['port']} {m['state']} "
            f"incarnation={m['incarnation']}"
        )
