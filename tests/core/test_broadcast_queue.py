"""TransmitLimitedQueue: selection order, limits, invalidation, pruning (``queue.go``)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from swimlib.core.broadcast_queue import Broadcast, TransmitLimitedQueue
from swimlib.core.formulas import retransmit_limit


def make(mult: int = 4, nodes: int = 5) -> TransmitLimitedQueue:
    return TransmitLimitedQueue(mult, lambda: nodes)


class Done:
    """Records on_done calls by label."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def cb(self, label: str) -> _Cb:
        return _Cb(self.calls, label)


class _Cb:
    def __init__(self, calls: list[str], label: str) -> None:
        self.calls = calls
        self.label = label

    def __call__(self) -> None:
        self.calls.append(self.label)


# --- empty queue --------------------------------------------------------------------------


def test_empty_queue_returns_nothing_without_asking_node_count() -> None:
    def boom() -> int:
        raise AssertionError("num_nodes must not be called on an empty queue")

    q = TransmitLimitedQueue(4, boom)
    assert len(q) == 0
    assert q.get_broadcasts(2, 1400) == []
    assert q.pending() == []


def test_no_room_returns_nothing_and_changes_nothing() -> None:
    q = make()
    q.queue(b"x", "a")
    assert q.get_broadcasts(2, 2) == []
    assert q.get_broadcasts(5, 3) == []
    assert q.pending() == [("a", 0)]


# --- memberlist's own queue tests ------------------------------------------------------------

# (name, 18-byte message)
GO_MSGS = [
    ("test", b"1. this is a test."),
    ("foo", b"2. this is a test."),
    ("bar", b"3. this is a test."),
    ("baz", b"4. this is a test."),
]


def test_go_get_broadcasts() -> None:
    q = make(mult=3, nodes=10)
    for name, msg in GO_MSGS:
        q.queue(msg, name)
    assert len(q.get_broadcasts(2, 80)) == 4  # 4 * (18 + 2) = 80 fits exactly
    assert len(q.get_broadcasts(3, 80)) == 3  # 4 * 21 = 84 does not


def test_go_get_broadcasts_limit() -> None:
    q = make(mult=1, nodes=10)  # retransmit limit 2
    for name, msg in GO_MSGS:
        q.queue(msg, name)
    assert len(q.get_broadcasts(3, 80)) == 3
    assert len(q.get_broadcasts(3, 80)) == 3
    assert len(q.get_broadcasts(3, 80)) == 2  # only two not expired
    assert len(q) == 0
    assert q.get_broadcasts(3, 80) == []


def test_go_prune() -> None:
    done = Done()
    q = make(mult=1, nodes=10)
    for name, msg in GO_MSGS:
        q.queue(msg, name, done.cb(name))
    q.prune(2)
    assert len(q) == 2
    assert done.calls == ["test", "foo"]  # the two oldest go
    assert [name for name, _ in q.pending()] == ["baz", "bar"]


# --- selection order ------------------------------------------------------------------------


def test_largest_first_then_smaller_ones_that_fit() -> None:
    q = make()
    q.queue(b"a" * 10, "s")
    q.queue(b"b" * 30, "l")
    q.queue(b"c" * 20, "m")
    assert q.get_broadcasts(0, 1000) == [b"b" * 30, b"c" * 20, b"a" * 10]


def test_largest_that_fits_not_largest_overall() -> None:
    q = make()
    q.queue(b"a" * 10, "s")
    q.queue(b"b" * 30, "l")
    q.queue(b"c" * 20, "m")
    # free 25: 20 fits, then free 3 and nothing else fits
    assert q.get_broadcasts(2, 27) == [b"c" * 20]
    # with room for 30 + 2 + 10 + 2 after the 20 was bumped to tier 1: tier 0 first
    assert q.get_broadcasts(2, 44) == [b"b" * 30, b"a" * 10]
    assert q.pending() == [("l", 1), ("m", 1), ("s", 1)]  # largest first within a tier


