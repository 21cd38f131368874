"""Encryption, keyrings, labels and the verify flags against real Go memberlist nodes."""

from __future__ import annotations

import base64
import queue
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import record, wait_until
from gopeer import GoPeer
from test_interop import all_alive, expect, inbox, py_sees

import swimlib

GoStart = Callable[..., GoPeer]
PyStart = Callable[..., swimlib.Cluster]


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


# A Go application's broadcast goes out retransmit_mult * ceil(log10(n+1)) times from its
# origin only (memberlist leaves relaying to the application); a higher multiplier makes
# "every peer got the Go broadcast" certain rather than likely in these small clusters.
BCAST = ("-retransmit-mult", "6")

K1 = bytes(range(32))
K2 = bytes(range(100, 132))


def exchange_messages(g: GoPeer, p: swimlib.Cluster, tag: str) -> None:
    """Direct UDP and TCP messages each way; asserts both sides decrypted them.

    Direct messages, not broadcasts: gossip fan-out is probabilistic (and also spends
    transmissions on recently dead nodes), while this checks that every packet is readable.
    """
    box = inbox(p)
    g.send(cmd="send", to=p.config.node_name, payload=f"udp-{tag}", topic="t")
    expect(box, lambda m: m[2] == f"udp-{tag}".encode(), 10)
    g.send(cmd="send", to=p.config.node_name, payload=f"tcp-{tag}", reliable=True)
    expect(box, lambda m: m[2] == f"tcp-{tag}".encode(), 10)
    p.send(target=g.name, topic="t", payload=f"py-udp-{tag}".encode())
    g.wait_for(lambda e: e["event"] == "message" and e.get("payload_text") == f"py-udp-{tag}", 10)
    p.send(target=g.name, payload=f"py-tcp-{tag}".encode(), reliable=True)
    g.wait_for(lambda e: e["event"] == "message" and e.get("payload_text") == f"py-tcp-{tag}", 10)


def broadcast_both_ways(g: GoPeer, p: swimlib.Cluster, tag: str) -> None:
    box = inbox(p)
    g.send(cmd="broadcast", payload=f"bcast-{tag}", topic="t")
    expect(box, lambda m: m[2] == f"bcast-{tag}".encode(), 10)
    p.broadcast(topic="t", payload=f"py-bcast-{tag}".encode())
    g.wait_for(lambda e: e["event"] == "message" and e.get("payload_text") == f"py-bcast-{tag}", 10)


@pytest.mark.parametrize("size", [16, 24, 32])
def test_encrypted_cluster_each_key_size(go_peer: GoStart, py_node: PyStart, size: int) -> None:
    key = K1[:size]
    g1 = go_peer("go-1", *BCAST, "-key", b64(key))
    g2 = go_peer("go-2", *BCAST, "-key", b64(key), "-join", g1.address)
    p = py_node("py-1", secret_key=b64(key))
    start = time.monotonic()
    p.join([g1.address])
    names = {"go-1", "go-2", "py-1"}
    g2.wait_members(all_alive(names), 15)
    wait_until(lambda: py_sees(p, names), 15, "python sees go")
    record(f"encrypted_aes{size * 8}.converge", round(time.monotonic() - start, 3))
    exchange_messages(g1, p, str(size))
    broadcast_both_ways(g2, p, str(size))
    drops = {k: v for k, v in p.stats().items() if k.startswith("drop.")}
    assert drops.get("drop.decrypt_failed", 0) == 0, drops


def test_encrypted_crash_detection_and_leave(go_peer: GoStart, py_node: PyStart) -> None:
    g1 = go_peer("go-1", *BCAST, "-key", b64(K1))
    g2 = go_peer("go-2", *BCAST, "-key", b64(K1), "-join", g1.address)
    p1 = py_node("py-1", secret_key=K1)
    p2 = py_node("py-2", secret_key=K1)
    p1.join([g1.address])
    p2.join([g1.address])
    names = {"go-1", "go-2", "py-1", "py-2"}
    g1.wait_members(all_alive(names), 15)
    wait_until(lambda: py_sees(p1, names), 15, "convergence")
    g2.kill()
    t = wait_until(
        lambda: any(m.name == "go-2" and m.state == swimlib.NodeState.DEAD for m in p1.members()),
        30,
        "python detects go-2",
    )
    record("encrypted.go_killed.python_detect", round(t, 3))
    assert p2.leave(timeout=5)
    p2.shutdown()
    g1.wait_members(lambda ms: ms.get("py-2", {}).get("state") == "left", 10)


