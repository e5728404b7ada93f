"""RecordingClient on a fake SDK collection: write ids put into properties,
outcomes by error type, what reads saw, and final reads left unrecorded."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.harness.history import History, Seen
from tests.harness.recording import MAX_UPSERT, RecordingClient, outcome_of
from vektra.client.models import (
    Coverage,
    DeleteResult,
    Hit,
    Object,
    QueryResult,
    SearchResult,
    UpsertResult,
)
from vektra.common.errors import DeadlineExceeded, InvalidArgument, NotFound, Unavailable
from vektra.common.hlc import Version

V1 = Version(1, 0, "router-0")


class FakeCollection:
    """Stores what it is sent; raises `fail` (once) if set."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.fail: Exception | None = None
        self.calls: list[tuple[str, Any]] = []

    def _maybe_fail(self) -> None:
        if self.fail is not None:
            exc, self.fail = self.fail, None
            raise exc

    def upsert(self, **kw: Any) -> UpsertResult:
        self.calls.append(("upsert", kw))
        self._maybe_fail()
        for i, p in zip(kw["ids"], kw["properties"], strict=True):
            self.objects[i] = p
        return UpsertResult(len(kw["ids"]), 2, V1)

    def delete(self, ids: list[str], consistency: str | None = None) -> DeleteResult:
        self.calls.append(("delete", ids))
        self._maybe_fail()
        for i in ids:
            self.objects.pop(i, None)
        return DeleteResult(len(ids), 2, V1)

    def get(self, ids: list[str], consistency: str | None = None) -> list[Object]:
        self.calls.append(("get", (ids, consistency)))
        self._maybe_fail()
        return [Object(i, self.objects[i], {}, V1) for i in ids if i in self.objects]

    def search(self, vector: Any, k: int, **kw: Any) -> SearchResult:
        self.calls.append(("search", kw))
        hits = tuple(Hit(i, 0.0, p, {}, V1) for i, p in self.objects.items())
        return SearchResult(hits[:k], Coverage(1, 1))

    def query(self, filter: Any, **kw: Any) -> QueryResult:
        objs = tuple(Object(i, p, {}, None) for i, p in self.objects.items())
        return QueryResult(objs, Coverage(1, 1))


class FakeClient:
    def __init__(self) -> None:
        self.col = FakeCollection()

    def collection(self, name: str) -> FakeCollection:
        return self.col


def _recorder() -> tuple[RecordingClient, FakeCollection, History]:
    client = FakeClient()
    history = History()
    return RecordingClient(client, history, "w0", "docs"), client.col, history  # type: ignore[arg-type]


def test_outcomes_by_error() -> None:
    assert outcome_of(InvalidArgument("ids", "bad")) == "failed"
    for exc in (Unavailable("x"), DeadlineExceeded("x"), NotFound("x"), RuntimeError("x")):
        assert outcome_of(exc) == "unknown"


def test_an_upsert_carries_a_fresh_write_id_per_object_and_its_version() -> None:
    rec, col, history = _recorder()
    rec.upsert(["a", "b"], np.ones((2, 4)), properties=[{"n": 1}, {"n": 2}], consistency="all")
    assert col.objects == {"a": {"n": 1, "w": "w0-1"}, "b": {"n": 2, "w": "w0-2"}}
    assert col.calls[0][1]["consistency"] == "all"
    (op,) = history.ops
    assert (op.kind, op.ids, op.writes, op.consistency) == (
        "upsert",
        ("a", "b"),
        ("w0-1", "w0-2"),
        "all",
    )
    assert op.ok and op.version == V1


def test_errors_are_recorded_and_raised_again() -> None:
    rec, col, history = _recorder()
    col.fail = Unavailable("quorum not met")
    with pytest.raises(Unavailable):
        rec.upsert(["a"], np.ones((1, 4)))
    col.fail = InvalidArgument("objects[0]", "bad vector")
    with pytest.raises(InvalidArgument):
        rec.delete(["a"])
    assert [(op.kind, op.outcome, op.version) for op in history.ops] == [
        ("upsert", "unknown", None),
        ("delete", "failed", None),
    ]


def test_reads_record_what_they_saw() -> None:
    rec, _, history = _recorder()
    rec.upsert(["a", "b"], np.ones((2, 4)))
    rec.get(["a", "zz"], consistency="one")
    rec.search(np.ones(4), k=1)
    rec.query({"n": 1})
    get, search, query = history.ops[1:]
    assert get.ids == ("a", "zz") and get.consistency == "one"
    assert get.seen == (Seen(("docs", "a"), "w0-1", V1),)
    assert search.seen == (Seen(("docs", "a"), "w0-1", V1),)
    assert [s.write for s in query.seen] == ["w0-1", "w0-2"] and query.seen[0].version is None


def test_search_always_asks_for_properties() -> None:
    rec, col, _ = _recorder()
    rec.search(np.ones(4), k=3, include_properties=False)
    assert col.calls[-1] == ("search", {"include_properties": True})


def test_final_reads_cover_every_key_of_the_collection_unrecorded() -> None:
    rec, col, history = _recorder()
    rec.upsert(["a", "b"], np.ones((2, 4)))
    rec.delete(["b"])
    history.invoke("x", "upsert", "other", ["c"], writes=["x-1"])
    final = rec.final_reads()
    assert final == [Seen(("docs", "a"), "w0-1", V1)]
    assert col.calls[-1] == ("get", (["a", "b"], "all"))
    assert len(history.ops) == 3, "final reads are not operations"
    result = rec.check()
    assert result.counts() == {"lost": 0, "resurrected": 0, "stale": 0, "unexpected": 0}


def test_bad_upserts_are_refused_before_recording() -> None:
    rec, _, history = _recorder()
    with pytest.raises(ValueError, match="1 to 100"):
        rec.upsert([f"o{i}" for i in range(MAX_UPSERT + 1)], np.ones((MAX_UPSERT + 1, 4)))
    with pytest.raises(ValueError, match="without 'w'"):
        rec.upsert(["a"], np.ones((1, 4)), properties=[{"w": "mine"}])
    assert history.ops == ()