def test_newest_among_equal_sizes() -> None:
    q = make()
    for name in ("x1", "x2", "x3"):
        q.queue(name.encode(), name)
    assert q.get_broadcasts(0, 2) == [b"x3"]
    assert q.get_broadcasts(0, 2) == [b"x2"]
    assert q.get_broadcasts(0, 2) == [b"x1"]
    assert q.get_broadcasts(0, 2) == [b"x3"]  # all at one transmit now: newest again


def test_fewest_transmits_first_even_if_smaller() -> None:
    q = make()
    q.queue(b"L" * 50, "big")
    assert q.get_broadcasts(0, 100) == [b"L" * 50]
    q.queue(b"s" * 5, "small")
    # the fresh small one comes before the larger message that was already sent once
    assert q.get_broadcasts(0, 100) == [b"s" * 5, b"L" * 50]
    assert q.get_broadcasts(0, 50) == [b"s" * 5]  # big (tier 1) no longer fits in 45


def test_next_tier_when_nothing_fits_in_current() -> None:
    q = make()
    q.queue(b"a" * 5, "a")
    q.get_broadcasts(0, 5)  # a -> tier 1
    q.queue(b"b" * 40, "b")
    assert q.get_broadcasts(0, 10) == [b"a" * 5]


def test_a_message_is_never_taken_twice_in_one_packet() -> None:
    q = make()
    q.queue(b"only", "one")
    assert q.get_broadcasts(0, 10_000) == [b"only"]
    assert q.pending() == [("one", 1)]


def test_limit_includes_overhead() -> None:
    q = make()
    q.queue(b"x" * 10, "a")
    assert q.get_broadcasts(3, 12) == []  # 10 + 3 > 12
    assert q.get_broadcasts(3, 13) == [b"x" * 10]  # exactly fits


def test_empty_message_fits_while_room_remains() -> None:
    q = make()
    q.queue(b"", "e")
    assert q.get_broadcasts(2, 3) == [b""]


# --- invalidation ---------------------------------------------------------------------------


def test_same_name_invalidates_and_calls_on_done() -> None:
    done = Done()
    q = make()
    q.queue(b"suspect X", "X", done.cb("old"))
    q.queue(b"alive X", "X", done.cb("new"))
    assert done.calls == ["old"]
    assert len(q) == 1
    assert q.get_broadcasts(0, 100) == [b"alive X"]


def test_invalidates_after_being_sent() -> None:
    done = Done()
    q = make()
    q.queue(b"suspect X", "X", done.cb("old"))
    q.get_broadcasts(0, 100)
    q.queue(b"dead X", "X")
    assert done.calls == ["old"]
    assert q.pending() == [("X", 0)]


def test_unnamed_and_empty_names_never_invalidate() -> None:
    done = Done()
    q = make()
    q.queue(b"a", None, done.cb("a"))
    q.queue(b"b", None, done.cb("b"))
    q.queue(b"c", "", done.cb("c"))
    q.queue(b"d", "", done.cb("d"))
    assert done.calls == []
    assert len(q) == 4


def test_different_names_coexist() -> None:
    q = make()
    q.queue(b"a", "A")
    q.queue(b"b", "B")
    assert sorted(q.get_broadcasts(0, 100)) == [b"a", b"b"]


# --- retransmit limit -----------------------------------------------------------------------


def test_retransmit_limit_removes_and_calls_on_done() -> None:
    done = Done()
    q = make(mult=2, nodes=2)  # limit 2 (Local config, two nodes)
    q.queue(b"m", "n", done.cb("m"))
    assert q.get_broadcasts(0, 10) == [b"m"]
    assert done.calls == []
    assert q.get_broadcasts(0, 10) == [b"m"]
    assert done.calls == ["m"]
    assert len(q) == 0
    assert q.get_broadcasts(0, 10) == []
    q.queue(b"again", "n")  # name is free again; nothing left to invalidate
    assert done.calls == ["m"]


