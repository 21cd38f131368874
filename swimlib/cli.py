"""The ``swimlib`` command line: debug tools for memberlist traffic, and a small agent.

    swimlib debug codec [HEX ...] [--file F] [--stream] [--key K ...] [--label L] [--json]
    swimlib debug codec --sample KIND|all [--stream] [--key K] [--label L]
    swimlib debug recv --bind 127.0.0.1:PORT [--tcp] [--ack] [--count N] [--seconds S]
    swimlib debug ping HOST:PORT [--name NODE] [--timeout S] [--count N] [--key K] [--label L]
    swimlib agent --name N --bind 127.0.0.1:PORT [--join HOST:PORT ...] [--seconds S]

Keys are standard base64 with padding (as serf's ``-encrypt`` and the Go peer's ``-key``) or
``hex:<hex digits>``; the first one is the primary. Labels are text. Every command exits 0 on
success and 1 on failure (bad input, bytes that do not decode, a timeout), printing a one-line
``error: ...`` on stderr rather than a traceback; usage errors exit 2.

Messages print one per line with memberlist's type and field names (``ping SeqNo=7
Node="go-1" ...``), below one line per layer (label, encryption, CRC, compression, compound);
``--json`` prints one JSON object per packet instead.

This module is the argparse front end; the commands live in :mod:`swimlib.tools`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable

from swimlib.tools.agent_cmd import cmd_agent
from swimlib.tools.codec_cmd import STREAM_SAMPLES, UDP_SAMPLES, cmd_codec
from swimlib.tools.common import CliError, err
from swimlib.tools.ping_cmd import cmd_ping
from swimlib.tools.recv_cmd import cmd_recv

log = logging.getLogger("swimlib")


# --------------------------------------------------------------------------- parser


def _add_crypto(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="K",
        help="AES key: standard base64 or hex:<digits>; repeat for a keyring (first = primary)",
    )
    p.add_argument("--label", default="", metavar="L", help="cluster label")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swimlib",
        description="swimlib: memberlist-compatible SWIM membership tools.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    debug = sub.add_parser(
        "debug",
        help="inspect memberlist traffic",
        description="Debug tools for memberlist traffic (Go or Python).",
    )
    dsub = debug.add_subparsers(dest="tool", metavar="TOOL")

    c = dsub.add_parser(
        "codec",
        help="decode packets or stream messages from hex; print samples",
        description="Decode memberlist packets (label, encryption, CRC, compression, "
        "compound) or, with --stream, TCP stream messages; or print encoded "
        "samples with --sample.",
    )
    c.add_argument("hex", nargs="*", metavar="HEX", help="a packet in hex")
    c.add_argument(
        "--file",
        metavar="F",
        help="hex packets, one per line (# comments and blank lines skipped; - = stdin)",
    )
    c.add_argument(
        "--stream",
        action="store_true",
        help="inputs are TCP stream messages (as written by one side)",
    )
    c.add_argument(
        "--sample",
        metavar="KIND",
        help=f"print encoded samples: all, or one of {', '.join(UDP_SAMPLES)}; "
        f"with --stream: {', '.join(STREAM_SAMPLES)}",
    )
    c.add_argument("--json", action="store_true", help="one JSON object per input")
    _add_crypto(c)
    c.set_defaults(func=cmd_codec)

    r = dsub.add_parser(
        "recv",
        help="bind a port and print every packet received",
        description="Bind UDP (and TCP with --tcp) and print every received "
        "packet or stream message decoded.",
    )
    r.add_argument(
        "--bind",
        required=True,
        metavar="HOST:PORT",
        help="address to bind, e.g. 127.0.0.1:7946 (port 0: any free port)",
    )
    r.add_argument(
        "--tcp",
        action="store_true",
        help="also accept TCP, reading one stream message per connection",
    )
    r.add_argument(
        "--ack",
        action="store_true",
        help="answer pings (UDP and TCP) with acks, as a memberlist node would",
    )
    r.add_argument("--name", default="", help="with --ack, ignore pings naming another node")
    r.add_argument("--count", type=int, metavar="N", help="stop after N packets/messages")
    r.add_argument(
        "--seconds", type=float, default=60.0, metavar="S", help="stop after S seconds (default 60)"
    )
    r.add_argument("--hex", action="store_true", help="also print the raw bytes in hex")
    r.add_argument("--json", action="store_true", help="one JSON object per packet")
    _add_crypto(r)
    r.set_defaults(func=cmd_recv)

    p = dsub.add_parser(
        "ping",
        help="send memberlist pings to a node and wait for acks",
        description="Send memberlist UDP ping(s) to any memberlist node and "
        "print the ack and round-trip time; exit 1 on timeout.",
    )
    p.add_argument("target", metavar="HOST:PORT")
    p.add_argument(
        "--name",
        default="",
        help="the ping's Node field (memberlist ignores pings naming another node; "
        "empty is always accepted)",
    )
    p.add_argument(
        "--source-node", default="swimlib-ping", metavar="NAME", help="the ping's SourceNode field"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds to wait for each ack (default 1)",
    )
    p.add_argument("--count", type=int, default=1, metavar="N", help="pings to send")
    p.add_argument(
        "--interval", type=float, default=0.2, metavar="S", help="pause between pings (default 0.2)"
    )
    p.add_argument("--json", action="store_true", help="JSON lines")
    _add_crypto(p)
    p.set_defaults(func=cmd_ping)

    a = sub.add_parser(
        "agent",
        help="run a node and print its events",
        description="Run one swimlib node, print membership events and "
        "messages; commands on stdin: broadcast TEXT, send NODE "
        "TEXT, members, leave, quit (or the Go peer's JSON).",
    )
    a.add_argument("--name", required=True, help="node name")
    a.add_argument(
        "--bind",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="bind address (default 127.0.0.1:0)",
    )
    a.add_argument("--join", action="append", default=[], metavar="HOST:PORT", help="seed")
    a.add_argument("--preset", choices=("local", "lan", "wan"), default="local")
    a.add_argument("--meta", default="", help="node metadata (text)")
    a.add_argument(
        "--seconds",
        type=float,
        default=600.0,
        metavar="S",
        help="exit after S seconds (default 600)",
    )
    a.add_argument("--no-stdin", action="store_true", help="do not read commands from stdin")
    a.add_argument(
        "--no-leave",
        dest="leave_on_exit",
        action="store_false",
        help="exit without a graceful leave",
    )
    a.add_argument("--json", action="store_true", help="JSON lines")
    _add_crypto(a)
    a.set_defaults(func=cmd_agent)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``swimlib`` and ``python -m swimlib``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG,
            stream=sys.stderr,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
    try:
        return func(args)
    except CliError as exc:
        err(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except Exception as exc:  # a bug, not bad input: still one line unless -v asks for more
        if args.verbose:
            log.exception("swimlib %s failed", args.command)
        err(f"error: internal error: {type(exc).__name__}: {exc} (run with -v for details)")
        return 1


def _quiet_stdout() -> None:
    """After a broken pipe (e.g. ``| head``), send further output to /dev/null."""
    with contextlib.suppress(Exception):  # stdout's reader went away: exit quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
