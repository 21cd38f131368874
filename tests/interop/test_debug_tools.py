"""The debug tools (``swimlib debug codec|recv|ping``, ``swimlib agent``) against Go memberlist.

``codec`` and ``ping`` run in-process through ``swimlib.cli.main``; ``recv`` and ``agent`` run
as ``python -m swimlib`` subprocesses because they must listen while a Go peer talks to them.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gopeer import GoPeer

import swimlib
from swimlib.cli import main

GoStart = Callable[..., GoPeer]
PyStart = Callable[..., swimlib.Cluster]

ROOT = Path(__file__).resolve().parents[2]
GOLDEN: list[dict[str, Any]] = json.loads(
    (ROOT / "tests" / "data" / "golden" / "captured.json").read_text()
)
KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
OTHER_KEY_B64 = base64.b64encode(bytes(range(100, 132))).decode()
# Go's Ping waits ProbeTimeout for the ack; give a Python subprocess ample time to answer.
SLOW_PROBE = ("-probe-timeout", "2s")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def key_args(rec: dict[str, Any]) -> list[str]:
    cfg = rec["config"]
    args = ["--label", cfg["label"]] if cfg["label"] else []
    if cfg["key_hex"]:
        args += ["--key", base64.b64encode(bytes.fromhex(cfg["key_hex"])).decode()]
    return args


# --------------------------------------------------------------------------- codec


def test_codec_decodes_every_go_capture(capsys: pytest.CaptureFixture[str]) -> None:
    """Every packet and stream Go wrote (plain, labelled, encrypted v0/v1, CRC, compressed,
    compound) decodes to the layers and message types the capture program recorded."""
    wrong = []
    for rec in GOLDEN:
        stream = ["--stream"] if rec["transport"] == "tcp" else []
        code, out, _ = run(capsys, "debug", "codec", "--json", *stream, *key_args(rec), rec["hex"])
        got = json.loads(out)
        want_types = [m["type"] for m in rec["messages"] or []]
        if (
            code != 0
            or got["shape"] != rec["shape"]
            or [m["type"] for m in got["messages"]] != want_types
        ):
            wrong.append((rec["scenario"], rec["shape"], got["shape"], got["errors"]))
    assert not wrong, wrong[:5]
    assert len(GOLDEN) > 300


def test_codec_fields_match_go(capsys: pytest.CaptureFixture[str]) -> None:
    """Field values as Go recorded them, for a compound of alive messages behind every layer."""
    rec = next(
        r
        for r in GOLDEN
        if r["scenario"] == "encrypt_aes256_label"
        and r["shape"] == "label>encrypt(v1)>crc>compress>compound>{alive}"
    )
    code, out, _ = run(capsys, "debug", "codec", "--json", *key_args(rec), rec["hex"])
    assert code == 0
    got = json.loads(out)
    assert [layer["layer"] for layer in got["layers"]] == [
        "label",
        "encrypt(v1)",
        "crc",
        "compress",
        "compound",
    ]
    for mine, go in zip(got["messages"], rec["messages"], strict=True):
        assert mine["Node"] == go["Node"]
        assert mine["Incarnation"] == go["Incarnation"]
        assert mine["Port"] == go["Port"]
        assert mine["Addr"] == "127.0.0.1" and go["Addr"] == "7f000001"
        assert mine["Meta"] == go["Meta"]

    code, out, _ = run(capsys, "debug", "codec", *key_args(rec), rec["hex"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("packet 1: ") and lines[0].endswith(rec["shape"])
    assert '  label "golden-label"' in lines
    assert any(line.startswith("  encrypt v1,") and "(AES-256)" in line for line in lines)
    alive = [line.strip() for line in lines if line.strip().startswith("alive ")]
    assert len(alive) == len(rec["messages"])
    assert all("Incarnation=" in a and 'Node="node-' in a and "Addr=127.0.0.1" in a for a in alive)


def test_codec_reads_a_file_of_packets(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plain = [r for r in GOLDEN if r["transport"] == "udp" and not r["config"]["key_hex"]]
    plain = [r for r in plain if not r["config"]["label"]][:20]
    f = tmp_path / "packets.txt"
    lines = ["# captured from Go memberlist", ""]
    for r in plain:
        lines += [f"# {r['shape']}", r["hex"], "   "]
    f.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "debug", "codec", "--file", str(f))
    assert code == 0, err
    headers = [line for line in out.splitlines() if line.startswith("packet ")]
    assert len(headers) == len(plain)
    for header, r in zip(headers, plain, strict=True):
        assert header.endswith(r["shape"])


def test_codec_decodes_go_streams_in_text(capsys: pytest.CaptureFixture[str]) -> None:
    rec = next(
        r
        for r in GOLDEN
        if r["transport"] == "tcp" and r["shape"] == "label>encrypt(v1)>compress>{pushPull(join)}"
    )
    code, out, _ = run(capsys, "debug", "codec", "--stream", *key_args(rec), rec["hex"])
    assert code == 0
    assert "pushPull Join=true" in out
    assert "pushNodeState Name=" in out and "State=0(alive)" in out


@pytest.mark.parametrize(
    "opts",
    [
        [],
        ["--label", "lab"],
        ["--key", KEY_B64],
        ["--key", KEY_B64, "--label", "lab"],
        ["--key", "hex:" + bytes(range(16)).hex()],
    ],
    ids=["plain", "label", "aes256", "aes256-label", "aes128-hex"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["udp", "tcp"])
def test_samples_round_trip_through_codec(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, opts: list[str], stream: bool
) -> None:
    mode = ["--stream"] if stream else []
    code, samples, _ = run(capsys, "debug", "codec", "--sample", "all", *mode, *opts)
    assert code == 0
    comments = [line for line in samples.splitlines() if line.startswith("# ")]
    assert len(comments) == (6 if stream else 12)
    f = tmp_path / "samples.txt"
    f.write_text(samples)
    code, out, err = run(capsys, "debug", "codec", "--json", "--file", str(f), *mode, *opts)
    assert code == 0, err
    decoded = [json.loads(line) for line in out.splitlines()]
    assert len(decoded) == len(comments)
    for comment, rep in zip(comments, decoded, strict=True):
        kind, shape = comment[2:].split(": ")[:2]
        assert rep["shape"] == shape, kind
        assert rep["errors"] == [] and rep["notes"] == []
        if "--label" in opts:
            assert rep["layers"][0] == {"layer": "label", "label": "lab"}
        if "--key" in opts:
            assert any(layer["layer"] == "encrypt(v1)" for layer in rep["layers"])


def test_samples_are_accepted_by_go(go_peer: GoStart, capsys: pytest.CaptureFixture[str]) -> None:
    """Sample packets sent to a real Go node: it takes the alive (a new member) and the user
    messages (plain, with our envelope, and inside a compound)."""
    g = go_peer("go-1", "-key", KEY_B64, "-label", "lab")
    packets = []
    for kind in ("alive", "user", "envelope", "compound"):
        code, out, _ = run(
            capsys, "debug", "codec", "--sample", kind, "--key", KEY_B64, "--label", "lab"
        )
        assert code == 0
        packets.append(bytes.fromhex(out.splitlines()[-1]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for p in packets:
            s.sendto(p, ("127.0.0.1", g.port))
    g.wait_for(lambda e: e["event"] == "join" and e["node"]["name"] == "node-a", 10)
    g.wait_for(lambda e: e["event"] == "message" and e["payload_text"] == "hello from swimlib", 10)
    env = g.wait_for(lambda e: e["event"] == "message" and e.get("topic") == "news", 10)
    assert env["payload_text"] == "hello with a topic" and env["origin"] == "node-a"


BAD_INPUT = [
    (["zz"], "argument 1: not hex"),
    (["abc"], "odd number of hex digits"),
    (["0xff00"], "unknown message type byte"),
    (["0082a4"], "not valid msgpack"),
    (["070100050b81"], "compound message cut short"),
    (["0c00000000" + "0b81a55365714e6f02"], "CRC mismatch"),
    (["f405676f"], "malformed label header"),
    (["--key", "not base64!", "00"], "--key #1"),
    (["--key", "hex:0011", "00"], "--key #1"),
    (["--key", OTHER_KEY_B64, "01" + "00" * 40], "decryption failed"),
    (["--stream", "0a000000ff00"], "stream ends in the middle"),
    (["--stream", "0a00000010" + "00" * 16], "the stream is encrypted: pass --key"),
    (["--file", "/nonexistent/packets.txt"], "cannot read /nonexistent/packets.txt"),
    (["--sample", "bogus"], "unknown sample kind 'bogus'"),
    (["--sample", "ping", "00"], "cannot be combined"),
    ([], "nothing to decode"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_codec_bad_input_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "debug", "codec", *argv)
    assert code == 1
    assert message in out + err
    assert "error: " in err
    assert "Traceback" not in out + err


def test_codec_bad_line_in_file_names_the_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "p.txt"
    f.write_text("# ok\n0b81a55365714e6f02\n\nnot hex at all\n")
    code, _, err = run(capsys, "debug", "codec", "--file", str(f))
    assert code == 1
    assert f"{f}:4: not hex" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["debug", "ping"]) == 2
    assert main(["debug", "recv"]) == 2
    assert main([]) == 2
    assert main(["--help"]) == 0
    capsys.readouterr()


# --------------------------------------------------------------------------- ping


def test_ping_go_peer(go_peer: GoStart, capsys: pytest.CaptureFixture[str]) -> None:
    g = go_peer("go-1")
    code, out, err = run(capsys, "debug", "ping", g.address)
    assert code == 0, out + err
    assert f"ack from {g.address}: SeqNo=" in out
    rtt = float(out.split("rtt=")[1].split()[0])
    assert 0 < rtt < 1000
    # Node naming the target is accepted, naming another node is ignored by memberlist.
    assert run(capsys, "debug", "ping", g.address, "--name", "go-1")[0] == 0
    code, out, _ = run(capsys, "debug", "ping", g.address, "--name", "nobody", "--timeout", "0.3")
    assert code == 1 and "timeout: no ack" in out


def test_ping_go_peer_count_json(go_peer: GoStart, capsys: pytest.CaptureFixture[str]) -> None:
    g = go_peer("go-1")
    code, out, _ = run(
        capsys, "debug", "ping", g.address, "--count", "3", "--interval", "0.05", "--json"
    )
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    acks = [e for e in events if e["event"] == "ack"]
    assert len(acks) == 3 and all(a["rtt_ms"] > 0 and a["from"] == g.address for a in acks)
    assert len({a["seq_no"] for a in acks}) == 3
    assert events[-1] == {
        "event": "summary",
        "sent": 3,
        "acked": 3,
        "rtt_ms": [a["rtt_ms"] for a in acks],
    }


def test_ping_go_peer_with_label(go_peer: GoStart, capsys: pytest.CaptureFixture[str]) -> None:
    g = go_peer("go-1", "-label", "blue")
    code, out, _ = run(capsys, "debug", "ping", g.address, "--label", "blue")
    assert code == 0 and "rtt=" in out
    # Without the label (or with another one) Go drops the ping: a timeout.
    assert run(capsys, "debug", "ping", g.address, "--timeout", "0.3")[0] == 1
    assert run(capsys, "debug", "ping", g.address, "--label", "red", "--timeout", "0.3")[0] == 1


@pytest.mark.parametrize("label", ["", "blue"])
def test_ping_go_peer_with_encryption(
    go_peer: GoStart, capsys: pytest.CaptureFixture[str], label: str
) -> None:
    g = go_peer("go-1", "-key", KEY_B64, "-label", label)
    lab = ["--label", label] if label else []
    code, out, err = run(capsys, "debug", "ping", g.address, "--key", KEY_B64, *lab)
    assert code == 0, out + err
    assert "encrypted (AES-256)" in out and "rtt=" in out
    # A keyring whose primary is wrong still decrypts the ack with the second key, but Go
    # cannot read the ping: timeout. Plaintext is refused too.
    code, out, _ = run(
        capsys, "debug", "ping", g.address, "--key", OTHER_KEY_B64, *lab, "--timeout", "0.3"
    )
    assert code == 1
    assert run(capsys, "debug", "ping", g.address, *lab, "--timeout", "0.3")[0] == 1


def test_ping_closed_port_times_out(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    code, out, err = run(capsys, "debug", "ping", f"127.0.0.1:{port}", "--timeout", "0.5")
    elapsed = time.monotonic() - start
    assert code == 1
    assert "timeout: no ack" in out and "got no ack within 0.5 s" in err
    assert 0.45 <= elapsed < 2.0


def test_ping_python_node(py_node: PyStart, capsys: pytest.CaptureFixture[str]) -> None:
    p = py_node("py-1")
    code, out, _ = run(capsys, "debug", "ping", f"127.0.0.1:{p.port}", "--name", "py-1")
    assert code == 0 and "rtt=" in out
    code, _, _ = run(
        capsys, "debug", "ping", f"127.0.0.1:{p.port}", "--name", "py-2", "--timeout", "0.3"
    )
    assert code == 1


def test_ping_bad_target(capsys: pytest.CaptureFixture[str]) -> None:
    for target, msg in (
        ("127.0.0.1", "expected HOST:PORT"),
        ("127.0.0.1:x", "bad port"),
        ("127.0.0.1:0", "out of range"),
    ):
        code, _, err = run(capsys, "debug", "ping", target)
        assert code == 1 and msg in err


# --------------------------------------------------------------------------- recv


class Proc:
    """``python -m swimlib ...`` with stdout lines collected by a thread."""

    def __init__(self, *argv: str, stdin: bool = False) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "swimlib", *argv],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, timeout: float = 10.0) -> str:
        line = self.lines.get(timeout=timeout)
        self.seen.append(line)
        return line

    def wait_line(self, pred: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(max(0.01, deadline - time.monotonic()))
            if pred(line):
                return line

    def write(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 15.0) -> tuple[int, list[str], str]:
        code = self.proc.wait(timeout)
        self._t.join(5)
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        return code, self.seen, err

    def kill(self) -> None:
        """Stop the process and close its pipes (also when a test failed before finish())."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._t.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def cli() -> Any:
    procs: list[Proc] = []

    def start(*argv: str, stdin: bool = False) -> Proc:
        p = Proc(*argv, stdin=stdin)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()