def test_limit_uses_node_count_at_call_time() -> None:
    nodes = [1]
    q = TransmitLimitedQueue(1, lambda: nodes[0])
    q.queue(b"m", "n")
    nodes[0] = 100  # limit 3
    for _ in range(3):
        assert q.get_broadcasts(0, 10) == [b"m"]
    assert len(q) == 0
    q.queue(b"m2", "n")
    q.get_broadcasts(0, 10)
    q.get_broadcasts(0, 10)
    nodes[0] = 1  # limit drops to 1: the next send is the last
    assert q.get_broadcasts(0, 10) == [b"m2"]
    assert len(q) == 0


def test_zero_nodes_sends_once() -> None:
    done = Done()
    q = make(mult=4, nodes=0)  # limit 0, as in Go: sent once, then finished
    q.queue(b"m", "n", done.cb("m"))
    assert q.get_broadcasts(0, 10) == [b"m"]
    assert done.calls == ["m"]
    assert len(q) == 0


def test_on_done_may_queue_again() -> None:
    q = make(mult=1, nodes=1)  # limit 1
    q.queue(b"first", "a", lambda: q.queue(b"second", "a"))
    assert q.get_broadcasts(0, 100) == [b"first"]
    assert q.pending() == [("a", 0)]
    assert q.get_broadcasts(0, 100) == [b"second"]


# --- prune and reset ------------------------------------------------------------------------


def test_prune_noop_when_small_enough() -> None:
    done = Done()
    q = make()
    q.queue(b"a", "a", done.cb("a"))
    q.prune(1)
    q.prune(5)
    assert done.calls == []
    assert len(q) == 1


def test_prune_drops_most_transmitted_first() -> None:
    done = Done()
    q = make()
    q.queue(b"old", "old", done.cb("old"))
    q.get_broadcasts(0, 100)  # old -> 1 transmit
    q.queue(b"new1", "new1", done.cb("new1"))
    q.queue(b"new2", "new2", done.cb("new2"))
    q.prune(2)
    assert done.calls == ["old"]
    q.prune(0)
    assert done.calls == ["old", "new1", "new2"]
    assert len(q) == 0
    assert q.get_broadcasts(0, 100) == []
    q.queue(b"x", "new1")  # the name index was cleared too
    assert done.calls == ["old", "new1", "new2"]


def test_prune_smallest_first_within_a_tier() -> None:
    done = Done()
    q = make()
    q.queue(b"aaaa", "a", done.cb("a"))
    q.queue(b"b", "b", done.cb("b"))
    q.prune(1)
    assert done.calls == ["b"]  # Go's Prune removes the btree Max: smallest, then oldest


def test_reset_calls_every_on_done() -> None:
    done = Done()
    q = make()
    q.queue(b"a", "a", done.cb("a"))
    q.queue(b"bb", None, done.cb("b"))
    q.get_broadcasts(0, 2)
    q.queue(b"c", "c", done.cb("c"))
    q.reset()
    assert sorted(done.calls) == ["a", "b", "c"]
    assert len(q) == 0
    assert q.get_broadcasts(0, 100) == []
    q.queue(b"a2", "a")
    assert sorted(done.calls) == ["a", "b", "c"]


def test_pending_is_send_priority_order() -> None:
    q = make()
    q.queue(b"aa", "a")
    q.queue(b"b", "b")
    q.get_broadcasts(0, 2)  # takes "aa"
    q.queue(b"cc", "c")
    assert q.pending() == [("c", 0), ("b", 0), ("a", 1)]


def test_broadcast_repr_and_slots() -> None:
    b = Broadcast("n", b"abc", 1, 7, None)
    assert not hasattr(b, "__dict__")
    assert "len=3" in repr(b)


