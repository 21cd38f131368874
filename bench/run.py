"""``python3 -m bench``: the whole comparison, written to ``bench/results/``.

Modes: ``--quick`` (CI smoke: tiny sizes, seconds), ``--medium`` (N = 10, 30), default full
(N = 10, 30, 60; about 30 minutes). ``--long`` makes the largest-cluster soak 5 minutes per
step instead of 60 s. Prepares first (pip-installs matplotlib and the Python alternatives,
builds the Go node), then, when it can, re-runs itself in a private network namespace
(``unshare -n``) so loopback byte counters see only the benchmark's own traffic.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.scenarios import (
    Settings,
    bcast_throughput,
    cluster_run,
    direct_throughput,
    soak,
)

RESULTS = procs.ROOT / "bench" / "results"
PIP_PACKAGES = ["matplotlib", "kinship", "swim-protocol"]
ALL_SYSTEMS = ["swimlib", "memberlist", "kinship", "swim-protocol"]


def settings_for(args: argparse.Namespace) -> Settings:
    systems = args.systems.split(",") if args.systems else list(ALL_SYSTEMS)
    if args.quick:
        st = Settings(
            mode="quick",
            systems=systems,
            presets=["local"],
            sizes=[4],
            alt_sizes=[4],
            reps=1,
            bcast_reps=1,
            settle=0.5,
            idle_window=2.0,
            tput_duration=0.5,
            tput_start=2000.0,
            tput_max=2000.0,
            bcast_cluster=3,
            bcast_start=20.0,
            bcast_max=20.0,
            bcast_drain=3.0,
            largest_window=0.0,
            codec_seconds=0.05,
            encrypted=False,
        )
    elif args.medium:
        st = Settings(
            mode="medium",
            systems=systems,
            sizes=[10, 30],
            alt_sizes=[10, 30],
            reps=2,
            bcast_reps=2,
            idle_window=10.0,
            tput_duration=1.5,
            largest_window=30.0,
            largest_ladder={"swimlib": [50, 100], "memberlist": [100, 150]},
            codec_seconds=0.2,
        )
    else:
        st = Settings(
            mode="full",
            systems=systems,
            largest_window=300.0 if args.long else 60.0,
            idle_window=12.0,
            alt_sizes=[10, 30],
            reps=8,
            reps_by_size={10: 5},
            conv_reps={10: 15, 30: 5, 60: 3},
            bcast_reps=2,
            largest_ladder={"swimlib": [100, 150], "memberlist": [100, 150]},
        )
    if args.sizes:
        st.sizes = st.alt_sizes = [int(x) for x in args.sizes.split(",")]
    if args.presets:
        st.presets = args.presets.split(",")
    if args.reps:
        st.reps = st.bcast_reps = args.reps
        st.reps_by_size = {}
        st.conv_reps = {n: args.reps for n in st.sizes}
    if args.largest:
        ladder = [int(x) for x in args.largest.split(",")]
        st.largest_ladder = {"swimlib": ladder, "memberlist": ladder}
    if args.largest_window:
        st.largest_window = args.largest_window
    return st


# --------------------------------------------------------------------------- preparation


def find_go() -> str | None:
    go = shutil.which("go")
    if go is None and Path("/usr/local/go/bin/go").exists():
        go = "/usr/local/go/bin/go"
    return go


def prepare(install: bool, build_go: bool, log: Any) -> dict[str, Any]:
    """pip-install the optional packages and build the Go node (needs the network)."""
    info: dict[str, Any] = {}
    if install:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", *PIP_PACKAGES],
            capture_output=True,
            text=True,
            timeout=900,
        )
        info["pip"] = "ok" if proc.returncode == 0 else proc.stderr.strip()[-1000:]
        log(f"pip install {' '.join(PIP_PACKAGES)}: {info['pip'][:200]}")
    go = find_go()
    if not build_go:
        return info
    if go is None:
        info["go"] = "Go not found"
    else:
        proc = subprocess.run(
            [go, "build", "-o", str(procs.GO_BIN), "."],
            cwd=procs.GO_DIR,
            capture_output=True,
            text=True,
            timeout=900,
        )
        info["go"] = "ok" if proc.returncode == 0 else proc.stderr.strip()[-2000:]
        version = subprocess.run([go, "version"], capture_output=True, text=True, timeout=60)
        info["go_version"] = version.stdout.strip()
    log(f"go build bench/go: {str(info['go'])[:200]}")
    return info


def bring_up_loopback() -> None:
    """``ip link set lo up`` without iproute2 (SIOCGIFFLAGS / SIOCSIFFLAGS)."""
    with socket.socket() as s:
        req = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req)[:18])[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))


def versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for mod, dist in (("swimlib", "swimlib"), ("kinship", "kinship"), ("sp", "swim-protocol")):
        code = f"import importlib.metadata as m; print(m.version({dist!r}))"
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        out[mod if mod != "sp" else "swim-protocol"] = (
            proc.stdout.strip() if proc.returncode == 0 else "not installed"
        )
    out["memberlist"] = "v0.7.0 (bench/go/go.mod)"
    out["python"] = platform.python_version()
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CI smoke: tiny sizes, < 60 s")
    mode.add_argument("--medium", action="store_true", help="N = 10, 30; about 10 minutes")
    ap.add_argument("--long", action="store_true", help="largest-cluster soak: 5 min per step")
    ap.add_argument("--out", default=str(RESULTS), help="results directory")
    ap.add_argument("--systems", default="", help=f"comma list from {','.join(ALL_SYSTEMS)}")
    ap.add_argument("--sizes", default="", help="override cluster sizes, e.g. 10,30")
    ap.add_argument("--presets", default="", help="override presets, e.g. lan")
    ap.add_argument("--reps", type=int, default=0, help="override repetitions")
    ap.add_argument("--largest", default="", help="override the largest-cluster ladder")
    ap.add_argument("--largest-window", type=float, default=0.0, help="soak seconds per step")
    ap.add_argument(
        "--only",
        default="",
        help="comma list of parts: clusters,direct,broadcast,largest,codec (default: all)",
    )
    ap.add_argument("--no-install", action="store_true", help="do not pip-install anything")
    ap.add_argument("--no-netns", action="store_true", help="stay in this network namespace")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    ap.add_argument("--seed", type=int, default=1, help="random seed (victims, origins)")
    ap.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    if not args.in_netns:
        systems = args.systems.split(",") if args.systems else ALL_SYSTEMS
        prep = prepare(
            install=not args.no_install and not args.quick,
            build_go="memberlist" in systems,
            log=log,
        )
        (out_dir / ".prepare.json").write_text(json.dumps(prep))
        unshare = shutil.which("unshare")
        if not args.no_netns and unshare and os.geteuid() == 0:
            argv2 = [a for a in (argv if argv is not None else sys.argv[1:])]
            cmd = [unshare, "-n", sys.executable, "-m", "bench", "--in-netns", *argv2]
            probe = subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=30)
            if probe.returncode == 0:
                log("re-running inside a private network namespace (unshare -n)")
                return subprocess.call(cmd, cwd=procs.ROOT)
            log("unshare -n not permitted here; running in the host namespace")
    netns = False
    if args.in_netns:
        bring_up_loopback()
        netns = True
        if not procs.install_protocol_counters():
            log("iptables unavailable: loopback bytes are reported as one total")
    return run(args, out_dir, netns, log)


def run(args: argparse.Namespace, out_dir: Path, netns: bool, log: Any) -> int:
    st = settings_for(args)
    st.netns = netns
    parts = set(args.only.split(",")) if args.only else {
        "clusters", "direct", "broadcast", "largest", "codec"
    }  # fmt: skip
    if st.mode == "quick":
        parts.discard("largest")
    prep_file = out_dir / ".prepare.json"
    prep = json.loads(prep_file.read_text()) if prep_file.exists() else {}
    with contextlib.suppress(OSError):
        prep_file.unlink()
    log_dir = Path(tempfile.mkdtemp(prefix="swimlib-bench-"))
    st.log_dir = log_dir
    started = time.time()
    t_start = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            "mode": st.mode,
            "command": "python3 -m bench " + " ".join(sys.argv[1:]).replace("--in-netns", ""),
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "cpus": os.cpu_count(),
            "loadavg_at_start": os.getloadavg(),
            "netns": netns,
            "versions": versions(),
            "prepare": prep,
            "settings": {
                k: v for k, v in vars(st).items() if k not in ("log_dir",) and not callable(v)
            },
        },
        "systems": {},
        "clusters": [],
        "direct": [],
        "broadcast": [],
        "largest": [],
        "codec": {},
    }
    systems: list[procs.System] = []
    for name in st.systems:
        system = procs.SYSTEMS[name]
        system.unavailable = procs.check_available(system)
        results["systems"][name] = {
            "available": not system.unavailable,
            "unavailable": system.unavailable,
            "notes": system.notes,
            "direct": system.direct,
            "broadcast": system.broadcast,
            "encrypt": system.encrypt,
            "lifeguard": system.lifeguard,
        }
        if system.unavailable:
            log(f"{name}: unavailable: {system.unavailable}")
        else:
            systems.append(system)

    def save() -> None:
        results["meta"]["duration_s"] = round(time.monotonic() - t_start, 1)
        path = out_dir / "results.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1, default=str))
        tmp.replace(path)

    def attempt(label: str, fn: Any, *a: Any) -> Any:
        t0 = time.monotonic()
        load0 = os.getloadavg()[0]
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        try:
            res = fn(*a)
        except Exception as err:  # one failed measurement must not lose the others
            res = {"error": f"{type(err).__name__}: {err}"[:1000]}
        if isinstance(res, dict):
            # Other work on the machine skews every figure: keep the 1-minute load with it.
            res.setdefault("loadavg_1m", [round(load0, 2), round(os.getloadavg()[0], 2)])
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            used = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
            res.setdefault("harness_cpu_s", round(used, 2))
        log(f"{label}: {time.monotonic() - t0:.1f}s {short(res)}")
        return res

    seed = args.seed
    if "codec" in parts:
        from bench import codec_bench

        results["codec"] = attempt("codec", codec_bench.run, st.codec_seconds)
        save()
    if "clusters" in parts:
        for preset in st.presets:
            for system in systems:
                sizes = st.sizes if system.name in ("swimlib", "memberlist") else st.alt_sizes
                if system.name == "swim-protocol":
                    # It is CPU-heavy (about 5% of a core per node at N = 30) and does not
                    # converge beyond that on two cores: larger sizes only burn the budget.
                    sizes = [n for n in sizes if n <= 30]
                for n in sizes:
                    seed += 1
                    res = attempt(
                        f"cluster {system.name} {preset} N={n}", cluster_run, system, preset, n,
                        st, seed,
                    )  # fmt: skip
                    res.setdefault("system", system.name)
                    res.setdefault("preset", preset)
                    res.setdefault("n", n)
                    results["clusters"].append(res)
                    save()
    if "direct" in parts:
        for system in systems:
            if not system.direct:
                continue
            for enc in (False, True) if st.encrypted else (False,):
                if enc and not system.encrypt:
                    continue
                res = attempt(f"direct {system.name} enc={enc}", direct_throughput, system, enc, st)
                res.setdefault("system", system.name)
                res.setdefault("encrypted", enc)
                results["direct"].append(res)
                save()
    if "broadcast" in parts:
        for system in systems:
            if not system.broadcast:
                continue
            for enc in (False, True) if st.encrypted else (False,):
                if enc and not system.encrypt:
                    continue
                res = attempt(
                    f"broadcast {system.name} enc={enc}", bcast_throughput, system, enc, st
                )
                res.setdefault("system", system.name)
                res.setdefault("encrypted", enc)
                results["broadcast"].append(res)
                save()
    if "largest" in parts and st.largest_window > 0:
        for system in systems:
            for n in st.largest_ladder.get(system.name, []):
                res = attempt(f"largest {system.name} N={n}", soak, system, n, st)
                res.setdefault("system", system.name)
                res.setdefault("n", n)
                results["largest"].append(res)
                save()
                if not res.get("ok"):
                    break
    save()
    from bench import report

    report.write(results, out_dir, plots=not args.no_plots, log=log)
    log(f"done in {time.monotonic() - t_start:.0f}s; results in {out_dir}")
    shutil.rmtree(log_dir, ignore_errors=True)
    return 0


def short(res: Any) -> str:
    """One log line's worth of a result."""
    if not isinstance(res, dict):
        return ""
    if "error" in res:
        return f"ERROR {res['error'][:200]}"
    bits = []
    conv = res.get("convergence")
    if isinstance(conv, dict) and conv.get("all") is not None:
        bits.append(f"converge={conv['all']:.2f}s")
    det = res.get("detection") or []
    firsts = [d["first"] for d in det if d.get("first") is not None]
    alls = [d["all"] for d in det if d.get("all") is not None]
    if firsts:
        bits.append(f"detect first={sorted(firsts)} all={sorted(alls)}")
    idle = res.get("idle")
    if isinstance(idle, dict) and idle.get("cpu_pct_mean") is not None:
        bits.append(f"idle cpu={idle['cpu_pct_mean']:.2f}%/node")
    if "max_lossless_rate" in res:
        bits.append(f"max lossless={res['max_lossless_rate']}/s")
    if "ok" in res:
        bits.append(f"ok={res['ok']} fp={res.get('false_positives')}")
    return " ".join(bits)