def test_label_and_key_together(go_peer: GoStart, py_node: PyStart) -> None:
    g = go_peer("go-1", *BCAST, "-key", b64(K1), "-label", "prod-eu")
    p = py_node("py-1", secret_key=K1, label="prod-eu")
    p.join([g.address])
    g.wait_members(all_alive({"py-1"}), 10)
    exchange_messages(g, p, "label")


def test_label_without_encryption(go_peer: GoStart, py_node: PyStart) -> None:
    g = go_peer("go-1", *BCAST, "-label", "staging")
    p = py_node("py-1", label="staging")
    p.join([g.address])
    g.wait_members(all_alive({"py-1"}), 10)
    exchange_messages(g, p, "plain-label")


def test_python_sends_encryption_version_0(go_peer: GoStart, py_node: PyStart) -> None:
    g = go_peer("go-1", *BCAST, "-key", b64(K1))
    p = py_node("py-1", secret_key=K1, encryption_version=0)
    p.join([g.address])
    g.wait_members(all_alive({"py-1"}), 10)
    exchange_messages(g, p, "v0")


def test_keyring_rotation_across_mixed_cluster(go_peer: GoStart, py_node: PyStart) -> None:
    gos = [go_peer("go-1", *BCAST, "-key", b64(K1))]
    gos.append(go_peer("go-2", *BCAST, "-key", b64(K1), "-join", gos[0].address))
    pys = [py_node("py-1", keyring=(K1,)), py_node("py-2", keyring=(K1,))]
    for p in pys:
        p.join([gos[0].address])
    names = {"go-1", "go-2", "py-1", "py-2"}
    for g in gos:
        g.wait_members(all_alive(names), 15)
    wait_until(lambda: all(py_sees(p, names) for p in pys), 15, "convergence")
    boxes = [inbox(p) for p in pys]

    def everyone_hears(tag: str) -> None:
        """Every node sends a direct UDP message to every other; none may be lost."""
        for i, p in enumerate(pys):
            targets: list[GoPeer | swimlib.Cluster] = [*gos, pys[1 - i]]
            for other in targets:
                p.send(
                    target=other.name if isinstance(other, GoPeer) else other.config.node_name,
                    payload=f"{tag}-from-{p.config.node_name}".encode(),
                )
        for g in gos:
            for other_name in ["go-1", "go-2", "py-1", "py-2"]:
                if other_name != g.name:
                    g.send(cmd="send", to=other_name, payload=f"{tag}-from-{g.name}")
        for i, box in enumerate(boxes):
            want = {f"{tag}-from-{n}".encode() for n in ("go-1", "go-2", f"py-{2 - i}")}
            while want:
                want.discard(box.get(timeout=10)[2])
        for g in gos:
            for n in {"go-1", "go-2", "py-1", "py-2"} - {g.name}:
                g.wait_for(_message_from(f"{tag}-from-{n}"), 10)

    def step(cmd: str, key: bytes) -> None:
        for g in gos:
            mark = g.mark()
            g.send(cmd=f"key_{cmd}", key=b64(key))
            ev = g.wait_for(lambda e: e["event"] == "sent", 5, mark)
            assert ev["ok"], ev
        for p in pys:
            getattr(p.keyring, cmd)(key)

    everyone_hears("before")
    step("install", K2)
    everyone_hears("installed")
    step("use", K2)
    everyone_hears("switched")
    step("remove", K1)
    everyone_hears("removed")
    for p in pys:
        assert p.keyring.keys() == [K2]
        with pytest.raises(swimlib.InvalidKeyError):
            p.keyring.remove(K2)  # the primary cannot be removed
    time.sleep(1.0)
    for g in gos:
        assert not any(e["event"] == "leave" for e in g.events), "rotation lost a member"
        g.wait_members(all_alive(names), 5)
    for p in pys:
        assert py_sees(p, names)
        assert not any(isinstance(e, swimlib.LeaveEvent) for e in _drain(p.events))


