"""Encryption throughput and cost (issue: encryption, keyring, labels).

    python bench/crypto_bench.py [--seconds S] [--nodes N]

Prints packets/s through seal+open (memberlist's AES-GCM envelope, swimlib.wire.crypto) for
100- and 1,400-byte payloads, side by side with the straightforward pycryptodome GCM path
measured in the same run, then the CPU a small idle loopback cluster burns with and without
encryption.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from Crypto.Cipher import AES

import swimlib
from swimlib.wire.crypto import open_sealed, seal

KEY = bytes(range(32))


def reference_seal_open(payload: bytes, nonce: bytes) -> bytes:
    """The plain pycryptodome way: a new GCM object per packet, both directions."""
    c = AES.new(KEY, AES.MODE_GCM, nonce=nonce)
    ct, tag = c.encrypt_and_digest(payload)
    data = b"\x01" + nonce + ct + tag
    d = AES.new(KEY, AES.MODE_GCM, nonce=data[1:13])
    return bytes(d.decrypt_and_verify(data[13:-16], data[-16:]))


def swimlib_seal_open(payload: bytes, nonce: bytes) -> bytes:
    return open_sealed([KEY], seal(KEY, payload, nonce, b""), b"")


def rate(fn: object, size: int, seconds: float) -> float:
    payload = os.urandom(size)
    nonce = os.urandom(12)
    n = 0
    end = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        for _ in range(200):
            assert fn(payload, nonce) == payload  # type: ignore[operator]
        n += 200
    return n / (time.perf_counter() - start)


def cluster_cpu(encrypted: bool, nodes: int, seconds: float) -> float:
    """CPU seconds per node per wall second of an idle cluster in this process."""
    extra = dict(secret_key=KEY) if encrypted else {}
    cs = [
        swimlib.Cluster(
            swimlib.Config.local(node_name=f"n{i}", bind_addr="127.0.0.1", bind_port=0, **extra)
        ).start()
        for i in range(nodes)
    ]
    try:
        for c in cs[1:]:
            c.join([f"127.0.0.1:{cs[0].port}"])
        time.sleep(1.0)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        time.sleep(seconds)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic() - t0
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        return cpu / wall / nodes
    finally:
        for c in cs:
            c.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--nodes", type=int, default=5)
    args = ap.parse_args()
    print("seal+open round trips per second (one core)")
    print(f"{'payload':>8} {'swimlib':>10} {'pycryptodome GCM':>17} {'ratio':>6}")
    for size in (100, 1400):
        ours = rate(swimlib_seal_open, size, args.seconds)
        ref = rate(reference_seal_open, size, args.seconds)
        print(f"{size:>7}B {ours:>10.0f} {ref:>17.0f} {ours / ref:>6.2f}")
    print(f"\nidle cluster of {args.nodes} nodes (Local preset), CPU % of one core per node")
    plain = cluster_cpu(False, args.nodes, args.seconds * 3)
    enc = cluster_cpu(True, args.nodes, args.seconds * 3)
    print(f"plaintext {plain * 100:.2f}%  encrypted {enc * 100:.2f}%  ratio {enc / plain:.2f}")


if __name__ == "__main__":
    main()
