"""The history checker on hand-written histories: each anomaly present and
absent, and the concurrency edge cases where overlapping or indeterminate
operations must never be counted against the system."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from tests.harness.history import History, Op, Outcome, Seen, check
from vektra.common.hlc import Version

C = "docs"


def V(n: int) -> Version:
    return Version(n, 0, "router-0")


class Script:
    """Builds a History with explicit times: each call gives invocation and
    completion times (completion None: never completed)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.history = History(clock=lambda: self.now)

    def _run(
        self,
        start: float,
        end: float | None,
        outcome: Outcome,
        invoke: Mapping[str, Any],
        version: Version | None = None,
        seen: tuple[Seen, ...] = (),
    ) -> int:
        self.now = start
        index = self.history.invoke(**invoke)
        if end is not None:
            self.now = end
            self.history.complete(index, outcome, version=version, seen=seen)
        return index

    def upsert(
        self,
        oid: str,
        w: str,
        start: float,
        end: float | None,
        version: Version | None = None,
        outcome: Outcome = "ok",
        consistency: str = "quorum",
    ) -> int:
        inv = dict(
            process="p", kind="upsert", collection=C, ids=[oid], writes=[w], consistency=consistency
        )
        return self._run(start, end, outcome, inv, version if outcome == "ok" else None)

    def delete(
        self,
        oid: str,
        start: float,
        end: float | None,
        version: Version | None = None,
        outcome: Outcome = "ok",
        consistency: str = "quorum",
    ) -> int:
        inv = dict(process="p", kind="delete", collection=C, ids=[oid], consistency=consistency)
        return self._run(start, end, outcome, inv, version if outcome == "ok" else None)

    def get(
        self,
        ids: list[str],
        start: float,
        end: float,
        seen: dict[str, tuple[str | None, Version | None]],
        consistency: str = "quorum",
    ) -> int:
        inv = dict(process="p", kind="get", collection=C, ids=ids, consistency=consistency)
        return self._run(start, end, "ok", inv, seen=_seen(seen))

    def search(
        self, start: float, end: float, seen: dict[str, tuple[str | None, Version | None]]
    ) -> int:
        inv = dict(process="p", kind="search", collection=C)
        return self._run(start, end, "ok", inv, seen=_seen(seen))

    def query(
        self, start: float, end: float, seen: dict[str, tuple[str | None, Version | None]]
    ) -> int:
        inv = dict(process="p", kind="query", collection=C)
        return self._run(start, end, "ok", inv, seen=_seen(seen))

    def check(self, **final: tuple[str | None, Version | None]):  # type: ignore[no-untyped-def]
        return self.history.check(_seen(final))


def _seen(d: dict[str, tuple[str | None, Version | None]]) -> tuple[Seen, ...]:
    return tuple(Seen((C, oid), w, v) for oid, (w, v) in d.items())


def counts(result) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {k: n for k, n in result.counts().items() if n}


# ---------------------------------------------------------------- recording


def test_invoke_and_complete_record_times_outcomes_and_results() -> None:
    s = Script()
    i = s.upsert("a", "w1", 1.0, 2.0, V(5))
    j = s.delete("a", 3.0, None)
    op = s.history.ops[i]
    assert (op.kind, op.ids, op.writes) == ("upsert", ("a",), ("w1",))
    assert (op.invoked, op.completed) == (1.0, 2.0)
    assert op.ok and op.version == V(5) and op.end == 2.0
    pending = s.history.ops[j]
    assert pending.outcome is None and pending.completed is None and pending.end == float("inf")
    with pytest.raises(ValueError, match="already completed"):
        s.history.complete(i, "ok")
    with pytest.raises(ValueError, match="one write id per object id"):
        s.history.invoke("p", "upsert", C, ["a", "b"], writes=["w"])
    assert s.history.keys() == [(C, "a")]


