"""The measurements: one cluster lifecycle (convergence, idle cost, dissemination, failure
detection), message throughput, and the largest cluster without false positives.

Every wait is bounded by a deadline; every node is its own OS process on 127.0.0.1.
"""

from __future__ import annotations

import base64
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import noderun
from bench.procs import (
    NodeProc,
    System,
    cpu_seconds,
    loopback_counters,
    protocol_counters,
    rss_bytes,
    spawn,
    stop_all,
)

KEY = base64.b64encode(bytes(range(32))).decode()  # AES-256 / XChaCha20: 32 bytes for everyone
POLL = 0.1


@dataclass
class Settings:
    mode: str
    systems: list[str]
    presets: list[str] = field(default_factory=lambda: ["lan", "local"])
    sizes: list[int] = field(default_factory=lambda: [10, 30, 60])
    alt_sizes: list[int] = field(default_factory=lambda: [10, 30, 60])  # kinship, swim-protocol
    reps: int = 3  # kills per cluster
    # Kills per cluster by size where it differs from ``reps`` (the victims leave the cluster,
    # so small clusters get fewer).
    reps_by_size: dict[int, int] = field(default_factory=dict)
    # Convergence samples per cell by size, each in a freshly started cluster (default one).
    conv_reps: dict[int, int] = field(default_factory=dict)
    conv_cap: float = 8.0  # seconds an extra convergence sample may take (then: censored)
    bcast_reps: int = 3
    settle: float = 2.0
    idle_window: float = 15.0
    tput_duration: float = 2.0
    tput_start: float = 500.0
    tput_max: float = 64000.0
    bcast_cluster: int = 10
    bcast_start: float = 10.0
    bcast_max: float = 5000.0
    bcast_drain: float = 5.0
    largest_window: float = 60.0
    largest_ladder: dict[str, list[int]] = field(default_factory=dict)
    codec_seconds: float = 0.3
    encrypted: bool = True  # also measure throughput with encryption
    netns: bool = False
    log_dir: Path = Path("/tmp")


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None, "values": []}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": [round(v, 4) for v in values],
    }