def start_recv(cli: Callable[..., Proc], *argv: str) -> tuple[Proc, int]:
    r = cli("debug", "recv", "--bind", "127.0.0.1:0", "--json", *argv)
    first = json.loads(r.next_line(20))
    assert first["event"] == "listening"
    return r, int(first["port"])


def test_recv_answers_a_go_ping(go_peer: GoStart, cli: Callable[..., Proc]) -> None:
    """Go memberlist's Ping() to `recv --ack`: recv prints the decoded Go packet, Go gets its
    ack and reports a round-trip time."""
    r, port = start_recv(cli, "--ack", "--count", "1", "--seconds", "20")
    g = go_peer("go-1", *SLOW_PROBE)
    g.send(cmd="ping", name="probe-target", addr=f"127.0.0.1:{port}")
    ev = g.wait_for(lambda e: e["event"] == "ping", 10)
    # memberlist's Ping() takes its start time *after* the send returns, so on loopback a fast
    # ack can yield a slightly negative RTT; what matters is that an ack came back in time.
    assert ev["error"] is None and ev["rtt_ms"] is not None and -50 < ev["rtt_ms"] < 1000
    code, lines, err = r.finish()
    assert code == 0, err
    packets = [json.loads(line) for line in lines if '"packet"' in line]
    assert len(packets) == 1
    pings = [m for m in packets[0]["messages"] if m["type"] == "ping"]
    assert pings == [
        {
            "type": "ping",
            "SeqNo": pings[0]["SeqNo"],
            "Node": "probe-target",
            "SourceAddr": "127.0.0.1",
            "SourcePort": g.port,
            "SourceNode": "go-1",
        }
    ]
    assert packets[0]["from"] == g.address
    acks = [json.loads(line) for line in lines if '"ack_sent"' in line]
    assert acks == [{"event": "ack_sent", "seq_no": pings[0]["SeqNo"], "to": g.address}]