def test_unknown_operations_never_end() -> None:
    s = Script()
    s.upsert("a", "w1", 1.0, 2.0, outcome="unknown")
    s.upsert("b", "w2", 1.0, 2.0, outcome="failed")
    unknown, failed = s.history.ops
    assert unknown.end == float("inf") and failed.end == 2.0 and failed.failed


def test_write_ids_are_unique_across_threads() -> None:
    h = History()
    got: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        ids = [h.write_id("w") for _ in range(200)]
        with lock:
            got.extend(ids)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 800 and h.write_id("other") == "other-1"


def test_consistency_defaults_to_quorum_like_the_router() -> None:
    h = History()
    h.invoke("p", "get", C, ["a"])
    h.invoke("p", "get", C, ["a"], consistency="ALL")
    assert [op.consistency for op in h.ops] == ["quorum", "all"]


def test_an_empty_history_is_clean() -> None:
    result = check([], [])
    assert counts(result) == {} and result.operations == 0
    result.assert_valid()


# ---------------------------------------------------------------- lost


def test_an_acknowledged_upsert_that_is_there_at_the_end_is_not_lost() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    assert counts(s.check(a=("w1", V(1)))) == {}


def test_an_acknowledged_upsert_missing_at_the_end_is_lost() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    result = s.check()
    assert counts(result) == {"lost": 1}
    assert "upsert w1" in str(result.lost[0]) and "gone" in str(result.lost[0])


def test_an_older_acknowledged_write_at_the_end_loses_the_newer() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.upsert("a", "w2", 2, 3, V(2))
    assert counts(s.check(a=("w2", V(2)))) == {}
    assert counts(s.check(a=("w1", V(1)))) == {"lost": 1}


def test_overlapping_acknowledged_upserts_are_ordered_by_their_versions() -> None:
    # Both acknowledged, overlapping in time: the server's versions decide,
    # and the end must hold the higher one.
    s = Script()
    s.upsert("a", "w1", 0, 3, V(9))
    s.upsert("a", "w2", 1, 2, V(4))
    assert counts(s.check(a=("w1", V(9)))) == {}
    assert counts(s.check(a=("w2", V(4)))) == {"lost": 1}


def test_a_newer_unacknowledged_write_at_the_end_is_not_a_loss() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.upsert("a", "w2", 2, 3, outcome="unknown")
    s.upsert("a", "w3", 4, None)  # still running at the end of the test
    assert counts(s.check(a=("w2", V(7)))) == {}
    assert counts(s.check(a=("w3", V(8)))) == {}


def test_an_unacknowledged_write_older_than_the_acknowledged_one_is_a_loss() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, outcome="unknown")
    s.upsert("a", "w2", 2, 3, V(5))
    assert counts(s.check(a=("w1", V(3)))) == {"lost": 1}


def test_absence_is_explained_only_by_a_delete_that_may_be_newer() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.delete("a", 2, 3, outcome="failed")
    assert counts(s.check()) == {"lost": 1}  # a failed delete explains nothing
    s.delete("a", 4, 5, outcome="unknown")
    assert counts(s.check()) == {}  # an unknown one may have landed


def test_a_delete_still_running_at_the_end_explains_absence() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.delete("a", 2, None)
    assert counts(s.check()) == {}


def test_an_unknown_delete_invoked_before_the_upsert_still_explains_absence() -> None:
    # Indeterminate: it may take effect any time after its invocation.
    s = Script()
    s.delete("a", 0, 1, outcome="unknown")
    s.upsert("a", "w1", 2, 3, V(5))
    assert counts(s.check()) == {}


def test_an_acknowledged_delete_with_an_older_version_does_not_explain_absence() -> None:
    s = Script()
    s.delete("a", 0, 3, V(2))
    s.upsert("a", "w1", 1, 2, V(5))
    assert counts(s.check()) == {"lost": 1}
    assert counts(s.check(a=("w1", V(5)))) == {}


