"""SDK calls recorded into a History (tests/harness/history.py).

    history = History()
    create_recorded_collection(client, "docs", dim=4, rf=2)
    writer = RecordingClient(client, history, "w0", "docs")
    writer.upsert(["a", "b"], np.ones((2, 4)), consistency="quorum")
    writer.delete(["a"])
    writer.get(["a", "b"])
    ...
    cluster.validate()
    writer.check().assert_valid()          # final reads at ALL, then the checker

Each upsert puts a fresh write id into every object's properties (the
collection must declare the keyword property "w": `create_recorded_collection`
does), so every read says which write it saw. A call's error is recorded
(INVALID_ARGUMENT as failed: nothing was applied; anything else as unknown)
and raised again, as the SDK would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.harness.history import WRITE_ID, CheckResult, History, OpKind, Outcome, Seen
from vektra import Client, Version
from vektra.client.models import (
    DeleteResult,
    Hit,
    Object,
    QueryResult,
    SearchResult,
    UpsertResult,
)
from vektra.common.errors import InvalidArgument

__all__ = ["MAX_UPSERT", "RecordingClient", "create_recorded_collection", "outcome_of"]

# One request per recorded upsert, so the version the router returns is that
# of every object in it (a call the SDK splits reports only the last batch's).
MAX_UPSERT = 100
_FINAL_BATCH = 500


def outcome_of(exc: BaseException) -> Outcome:
    """How a call that raised `exc` ended: "failed" only when the server
    certainly applied nothing (it rejected the input before writing)."""
    return "failed" if isinstance(exc, InvalidArgument) else "unknown"


def create_recorded_collection(
    client: Client,
    name: str,
    *,
    dim: int,
    rf: int,
    metric: str = "l2",
    properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A collection with one vector field "v" and the write-id property."""
    props = {**(properties or {}), WRITE_ID: "keyword"}
    return client.create_collection(
        name,
        vectors={"v": {"dim": dim, "metric": metric}},
        properties=props,
        replication_factor=rf,
    )


@dataclass(slots=True)
class _Reply:
    """What a recorded call returned, filled in by the call."""

    version: Version | None = None
    seen: Sequence[Seen] = ()


def _seen(collection: str, found: Sequence[Object] | Sequence[Hit]) -> list[Seen]:
    return [Seen((collection, o.id), o.properties.get(WRITE_ID), o.version) for o in found]


class RecordingClient:
    """The calls of one process (`name`, which prefixes its write ids) on one
    collection, each recorded in `history`. Thread-safe as the SDK is, but
    give each concurrent worker its own name for readable histories."""

    def __init__(self, client: Client, history: History, name: str, collection: str) -> None:
        self.client = client
        self.history = history
        self.name = name
        self.collection = collection
        self._col = client.collection(collection)

    @contextmanager
    def _recorded(
        self,
        kind: OpKind,
        ids: Sequence[str] = (),
        writes: Sequence[str] = (),
        consistency: str | None = None,
    ) -> Iterator[_Reply]:
        """Record the call made in the block, which fills in the reply."""
        index = self.history.invoke(
            self.name, kind, self.collection, ids, writes=writes, consistency=consistency
        )
        reply = _Reply()
        try:
            yield reply
        except BaseException as exc:
            self.history.complete(index, outcome_of(exc))
            raise
        self.history.complete(index, "ok", version=reply.version, seen=reply.seen)

    # ------------------------------------------------------------ writes

    def upsert(
        self,
        ids: Sequence[str],
        vectors: Any,
        *,
        properties: Sequence[Mapping[str, Any]] | None = None,
        consistency: str | None = None,
    ) -> UpsertResult:
        """Upsert `ids` with `vectors` (2-D, or {field: 2-D}) and optional
        `properties` (one mapping per id); each gets a fresh write id."""
        if not 0 < len(ids) <= MAX_UPSERT:
            raise ValueError(f"a recorded upsert has 1 to {MAX_UPSERT} objects, not {len(ids)}")
        props = list(properties) if properties is not None else [{} for _ in ids]
        if len(props) != len(ids) or any(WRITE_ID in p for p in props):
            raise ValueError(f"one properties mapping per id, without {WRITE_ID!r}")
        writes = [self.history.write_id(self.name) for _ in ids]
        props = [{**p, WRITE_ID: w} for p, w in zip(props, writes, strict=True)]
        with self._recorded("upsert", ids, writes, consistency) as out:
            result = self._col.upsert(
                ids=list(ids),
                vectors=vectors,
                properties=props,
                consistency=consistency,
                batch_size=MAX_UPSERT,
            )
            out.version = result.version
        return result

    def delete(self, ids: Sequence[str], *, consistency: str | None = None) -> DeleteResult:
        with self._recorded("delete", ids, consistency=consistency) as out:
            result = self._col.delete(list(ids), consistency=consistency)
            out.version = result.version
        return result

    # ------------------------------------------------------------ reads

    def get(self, ids: Sequence[str], *, consistency: str | None = None) -> list[Object]:
        with self._recorded("get", ids, consistency=consistency) as out:
            found = self._col.get(list(ids), consistency=consistency)
            out.seen = _seen(self.collection, found)
        return found

    def search(self, vector: Any, k: int = 10, **kwargs: Any) -> SearchResult:
        """`Collection.search`; properties are always asked for (they carry the write id)."""
        kwargs["include_properties"] = True
        with self._recorded("search") as out:
            result = self._col.search(vector, k, **kwargs)
            out.seen = _seen(self.collection, result.hits)
        return result

    def query(self, filter: Mapping[str, Any] | None = None, **kwargs: Any) -> QueryResult:
        with self._recorded("query") as out:
            result = self._col.query(filter, **kwargs)
            out.seen = _seen(self.collection, result.objects)
        return result

    # ------------------------------------------------------------ the end

    def final_reads(
        self, ids: Sequence[str] | None = None, *, consistency: str = "all"
    ) -> list[Seen]:
        """What every key of this collection the history names (or `ids`)
        holds now, read at `consistency` and not recorded: the `final` of
        `History.check`. Call it once the cluster has settled (`validate`)."""
        if ids is None:
            ids = [i for _, i in self.history.keys(self.collection)]
        seen: list[Seen] = []
        for start in range(0, len(ids), _FINAL_BATCH):
            batch = list(ids[start : start + _FINAL_BATCH])
            seen += _seen(self.collection, self._col.get(batch, consistency=consistency))
        return seen

    def check(self) -> CheckResult:
        """The checker over the whole history, with this collection's final reads."""
        return self.history.check(self.final_reads())