def test_recv_without_ack_go_ping_times_out(go_peer: GoStart, cli: Callable[..., Proc]) -> None:
    r, port = start_recv(cli, "--count", "1", "--seconds", "20")
    g = go_peer("go-1")
    g.send(cmd="ping", name="x", addr=f"127.0.0.1:{port}")
    ev = g.wait_for(lambda e: e["event"] == "ping", 10)
    assert ev["rtt_ms"] is None and ev["error"]
    code, lines, _ = r.finish()
    assert code == 0
    assert any('"type": "ping"' in line for line in lines)


def test_recv_decrypts_go_traffic(go_peer: GoStart, cli: Callable[..., Proc]) -> None:
    """Encrypted, labelled: a Go ping (UDP) and a Go join (TCP push/pull stream)."""
    r, port = start_recv(
        cli,
        "--tcp",
        "--ack",
        "--key",
        KEY_B64,
        "--label",
        "lab",
        "--count",
        "2",
        "--seconds",
        "20",
    )
    g = go_peer("go-1", "-key", KEY_B64, "-label", "lab", *SLOW_PROBE)
    g.send(cmd="ping", name="x", addr=f"127.0.0.1:{port}")
    ev = g.wait_for(lambda e: e["event"] == "ping", 10)
    assert ev["error"] is None, ev
    g.send(cmd="join", seeds=[f"127.0.0.1:{port}"])
    joined = g.wait_for(lambda e: e["event"] == "joined", 10)
    assert joined["n"] == 0  # recv does not answer push/pull
    code, lines, err = r.finish()
    assert code == 0, err
    reports = [json.loads(line) for line in lines if '"shape"' in line]
    assert len(reports) == 2
    udp, tcp = reports
    assert udp["transport"] == "udp" and udp["shape"].startswith("label>encrypt(v1)>")
    assert "ping" in udp["shape"]
    assert tcp["transport"] == "tcp"
    assert tcp["shape"] == "label>encrypt(v1)>compress>{pushPull(join)}"
    (pp,) = tcp["messages"]
    assert pp["Join"] is True
    assert [s["Name"] for s in pp["states"]] == ["go-1"]
    assert pp["states"][0]["Port"] == g.port and pp["states"][0]["StateName"] == "alive"