def test_an_acknowledged_delete_must_not_be_undone() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.delete("a", 2, 3, V(2))
    assert counts(s.check()) == {}
    result = s.check(a=("w1", V(1)))
    assert counts(result) == {"lost": 1} and "delete" in str(result.lost[0])


def test_an_acknowledged_delete_may_be_followed_by_a_newer_upsert() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.delete("a", 2, 3, V(2))
    s.upsert("a", "w2", 4, 5, outcome="unknown")
    assert counts(s.check(a=("w2", V(3)))) == {}


def test_the_version_of_a_final_read_defaults_to_the_acknowledged_one() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.upsert("a", "w2", 2, 3, V(2))
    assert counts(s.check(a=("w1", None))) == {"lost": 1}
    assert counts(s.check(a=("w2", None))) == {}


def test_a_second_write_with_the_same_version_is_a_loss() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(4))
    s.upsert("a", "w2", 0, 1, outcome="unknown")
    assert counts(s.check(a=("w2", V(4)))) == {"lost": 1}


def test_nothing_acknowledged_means_nothing_can_be_lost() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, outcome="unknown")
    s.upsert("b", "w2", 0, 1, outcome="failed")
    assert counts(s.check()) == {}
    assert counts(s.check(a=("w1", V(1)))) == {}


def test_keys_are_independent() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.upsert("b", "w2", 0, 1, V(2))
    result = s.check(a=("w1", V(1)))
    assert counts(result) == {"lost": 1} and result.lost[0].key == (C, "b")


def test_a_multi_object_upsert_is_one_write_per_key() -> None:
    h = History()
    i = h.invoke("p", "upsert", C, ["a", "b"], writes=["w1", "w2"])
    h.complete(i, "ok", version=V(3))
    assert counts(h.check([Seen((C, "a"), "w1", V(3)), Seen((C, "b"), "w2", V(3))])) == {}
    assert counts(h.check([Seen((C, "a"), "w1", V(3))])) == {"lost": 1}


def test_collections_are_part_of_the_key() -> None:
    h = History()
    i = h.invoke("p", "upsert", "one", ["a"], writes=["w1"])
    h.complete(i, "ok", version=V(3))
    result = h.check([Seen(("two", "a"), "w1", V(3))])
    assert counts(result) == {"lost": 1, "unexpected": 1}


# ---------------------------------------------------------------- resurrected


def _deleted(s: Script) -> None:
    """w1 written [0, 1], then deleted [2, 3], both acknowledged."""
    s.upsert("a", "w1", 0, 1, V(1))
    s.delete("a", 2, 3, V(2))


@pytest.mark.parametrize("read", ["get", "search", "query"])
def test_a_read_after_an_acknowledged_delete_must_not_see_the_object(read: str) -> None:
    s = Script()
    _deleted(s)
    if read == "get":
        s.get(["a"], 4, 5, {"a": ("w1", V(1))}, consistency="one")
    else:
        getattr(s, read)(4, 5, {"a": ("w1", V(1))})
    result = s.check()
    assert len(result.resurrected) == 1 and result.resurrected[0].op == 2
    assert "w1" in str(result.resurrected[0])
    assert not result.lost and not result.unexpected


def test_a_read_that_does_not_see_the_object_after_the_delete_is_clean() -> None:
    s = Script()
    _deleted(s)
    s.get(["a"], 4, 5, {})
    s.search(4, 5, {})
    assert counts(s.check()) == {}


def test_a_read_overlapping_the_delete_may_see_the_object() -> None:
    s = Script()
    _deleted(s)
    s.get(["a"], 2.5, 5, {"a": ("w1", V(1))})  # invoked before the delete returned
    s.search(1.5, 2.5, {"a": ("w1", V(1))})
    assert counts(s.check()) == {}


def test_an_upsert_overlapping_the_delete_may_win_over_it() -> None:
    s = Script()
    s.upsert("a", "w1", 1.5, 2.5, V(3))
    s.delete("a", 2, 3, V(2))
    s.get(["a"], 4, 5, {"a": ("w1", V(3))})
    assert counts(s.check(a=("w1", V(3)))) == {}


