"""Codec micro-benchmarks: encode/decode of every message kind, compounds, packet framing,
AES-GCM seal/open and LZW (``swimlib.wire``). Plain ``time.perf_counter`` loops, ops/s.

    python3 -m bench.codec_bench [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from swimlib.wire import codec, crypto
from swimlib.wire.compression import lzw_compress, lzw_decompress
from swimlib.wire.keyring import Keyring
from swimlib.wire.messages import (
    Ack,
    Alive,
    Dead,
    IndirectPing,
    Nack,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
    User,
)
from swimlib.wire.packet import PacketFramer, unpack_messages

KEY = bytes(range(32))
NONCE = bytes(12)
ADDR = bytes((127, 0, 0, 1))
VSN = bytes((1, 5, 2, 0, 0, 0))


def messages() -> dict[str, Any]:
    """One representative message of each kind (names as long as real node names)."""
    states = tuple(
        PushNodeState(f"node-{i:04d}-abcdef", ADDR, 7946 + i, b"", i, 0, VSN) for i in range(60)
    )
    return {
        "ping": Ping(1234, "node-0001-abcdef", ADDR, 7946, "node-0002-abcdef"),
        "indirect_ping": IndirectPing(
            1234, ADDR, 7947, "node-0001-abcdef", True, ADDR, 7946, "node-0002-abcdef"
        ),
        "ack": Ack(1234),
        "nack": Nack(1234),
        "suspect": Suspect(7, "node-0001-abcdef", "node-0002-abcdef"),
        "alive": Alive(7, "node-0001-abcdef", ADDR, 7946, b"role=web", VSN),
        "dead": Dead(7, "node-0001-abcdef", "node-0002-abcdef"),
        "user_100B": User(b"x" * 100),
        "push_pull_60": PushPull(False, states),
    }


def timeit(fn: Callable[[], object], seconds: float) -> float:
    """ops/s of ``fn`` over about ``seconds`` (calibrated batches)."""
    fn()
    batch = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        dt = time.perf_counter() - t0
        if dt >= seconds / 10 or batch >= 1 << 22:
            break
        batch *= 4
    rounds = max(1, int(seconds / max(dt, 1e-9)))
    best = dt / batch
    for _ in range(min(rounds, 9)):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        best = min(best, (time.perf_counter() - t0) / batch)
    return 1.0 / max(best, 1e-9)


def cases() -> dict[str, Callable[[], object]]:
    out: dict[str, Callable[[], object]] = {}
    for name, msg in messages().items():
        data = codec.encode(msg)
        out[f"encode {name}"] = partial(codec.encode, msg)
        if name == "push_pull_60":
            out[f"decode {name}"] = partial(codec.decode_push_pull, data)
        else:
            out[f"decode {name}"] = partial(codec.decode, data)
    gossip = [
        codec.encode(Alive(i, f"node-{i:04d}-abcdef", ADDR, 7946, b"", VSN)) for i in range(12)
    ]
    compound = codec.make_compound(gossip)
    out["make_compound 12 alive"] = lambda: codec.make_compound(gossip)
    out["decode_compound 12 alive"] = lambda: codec.decode_compound(compound)
    out["unpack_messages compound 12"] = lambda: unpack_messages(compound)
    plain = PacketFramer(compression=False)
    lzw = PacketFramer(compression=True)
    enc = PacketFramer(compression=False, keyring=Keyring([KEY]))
    ping = codec.encode(messages()["ping"])
    for label, framer in (("plain", plain), ("lzw", lzw), ("aes-gcm", enc)):
        for what, data in (("ping", ping), ("compound", compound)):
            sealed = framer.seal(data, False, NONCE)
            out[f"framer seal {label} {what}"] = partial(framer.seal, data, False, NONCE)
            out[f"framer open {label} {what}"] = partial(framer.open, sealed)
    for size in (100, 1400):
        body = b"y" * size
        sealed_b = crypto.seal(KEY, body, NONCE, b"")
        out[f"crypto seal {size}B"] = partial(crypto.seal, KEY, body, NONCE, b"")
        out[f"crypto open {size}B"] = partial(crypto.open_sealed, [KEY], sealed_b, b"")
    packed = lzw_compress(compound)
    out[f"lzw compress {len(compound)}B"] = lambda: lzw_compress(compound)
    out[f"lzw decompress {len(compound)}B"] = lambda: lzw_decompress(packed)
    return out


def run(seconds: float = 0.3) -> dict[str, Any]:
    """ops/s for every case; a case that fails records its error instead."""
    results: dict[str, Any] = {}
    try:
        all_cases = cases()
    except Exception as err:  # the codec API moved: report, do not crash the whole run
        return {"error": f"{type(err).__name__}: {err}"}
    for name, fn in all_cases.items():
        try:
            results[name] = round(timeit(fn, seconds))
        except Exception as err:
            results[name] = f"error: {type(err).__name__}: {err}"
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=0.5, help="time per case")
    args = ap.parse_args()
    for name, value in run(args.seconds).items():
        if isinstance(value, int):
            print(f"{name:40s} {value:>12,} ops/s  {1e6 / value:9.2f} us/op")
        else:
            print(f"{name:40s} {value}")


if __name__ == "__main__":
    main()