def test_recv_text_output_and_debug_ping(cli: Callable[..., Proc]) -> None:
    """`debug ping` to `debug recv --ack`, both from the command line, in text mode."""
    r = cli(
        "debug",
        "recv",
        "--bind",
        "127.0.0.1:0",
        "--ack",
        "--count",
        "1",
        "--seconds",
        "20",
        "--hex",
    )
    first = r.next_line(20)
    assert first.startswith("listening on 127.0.0.1:")
    port = int(first.split()[2].rsplit(":", 1)[1])
    ping = cli("debug", "ping", f"127.0.0.1:{port}", "--timeout", "5", "--source-node", "cli")
    code, out, err = ping.finish()
    assert code == 0, err
    assert any(line.startswith(f"ack from 127.0.0.1:{port}: SeqNo=") for line in out)
    code, lines, err = r.finish()
    assert code == 0, err
    assert lines[1].startswith("udp from 127.0.0.1:") and lines[1].endswith("bytes, {ping}")
    assert lines[2].startswith("  ping SeqNo=") and 'SourceNode="cli"' in lines[2]
    assert lines[3].startswith("  hex 00")
    assert lines[4].startswith("  -> ack SeqNo=")


def test_recv_answers_a_tcp_ping(
    cli: Callable[..., Proc], capsys: pytest.CaptureFixture[str]
) -> None:
    """A stream ping (memberlist's TCP fallback probe), encrypted and labelled, gets an ack
    on the same connection."""
    opts = ["--key", KEY_B64, "--label", "lab"]
    r, port = start_recv(cli, "--tcp", "--ack", *opts, "--count", "1", "--seconds", "20")
    code, out, _ = run(capsys, "debug", "codec", "--sample", "ping", "--stream", *opts)
    assert code == 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(bytes.fromhex(out.splitlines()[-1]))
        reply = b""
        while len(reply) < 5 or len(reply) < 5 + int.from_bytes(reply[1:5], "big"):
            chunk = s.recv(4096)
            assert chunk, "connection closed before a whole ack arrived"
            reply += chunk
    # The listener writes no label header; the label is still the encryption AAD.
    code, out, _ = run(capsys, "debug", "codec", "--stream", "--json", *opts, reply.hex())
    got = json.loads(out)
    assert got["shape"] == "encrypt(v1)>{ack}" and got["messages"][0]["SeqNo"] == 1
    code, lines, _ = r.finish()
    assert code == 0
    assert any('"ack_sent"' in line for line in lines)