# --- reference model and properties ---------------------------------------------------------


class ModelQueue:
    """A direct, slow transcription of spec 5.6, with ids that never restart."""

    def __init__(self, mult: int, nodes: int) -> None:
        self.mult = mult
        self.nodes = nodes
        self.items: list[list[object]] = []  # [transmits, len, id, name, msg]
        self.next_id = 0
        self.finished: list[bytes] = []

    def queue(self, msg: bytes, name: str | None) -> None:
        if name:
            for it in [it for it in self.items if it[3] == name]:
                self.items.remove(it)
                self.finished.append(it[4])  # type: ignore[arg-type]
        self.next_id += 1
        self.items.append([0, len(msg), self.next_id, name, msg])

    def get(self, overhead: int, limit: int) -> list[bytes]:
        if not self.items:
            return []
        tl = retransmit_limit(self.mult, self.nodes)
        used = 0
        out: list[bytes] = []
        taken = []
        tiers = sorted({it[0] for it in self.items})  # type: ignore[type-var]
        for t in tiers:
            while True:
                free = limit - used - overhead
                if free <= 0:
                    break
                fits = [it for it in self.items if it[0] == t and it[1] <= free]  # type: ignore
                if not fits:
                    break
                best = max(fits, key=lambda it: (it[1], it[2]))
                self.items.remove(best)
                taken.append(best)
                out.append(best[4])  # type: ignore[arg-type]
                used += overhead + best[1]  # type: ignore[operator]
            if limit - used - overhead <= 0:
                break
        for it in taken:
            if it[0] + 1 >= tl:  # type: ignore[operator]
                self.finished.append(it[4])  # type: ignore[arg-type]
            else:
                it[0] = it[0] + 1  # type: ignore[operator]
                self.items.append(it)
        return out


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("queue"),
            st.integers(min_value=0, max_value=60),  # payload size beyond the unique tag
            st.one_of(st.none(), st.sampled_from(["", "a", "b", "c", "d", "e"])),
        ),
        st.tuples(
            st.just("get"),
            st.integers(min_value=0, max_value=6),  # overhead
            st.integers(min_value=0, max_value=200),  # limit
        ),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(ops=ops, mult=st.integers(min_value=1, max_value=4), nodes=st.integers(0, 120))
def test_queue_properties_and_model(
    ops: list[tuple[str, int, object]], mult: int, nodes: int
) -> None:
    q = TransmitLimitedQueue(mult, lambda: nodes)
    model = ModelQueue(mult, nodes)
    tl = retransmit_limit(mult, nodes)
    sent: Counter[bytes] = Counter()
    done: Counter[bytes] = Counter()
    serial = 0
    for op in ops:
        if op[0] == "queue":
            _, size, name = op
            serial += 1
            msg = serial.to_bytes(3, "big") + b"." * size  # every message is distinct
            assert name is None or isinstance(name, str)
            q.queue(msg, name, lambda m=msg: done.update([m]))  # type: ignore[misc]
            model.queue(msg, name)
        else:
            _, overhead, limit = op
            assert isinstance(limit, int)
            out = q.get_broadcasts(overhead, limit)
            assert out == model.get(overhead, limit)
            assert sum(len(m) + overhead for m in out) <= limit
            assert len(set(out)) == len(out)
            sent.update(out)
        assert len(q) == len(model.items)
        assert sorted(done) == sorted(model.finished)
    assert all(c <= max(tl, 1) for c in sent.values())
    assert all(c == 1 for c in done.values())
    q.reset()
    assert all(c == 1 for c in done.values())
    assert len(done) == serial  # every broadcast finished exactly once, one way or another


def test_reprs() -> None:
    q = TransmitLimitedQueue(3, lambda: 1)
    q.queue(b"a")
    assert q.retransmit_mult == 3
    assert repr(q) == "TransmitLimitedQueue(retransmit_mult=3, queued=1)"