def test_an_unknown_upsert_before_the_delete_is_never_counted_against() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, outcome="unknown")
    s.delete("a", 2, 3, V(2))
    s.search(4, 5, {"a": ("w1", V(3))})
    assert not s.check(a=("w1", V(3))).resurrected


def test_only_acknowledged_deletes_resurrect() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.delete("a", 2, 3, outcome="unknown")
    s.delete("a", 2, 3, outcome="failed")
    s.get(["a"], 4, 5, {"a": ("w1", V(1))})
    assert counts(s.check(a=("w1", V(1)))) == {}


def test_a_later_upsert_excuses_only_its_own_write() -> None:
    # Seeing the new write w2 is fine; seeing w1, which the delete removed
    # before w2 was even invoked, is a resurrection all the same.
    s = Script()
    _deleted(s)
    s.upsert("a", "w2", 4, 5, outcome="unknown")
    s.get(["a"], 6, 7, {"a": ("w2", V(5))})
    assert counts(s.check(a=("w2", V(5)))) == {}
    s.query(8, 9, {"a": ("w1", V(1))})
    assert counts(s.check(a=("w2", V(5)))) == {"resurrected": 1}


def test_resurrection_is_per_key() -> None:
    s = Script()
    _deleted(s)
    s.upsert("b", "w2", 0, 1, V(1))
    s.search(4, 5, {"b": ("w2", V(1))})
    assert counts(s.check(b=("w2", V(1)))) == {}


# ---------------------------------------------------------------- stale


def test_a_quorum_get_must_see_a_write_acknowledged_before_it() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.get(["a"], 2, 3, {})
    result = s.check(a=("w1", V(1)))
    assert counts(result) == {"stale": 1} and "read nothing" in str(result.stale[0])
    result.assert_valid(allow_stale=True)
    with pytest.raises(AssertionError, match="1 stale"):
        result.assert_valid()


def test_a_quorum_get_that_sees_the_write_is_clean() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.get(["a"], 2, 3, {"a": ("w1", V(1))})
    s.get(["a"], 2, 3, {"a": ("w1", None)})  # no version reported: the write's is used
    assert counts(s.check(a=("w1", V(1)))) == {}


def test_a_get_overlapping_the_write_may_miss_it() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 2, V(1))
    s.get(["a"], 1, 3, {})
    assert counts(s.check(a=("w1", V(1)))) == {}


def test_a_quorum_get_of_an_older_version_is_stale() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.upsert("a", "w2", 2, 3, V(2))
    s.get(["a"], 4, 5, {"a": ("w1", V(1))})
    s.get(["a"], 2.5, 5, {"a": ("w1", V(1))})  # overlaps w2: fine
    result = s.check(a=("w2", V(2)))
    assert counts(result) == {"stale": 1} and result.stale[0].op == 2


def test_gets_at_one_are_not_checked_for_staleness() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.get(["a"], 2, 3, {}, consistency="one")
    assert counts(s.check(a=("w1", V(1)))) == {}


def test_a_write_at_one_must_be_seen_by_all_but_not_by_quorum() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1), consistency="one")
    s.get(["a"], 2, 3, {}, consistency="quorum")
    assert counts(s.check(a=("w1", V(1)))) == {}
    s.get(["a"], 4, 5, {}, consistency="all")
    assert counts(s.check(a=("w1", V(1)))) == {"stale": 1}


def test_a_delete_that_may_be_newer_explains_an_empty_get() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.delete("a", 1.5, 4, outcome="unknown")
    s.get(["a"], 2, 3, {})
    assert counts(s.check()) == {}


def test_a_delete_invoked_after_the_get_returned_explains_nothing() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.get(["a"], 2, 3, {})
    s.delete("a", 4, None)
    assert counts(s.check()) == {"stale": 1}