def test_recv_times_out(cli: Callable[..., Proc]) -> None:
    start = time.monotonic()
    r = cli("debug", "recv", "--bind", "127.0.0.1:0", "--count", "1", "--seconds", "0.5")
    code, _, err = r.finish()
    assert code == 1 and "received 0 of 1" in err
    assert time.monotonic() - start < 10


def test_recv_reports_undecodable_packets(cli: Callable[..., Proc]) -> None:
    r, port = start_recv(cli, "--count", "2", "--seconds", "20")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\xff\x00garbage", ("127.0.0.1", port))
        s.sendto(bytes.fromhex("0b81a55365714e6f02"), ("127.0.0.1", port))
    code, lines, _ = r.finish()
    assert code == 0
    bad, nack = (json.loads(line) for line in lines[1:3])
    assert bad["errors"] and "unknown message type byte" in bad["errors"][0]
    assert nack["messages"] == [{"type": "nack", "SeqNo": 2}]


# --------------------------------------------------------------------------- agent


def test_agent_joins_go_and_exchanges_messages(go_peer: GoStart, cli: Callable[..., Proc]) -> None:
    g = go_peer("go-1")
    a = cli(
        "agent", "--name", "py-agent", "--join", g.address, "--json", "--seconds", "30", stdin=True
    )
    assert json.loads(a.next_line(20))["event"] == "start"
    assert json.loads(a.wait_line(lambda x: '"joined"' in x))["n"] == 1
    a.wait_line(lambda x: '"join"' in x and '"go-1"' in x)
    g.wait_for(lambda e: e["event"] == "join" and e["node"]["name"] == "py-agent", 10)
    a.write('{"cmd":"send","to":"go-1","payload":"hi go","topic":"t"}')
    g.wait_for(lambda e: e["event"] == "message" and e["payload_text"] == "hi go", 10)
    g.send(cmd="send", to="py-agent", payload="hi agent", topic="t", reliable=True)
    msg = json.loads(a.wait_line(lambda x: '"message"' in x))
    assert msg["from"] == "go-1" and msg["topic"] == "t" and msg["payload_text"] == "hi agent"
    a.write("quit")
    code, _, err = a.finish()
    assert code == 0, err
    left = g.wait_for(lambda e: e["event"] == "leave" and e["node"]["name"] == "py-agent", 10)
    assert left["node"]["state"] == "left"