def event_is(kind: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    """A node-event predicate: this ``ev`` with these field values."""
    return lambda e: e["ev"] == kind and all(e.get(k) == v for k, v in fields.items())


def suspicion_timeouts(preset: str, n: int) -> tuple[float, float]:
    """memberlist's (min, max) suspicion timeout for a cluster of ``n`` (suspicion.go)."""
    p = noderun.PRESETS[preset]
    base = p["suspicion_mult"] * max(1.0, math.log10(max(1, n))) * p["protocol_interval"]
    return base, base * p["suspicion_max_timeout_mult"]


# --------------------------------------------------------------------------- membership views


def join_all(
    nodes: list[NodeProc],
    system: System,
    timeout: float,
    batch: int = 0,
    retries: int = 0,
    gap: float = 0.25,
    spread_seeds: bool = False,
) -> dict[str, Any]:
    """Every node but the seed joins through node 0; time until every node sees all N.

    ``batch`` > 0 sends the joins in groups of that size, ``gap`` seconds apart (memberlist's
    seed accepts at most 128 concurrent push/pulls); ``spread_seeds`` lets each node join
    through a node of an earlier group instead of node 0; ``retries`` re-sends failed joins.
    The largest-cluster soak uses all three, as a real deployment with several seeds that
    retries its joins would; the convergence measurement uses none.
    """
    n = len(nodes)
    seed = nodes[0]
    marks = [node.mark() for node in nodes]
    for node in nodes:
        node.expect(n)
    names = {node.address: node.name for node in nodes}
    t0 = time.monotonic()
    if system.seed_needs_peer:
        seed.send(cmd="join", seeds=[nodes[1].address] if n > 1 else [], names=names)
    rng = random.Random(n)
    via: dict[str, NodeProc] = {}
    for i, node in enumerate(nodes[1:], start=1):
        earlier = (i - 1) // batch * batch if batch else 0  # nodes[0:earlier] joined already
        via[node.name] = nodes[rng.randrange(earlier)] if spread_seeds and earlier else seed
        node.send(cmd="join", seeds=[via[node.name].address], names=names)
        if batch and i % batch == 0:
            time.sleep(gap)
    deadline = t0 + timeout
    poll = POLL if n <= 60 else 0.5
    resent: dict[str, int] = {}
    while time.monotonic() < deadline:
        if all(node.full_at is not None for node in nodes):
            break
        if retries:
            for node, mark in zip(nodes[1:], marks[1:], strict=True):
                failed = node.select(lambda e: e["ev"] == "joined" and not e.get("n"), mark)
                if len(failed) > resent.get(node.name, 0) and resent.get(node.name, 0) < retries:
                    resent[node.name] = resent.get(node.name, 0) + 1
                    node.send(cmd="join", seeds=[via[node.name].address], names=names)
        time.sleep(poll)
    done = sorted(node.full_at - t0 for node in nodes if node.full_at is not None)
    join_errors = [
        e.get("error")
        for node, mark in zip(nodes, marks, strict=True)
        for e in node.select(lambda e: e["ev"] == "joined", mark)
    ]
    return {
        "converged": len(done) == n,
        "nodes_converged": len(done),
        "all": done[-1] if len(done) == n else None,
        "median_node": statistics.median(done) if done else None,
        "join_errors": [e for e in join_errors if e][:5],
        "join_errors_total": sum(1 for e in join_errors if e),
        "joins_resent": sum(resent.values()),
    }


# --------------------------------------------------------------------------- idle cost


def gather_stats(nodes: list[NodeProc], timeout: float = 15.0) -> dict[str, dict[str, Any]]:
    marks = {node.name: node.mark() for node in nodes}
    for node in nodes:
        node.send(cmd="stats")
    deadline = time.monotonic() + timeout
    out: dict[str, dict[str, Any]] = {}
    for node in nodes:
        ev = node.wait_for(
            lambda e: e["ev"] == "stats", max(0.1, deadline - time.monotonic()), marks[node.name]
        )
        if ev is not None:
            out[node.name] = ev
    return out


def idle_cost(nodes: list[NodeProc], window: float, netns: bool) -> dict[str, Any]:
    live = [n for n in nodes if n.alive]
    s0 = gather_stats(live)
    c0 = {n.name: cpu_seconds(n.pid) for n in live}
    lo0, pr0 = loopback_counters(), protocol_counters() if netns else None
    t0 = time.monotonic()
    time.sleep(window)
    dt = time.monotonic() - t0
    lo1, pr1 = loopback_counters(), protocol_counters() if netns else None
    c1 = {n.name: cpu_seconds(n.pid) for n in live}
    s1 = gather_stats(live)
    cpu = [
        100.0 * (c1[k] - c0[k]) / dt  # type: ignore[operator]
        for k in c0
        if c0[k] is not None and c1.get(k) is not None
    ]
    sent = [
        (s1[k]["udp_sent_bytes"] - s0[k]["udp_sent_bytes"]) / dt
        for k in s0
        if k in s1 and "udp_sent_bytes" in s0[k]
    ]
    pkts = [
        (s1[k]["udp_sent"] - s0[k]["udp_sent"]) / dt for k in s0 if k in s1 and "udp_sent" in s0[k]
    ]
    tcp = [
        (s1[k]["tcp_sent_bytes"] - s0[k]["tcp_sent_bytes"]) / dt
        for k in s0
        if k in s1 and "tcp_sent_bytes" in s0[k]
    ]
    rss = [r for r in (rss_bytes(n.pid) for n in live) if r is not None]
    # Lifeguard's health score (0 = healthy) at the end of the window, where the node reports
    # it: a loaded machine shows here first, as probes that time out stretch probe intervals.
    health = [int(s1[k]["health"]) for k in s1 if "health" in s1[k]]
    out: dict[str, Any] = {
        "window_s": round(dt, 2),
        "nodes": len(live),
        "cpu_pct": summary(cpu),
        "cpu_pct_mean": statistics.fmean(cpu) if cpu else None,
        "udp_bytes_per_s": summary(sent),
        "udp_bytes_per_s_mean": statistics.fmean(sent) if sent else None,
        "udp_packets_per_s_mean": statistics.fmean(pkts) if pkts else None,
        "tcp_bytes_per_s_mean": statistics.fmean(tcp) if tcp else None,
        "rss_mib_mean": statistics.fmean(rss) / 2**20 if rss else None,
        "health_max": max(health) if health else None,
        "health_unhealthy_nodes": sum(1 for h in health if h > 0) if health else None,
    }
    if netns:
        out["lo_bytes_per_s_per_node"] = (lo1[0] - lo0[0]) / dt / len(live)
        out["lo_packets_per_s_per_node"] = (lo1[1] - lo0[1]) / dt / len(live)
    if pr0 and pr1:
        for proto in ("udp", "tcp"):
            out[f"lo_{proto}_bytes_per_s_per_node"] = (
                (pr1[proto][1] - pr0[proto][1]) / dt / len(live)
            )
    return out


# --------------------------------------------------------------------------- dissemination


def disseminate(nodes: list[NodeProc], reps: int, timeout: float, rng: random.Random) -> list[Any]:
    results: list[dict[str, Any]] = []
    for _ in range(reps):
        live = [n for n in nodes if n.alive]
        origin = rng.choice(live)
        ident = rng.getrandbits(48)
        marks = {n.name: n.mark() for n in live}
        origin.send(cmd="bcast", id=ident)
        sent = origin.wait_for(event_is("bcast_sent", id=ident), 10, marks[origin.name])
        if sent is None:
            results.append({"error": "no bcast_sent"})
            continue
        t_sent = float(sent["t"])
        others = [n for n in live if n is not origin]
        got: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(got) < len(others):
            for n in others:
                if n.name not in got:
                    evs = n.select(event_is("bcast", id=ident), marks[n.name])
                    if evs:
                        got[n.name] = float(evs[0]["t"]) - t_sent
            time.sleep(POLL)
        times = sorted(got.values())
        results.append(
            {
                "receivers": len(others),
                "received": len(got),
                "all": times[-1] if len(got) == len(others) else None,
                "p50": times[len(times) // 2] if times else None,
                "last_seen": times[-1] if times else None,
            }
        )
        time.sleep(0.3)
    return results


# --------------------------------------------------------------------------- failure detection


def detect(
    nodes: list[NodeProc], reps: int, timeout: float, rng: random.Random
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for _ in range(reps):
        live = [n for n in nodes[1:] if n.alive]  # never the seed
        if len(live) < 3:
            break
        victim = rng.choice(live)
        survivors = [n for n in nodes if n.alive and n is not victim]
        marks = {n.name: n.mark() for n in survivors}
        t_kill = victim.kill()
        dead: dict[str, float] = {}
        suspect: dict[str, float] = {}
        deadline = t_kill + timeout
        while time.monotonic() < deadline and len(dead) < len(survivors):
            for n in survivors:
                if n.name in dead:
                    continue
                for e in n.select(event_is("member", node=victim.name), marks[n.name]):
                    if e["state"] == "suspect":
                        suspect.setdefault(n.name, float(e["t"]) - t_kill)
                    elif e["state"] in ("dead", "left"):
                        dead[n.name] = float(e["t"]) - t_kill
                        break
            time.sleep(POLL)
        d = sorted(dead.values())
        s = sorted(suspect.values())
        results.append(
            {
                "survivors": len(survivors),
                "declared": len(dead),
                "first": d[0] if d else None,
                "all": d[-1] if len(d) == len(survivors) else None,
                "first_suspect": s[0] if s else None,
            }
        )
        time.sleep(1.0)
    return results


def false_positives(nodes: list[NodeProc], since: dict[str, int] | None = None) -> dict[str, int]:
    """Dead (and suspect) verdicts about nodes that were alive at the time."""
    killed = {n.name: n.killed_at for n in nodes if n.killed_at is not None}
    dead = suspect = 0
    for n in nodes:
        for e in n.select(lambda e: e["ev"] == "member", (since or {}).get(n.name, 0)):
            at = killed.get(e["node"])
            wrongly = at is None or float(e["t"]) < at
            if wrongly and e["state"] == "dead":
                dead += 1
            elif wrongly and e["state"] == "suspect":
                suspect += 1
    return {"dead": dead, "suspect": suspect}


# --------------------------------------------------------------------------- cluster lifecycle


#: A join storm converges in a few gossip rounds unless some node misses an alive broadcast
#: (every node spent its retransmit limit elsewhere); that node then waits for a periodic
#: push/pull, seconds later. Both systems do this (same protocol and limits), so one sample is
#: one draw from a long-tailed distribution: several are taken, and this many seconds or more
#: counts as such a "slow" run in the report.
SLOW_CONVERGENCE = 1.0


def convergence_samples(
    system: System, preset: str, names: list[str], st: Settings
) -> list[dict[str, Any]]:
    """Extra convergence runs (``st.conv_reps`` for this size, less one), each in a freshly
    started cluster and given at most ``st.conv_cap`` seconds (a run that takes longer is
    kept as censored: it still counts, as larger than every finished run)."""
    samples = []
    for _ in range(st.conv_reps.get(len(names), 1) - 1):
        nodes = spawn(system, names, preset, "", st.log_dir)
        try:
            samples.append(join_all(nodes, system, timeout=st.conv_cap))
        finally:
            stop_all(nodes)
    return samples


def convergence_summary(runs: list[dict[str, Any]], cap: float) -> dict[str, Any]:
    """Median over every run (censored ones as +inf), min-max of the finished ones."""
    done = [float(c["all"]) for c in runs if c["converged"]]
    out = summary(done)
    out["runs"] = len(runs)
    out["censored"] = len(runs) - len(done)
    out["cap"] = cap
    out["slow"] = out["censored"] + sum(1 for v in done if v >= SLOW_CONVERGENCE)
    if out["censored"]:
        med = statistics.median(done + [math.inf] * out["censored"])
        out["median"] = None if math.isinf(med) else med  # JSON has no infinity
        out["median_above_cap"] = math.isinf(med)
    return out


def cluster_run(system: System, preset: str, n: int, st: Settings, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(n)]
    started = time.monotonic()
    extra = convergence_samples(system, preset, names, st)
    nodes = spawn(system, names, preset, "", st.log_dir)
    out: dict[str, Any] = {"system": system.name, "preset": preset, "n": n}
    try:
        out["spawn_s"] = round(time.monotonic() - started, 2)
        out["convergence"] = join_all(nodes, system, timeout=30 + n)
        out["convergence_samples"] = convergence_summary([*extra, out["convergence"]], st.conv_cap)
        if not out["convergence"]["converged"]:
            out["error"] = "did not converge"
            return out
        time.sleep(st.settle)
        out["idle"] = idle_cost(nodes, st.idle_window, st.netns)
        out["dissemination"] = disseminate(nodes, st.bcast_reps, 20.0, rng)
        _, tmax = suspicion_timeouts(preset, n)
        out["detection"] = detect(nodes, st.reps_by_size.get(n, st.reps), tmax + 15.0, rng)
        out["false_positives"] = false_positives(nodes)
    finally:
        stop_all(nodes)
        out["total_s"] = round(time.monotonic() - started, 2)
    return out


# --------------------------------------------------------------------------- throughput


def _pair(system: System, key: str, st: Settings) -> list[NodeProc]:
    nodes = spawn(system, ["tx", "rx"], "lan", key, st.log_dir)
    conv = join_all(nodes, system, timeout=30)
    if not conv["converged"]:
        stop_all(nodes)
        raise RuntimeError(f"{system.name}: pair did not converge")
    return nodes


def _direct_step(tx: NodeProc, rx: NodeProc, rate: float, duration: float) -> dict[str, Any]:
    before = rx.request_stats()
    m = tx.mark()
    tx.send(cmd="blast", kind="direct", to=rx.name, rate=rate, duration=duration, size=100)
    done = tx.wait_for(lambda e: e["ev"] == "blast_done", duration + 60, m)
    if done is None or "sent" not in done or before is None:
        return {"rate": rate, "error": "blast failed"}
    sent = int(done["sent"])
    got = 0
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:  # wait for the receiver to drain its queue
        time.sleep(0.3)
        after = rx.request_stats()
        if after is None:
            break
        new_got = after["recv_direct"] - before["recv_direct"]
        if new_got == got and new_got > 0:
            break
        got = new_got
        if got >= sent:
            break
    span = float(done["t1"]) - float(done["t0"])
    return {
        "rate": rate,
        "sent": sent,
        "received": got,
        "send_rate": sent / span if span > 0 else 0.0,
        "kept_up": rate <= 0 or sent >= 0.97 * rate * duration,
        "lost": max(0, sent - got),
        "errors": done.get("errors", 0),
    }


def direct_throughput(system: System, encrypted: bool, st: Settings) -> dict[str, Any]:
    nodes = _pair(system, KEY if encrypted else "", st)
    tx, rx = nodes
    tx_cpu0 = cpu_seconds(tx.pid)
    try:
        flat = _direct_step(tx, rx, 0, st.tput_duration)
        flat["recv_rate"] = flat.get("received", 0) / st.tput_duration
        ladder = []
        good, bad = 0.0, 0.0
        rate = st.tput_start
        while rate <= st.tput_max:
            step = _direct_step(tx, rx, rate, st.tput_duration)
            ladder.append(step)
            ok = step.get("lost", 1) == 0 and step.get("kept_up", False)
            if not ok:
                bad = rate
                break
            good = rate
            rate *= 2
        for _ in range(2 if bad else 0):  # refine between the last good and the first bad
            mid = round((good + bad) / 2)
            step = _direct_step(tx, rx, mid, st.tput_duration)
            ladder.append(step)
            if step.get("lost", 1) == 0 and step.get("kept_up", False):
                good = mid
            else:
                bad = mid
    finally:
        tx_cpu = (cpu_seconds(tx.pid) or 0) - (tx_cpu0 or 0)
        stop_all(nodes)
    return {
        "system": system.name,
        "encrypted": encrypted,
        "max_lossless_rate": good,
        "first_lossy_rate": bad or None,
        "flat_out": flat,
        "ladder": ladder,
        "sender_cpu_s": round(tx_cpu, 2),
    }


def _bcast_step(
    nodes: list[NodeProc], rate: float, duration: float, drain: float
) -> dict[str, Any]:
    tx, rxs = nodes[0], nodes[1:]
    before = gather_stats(rxs)
    m = tx.mark()
    tx.send(cmd="blast", kind="bcast", rate=rate, duration=duration, size=100)
    done = tx.wait_for(lambda e: e["ev"] == "blast_done", duration + 60, m)
    if done is None or "sent" not in done or len(before) < len(rxs):
        return {"rate": rate, "error": "blast failed"}
    sent = int(done["sent"])
    deadline = time.monotonic() + drain
    got: dict[str, int] = {}
    while True:
        after = gather_stats(rxs)
        got = {k: after[k]["recv_bcast"] - before[k]["recv_bcast"] for k in after if k in before}
        if (len(got) == len(rxs) and min(got.values()) >= sent) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    span = float(done["t1"]) - float(done["t0"])
    total = sent * len(rxs)
    delivered = sum(min(v, sent) for v in got.values())
    return {
        "rate": rate,
        "sent": sent,
        "send_rate": sent / span if span > 0 else 0.0,
        "kept_up": sent >= 0.97 * rate * duration,
        "delivered_fraction": delivered / total if total else 0.0,
        "min_received": min(got.values()) if got else 0,
    }


def bcast_throughput(system: System, encrypted: bool, st: Settings) -> dict[str, Any]:
    names = [f"b{i}" for i in range(st.bcast_cluster)]
    nodes = spawn(system, names, "lan", KEY if encrypted else "", st.log_dir)
    try:
        conv = join_all(nodes, system, timeout=30 + st.bcast_cluster)
        if not conv["converged"]:
            return {"system": system.name, "encrypted": encrypted, "error": "no convergence"}
        time.sleep(st.settle)
        ladder = []
        good, bad = 0.0, 0.0
        rate = st.bcast_start
        while rate <= st.bcast_max:
            step = _bcast_step(nodes, rate, st.tput_duration, st.bcast_drain)
            ladder.append(step)
            ok = step.get("delivered_fraction", 0) >= 1.0 and step.get("kept_up", False)
            if not ok:
                bad = rate
                break
            good = rate
            rate *= 2
        if bad:
            mid = round((good + bad) / 2)
            step = _bcast_step(nodes, mid, st.tput_duration, st.bcast_drain)
            ladder.append(step)
            if step.get("delivered_fraction", 0) >= 1.0 and step.get("kept_up", False):
                good = mid
    finally:
        stop_all(nodes)
    return {
        "system": system.name,
        "encrypted": encrypted,
        "cluster": st.bcast_cluster,
        "max_lossless_rate": good,
        "first_lossy_rate": bad or None,
        "ladder": ladder,
    }


# --------------------------------------------------------------------------- largest cluster


def soak(system: System, n: int, st: Settings, preset: str = "lan") -> dict[str, Any]:
    """N processes, joined, then a quiet window: any dead verdict is a false positive."""
    names = [f"s{i}" for i in range(n)]
    started = time.monotonic()
    out: dict[str, Any] = {"system": system.name, "n": n, "preset": preset}
    try:
        nodes = spawn(system, names, preset, "", st.log_dir, timeout=120 + n)
    except RuntimeError as err:
        out.update(ok=False, error=str(err)[:500])
        return out
    try:
        out["spawn_s"] = round(time.monotonic() - started, 1)
        # Ten joins a second, each through an already-joined node: the soak is about the
        # steady state, not about surviving a join storm (section 2 measures that).
        conv = join_all(
            nodes, system, timeout=60 + n, batch=10, gap=1.0, retries=3, spread_seeds=True
        )
        out["convergence"] = conv
        out["false_positives_joining"] = false_positives(nodes)
        if not conv["converged"]:
            out.update(ok=False, error="did not converge")
            return out
        time.sleep(5.0)  # let the last gossip of the joins die down
        marks = {x.name: x.mark() for x in nodes}
        c0 = {x.name: cpu_seconds(x.pid) for x in nodes}
        t0 = time.monotonic()
        time.sleep(st.largest_window)
        dt = time.monotonic() - t0
        c1 = {x.name: cpu_seconds(x.pid) for x in nodes}
        cpu = [100 * (c1[k] - c0[k]) / dt for k in c0 if c0[k] is not None and c1[k] is not None]  # type: ignore[operator]
        fp = false_positives(nodes, marks)
        views = [x.view_size() for x in nodes]
        out.update(
            window_s=round(dt, 1),
            false_positives=fp,
            min_view=min(views),
            cpu_pct_per_node_mean=statistics.fmean(cpu) if cpu else None,
            cpu_pct_total=sum(cpu),
            ok=fp["dead"] == 0 and min(views) == n,
        )
    finally:
        stop_all(nodes)
        out["total_s"] = round(time.monotonic() - started, 1)
    return out