def test_a_get_after_an_acknowledged_delete_may_return_nothing() -> None:
    s = Script()
    _deleted(s)
    s.get(["a"], 4, 5, {})
    assert counts(s.check()) == {}


def test_an_old_copy_after_an_acknowledged_delete_is_stale_and_resurrected() -> None:
    s = Script()
    _deleted(s)
    s.get(["a"], 4, 5, {"a": ("w1", V(1))})
    assert counts(s.check()) == {"stale": 1, "resurrected": 1}


def test_a_get_of_several_ids_is_checked_per_id() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.upsert("b", "w2", 0, 1, V(1))
    s.get(["a", "b", "c"], 2, 3, {"a": ("w1", V(1))})
    result = s.check(a=("w1", V(1)), b=("w2", V(1)))
    assert counts(result) == {"stale": 1} and result.stale[0].key == (C, "b")


# ---------------------------------------------------------------- unexpected


def test_a_payload_never_written_is_unexpected() -> None:
    s = Script()
    s.search(0, 1, {"a": ("nobody-1", V(1))})
    result = s.check()
    assert counts(result) == {"unexpected": 1} and "never written" in str(result.unexpected[0])


def test_an_object_without_a_write_id_is_unexpected() -> None:
    s = Script()
    s.get(["a"], 0, 1, {"a": (None, V(1))})
    assert counts(s.check()) == {"unexpected": 1}


def test_another_keys_write_is_unexpected() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, V(1))
    s.get(["b"], 2, 3, {"b": ("w1", V(1))})
    result = s.check(a=("w1", V(1)))
    assert counts(result) == {"unexpected": 1} and "written to a" in str(result.unexpected[0])


def test_a_failed_write_that_is_read_is_unexpected() -> None:
    s = Script()
    s.upsert("a", "w1", 0, 1, outcome="failed")
    s.get(["a"], 2, 3, {"a": ("w1", V(1))})
    assert counts(s.check()) == {"unexpected": 1}
    assert counts(s.check(a=("w1", V(1)))) == {"unexpected": 2}  # and in the final read


def test_a_write_read_before_it_was_invoked_is_unexpected() -> None:
    s = Script()
    s.get(["a"], 0, 1, {"a": ("w1", V(5))})
    s.upsert("a", "w1", 2, 3, V(5))
    assert counts(s.check(a=("w1", V(5)))) == {"unexpected": 1}


def test_a_read_may_see_a_write_still_in_progress() -> None:
    s = Script()
    s.upsert("a", "w1", 0, None)
    s.get(["a"], 1, 2, {"a": ("w1", V(5))})
    s.search(1, 2, {"a": ("w1", V(5))})
    assert counts(s.check(a=("w1", V(5)))) == {}


def test_failed_reads_are_not_looked_at() -> None:
    h = History()
    i = h.invoke("p", "get", C, ["a"])
    h.complete(i, "unknown", seen=[Seen((C, "a"), "ghost", V(1))])
    assert counts(h.check([])) == {}


# ---------------------------------------------------------------- the report


def test_the_report_counts_every_kind_and_shows_twenty_examples() -> None:
    s = Script()
    for n in range(25):
        s.upsert(f"o{n}", f"w{n}", 0, 1, V(1))
    result = s.check()
    text = str(result)
    assert text.startswith("history of 25 operations: 25 lost, 0 resurrected, 0 stale")
    assert text.count("was acknowledged and is gone") == 20 and "... and 5 more" in text
    with pytest.raises(AssertionError, match="25 lost"):
        result.assert_valid()


def test_check_is_a_pure_function_of_the_operations() -> None:
    s = Script()
    _deleted(s)
    s.get(["a"], 4, 5, {"a": ("w1", V(1))})
    ops: tuple[Op, ...] = s.history.ops
    final = [Seen((C, "a"), "w1", V(1))]
    assert check(ops, final) == check(list(ops), iter(final)) == s.history.check(final)