def _drain(q: queue.Queue[Any]) -> list[Any]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_plaintext_to_encrypted_migration(go_peer: GoStart, py_node: PyStart) -> None:
    """memberlist's recipe: add the key with both verify flags off, then outgoing, then
    incoming; at each stage old and new nodes must still understand each other."""
    key = b64(K1)
    # Stage 1: plaintext Go node; a Python node gets the key with both flags off.
    plain = go_peer("go-plain", *BCAST)
    s1 = py_node(
        "py-s1", secret_key=key, gossip_verify_incoming=False, gossip_verify_outgoing=False
    )
    s1.join([plain.address])
    plain.wait_members(all_alive({"py-s1"}), 10)
    exchange_messages(plain, s1, "stage1")
    # Stage 2: nodes that encrypt outgoing but still accept plaintext, next to stage-1 nodes.
    g2 = go_peer(
        "go-s2",
        *BCAST,
        "-key",
        key,
        "-verify-incoming=false",
        "-verify-outgoing=true",
        "-join",
        f"127.0.0.1:{s1.port}",
    )
    s2 = py_node("py-s2", secret_key=key, gossip_verify_incoming=False)
    s2.join([f"127.0.0.1:{s1.port}"])
    names = {"py-s1", "py-s2", "go-s2"}
    g2.wait_members(all_alive(names), 15)
    wait_until(lambda: py_sees(s1, names) and py_sees(s2, names), 15, "stage 2 convergence")
    exchange_messages(g2, s1, "stage2-a")
    exchange_messages(g2, s2, "stage2-b")
    # Stage 3, once every node is at stage 2 (stage-1 nodes are restarted away, as in a
    # rolling restart): fully encrypted nodes join the stage-2 nodes.
    s1.shutdown()
    plain.kill()
    g3 = go_peer("go-s3", *BCAST, "-key", key, "-join", g2.address)
    s3 = py_node("py-s3", secret_key=key)
    s3.join([g2.address])
    names3 = {"go-s2", "py-s2", "go-s3", "py-s3"}
    g3.wait_members(all_alive(names3), 15)
    wait_until(lambda: py_sees(s3, names3), 15, "stage 3 convergence")
    exchange_messages(g3, s3, "stage3")

    # A fully encrypted node refuses plaintext, and counts it.
    def drops() -> int:
        return sum(v for k, v in s3.stats().items() if k.startswith("drop."))

    before = drops()
    plain2 = go_peer("go-plain-2", *BCAST)
    plain2.send(cmd="ping", name="py-s3", addr=f"127.0.0.1:{s3.port}")
    ev = plain2.wait_for(lambda e: e["event"] == "ping", 5)
    assert ev["rtt_ms"] is None, "an encrypted-only node must not answer a plaintext ping"
    wait_until(lambda: drops() > before, 5, "plaintext drop counted")


@pytest.mark.parametrize("compression", [True, False])
def test_encrypted_with_and_without_compression(
    go_peer: GoStart, py_node: PyStart, compression: bool
) -> None:
    flag = "-compression=true" if compression else "-compression=false"
    g = go_peer("go-1", *BCAST, "-key", b64(K1[:16]), flag)
    p = py_node("py-1", secret_key=K1[:16], enable_compression=compression)
    p.join([g.address])
    g.wait_members(all_alive({"py-1"}), 10)
    exchange_messages(g, p, f"compression-{compression}")


@pytest.mark.parametrize(
    "opts",
    [dict(secret_key=K2), dict(label="other"), dict(secret_key=K1, label="other")],
    ids=["wrong-key", "wrong-label", "right-key-wrong-label"],
)
def test_python_node_with_wrong_key_or_label_cannot_join(
    go_peer: GoStart, py_node: PyStart, opts: dict[str, Any]
) -> None:
    g = go_peer("go-1", *BCAST, "-key", b64(K1), "-label", "prod")
    other = go_peer("go-2", *BCAST, "-key", b64(K1), "-label", "prod", "-join", g.address)
    g.wait_members(all_alive({"go-1", "go-2"}), 10)
    p = py_node("py-bad", **opts)
    with pytest.raises(swimlib.NoSeedsReachableError):
        p.join([g.address])
    time.sleep(1.0)
    assert set(g.members()) == {"go-1", "go-2"}
    assert set(other.members()) == {"go-1", "go-2"}
    assert [m.name for m in p.members()] == ["py-bad"]


def _message_from(text: str) -> Callable[[dict[str, Any]], bool]:
    def match(e: dict[str, Any]) -> bool:
        return bool(e["event"] == "message" and e.get("payload_text") == text)

    return match
