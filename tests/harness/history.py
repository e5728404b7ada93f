"""A history of client operations and a checker over it.

Tests record every operation a client makes (tests/harness/recording.py
does it around the SDK): `invoke` before the call is sent, `complete` with
its outcome after the reply (or the error). Each upsert writes a unique write
id into the object's properties ({"w": "writer-7"}), so a read tells exactly
which write it saw. `check(ops, final)` then looks for

* lost: an acknowledged write whose effect is missing or older at the end.
  Per key, the final state must be the newest acknowledged write (by the
  version the server returned) or something at least as new; an
  acknowledged delete must not be followed by an object of that version or
  older.
* resurrected: a read returned a write although a delete of the key was
  acknowledged before the read was invoked, and that write had completed
  before the delete was invoked.
* stale: a QUORUM (or ALL) get returned a version older than a write
  acknowledged before the get was invoked (or nothing, where that write was
  an upsert and no delete can explain it).
* unexpected: a read returned a payload never attempted (no or unknown write
  id, another key's write, a write that failed, or one not yet invoked).

Outcomes: "ok" (acknowledged), "failed" (certainly not applied: the server
refused the input), "unknown" (anything else: a timeout or UNAVAILABLE may
still have been applied, now or later). An unknown or never completed
operation is concurrent with everything after its invocation, so it can
explain any later state but is never counted against: the checker only
counts what no order of overlapping operations could produce.

Two choices worth knowing:

* Resurrection looks at the write the read saw, by its write id: a later
  upsert excuses reading that upsert, never reading the older write the
  delete removed; and a write that overlapped the delete may win over it.
* Staleness counts a write only where the levels must meet whatever the
  replication factor: QUORUM gets against QUORUM or ALL writes, ALL gets
  against every write.

Resurrection is checked for every read, at any level, as issue 8 asks. A
read served by one replica (a get at ONE, a search, a query) can only
promise that with deletes every replica has acknowledged: ALL, or QUORUM
at RF <= 2, where a quorum is every replica.

Timestamps are `time.monotonic()` of this process: one clock for every
thread of the test.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

from vektra.common.hlc import Version

__all__ = [
    "WRITE_ID",
    "Anomaly",
    "CheckResult",
    "History",
    "Key",
    "Op",
    "OpKind",
    "Outcome",
    "Seen",
    "check",
]

WRITE_ID = "w"  # the property that carries an upsert's write id

Key: TypeAlias = tuple[str, str]  # (collection, object id)
OpKind = Literal["upsert", "delete", "get", "search", "query"]
Outcome = Literal["ok", "failed", "unknown"]
_WRITES = ("upsert", "delete")
_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class Seen:
    """One object a read returned: its key, the write id in its properties
    (None if it had none) and the version the server reported (None if none)."""

    key: Key
    write: str | None
    version: Version | None = None


@dataclass(frozen=True, slots=True)
class Op:
    """One client operation. For an upsert `writes[i]` is the write id of
    `ids[i]`; `version` is the version a write was acknowledged with; `seen`
    is what a read returned. `completed` is None while it runs."""

    index: int
    process: str
    kind: OpKind
    collection: str
    ids: tuple[str, ...]
    invoked: float
    writes: tuple[str, ...] = ()
    consistency: str = "quorum"
    completed: float | None = None
    outcome: Outcome | None = None  # None while running
    version: Version | None = None
    seen: tuple[Seen, ...] = ()

    @property
    def keys(self) -> tuple[Key, ...]:
        return tuple((self.collection, i) for i in self.ids)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    @property
    def end(self) -> float:
        """When it certainly took effect, if at all: its completion if it was
        acknowledged or failed, never (infinity) if unknown or running."""
        if self.completed is None or self.outcome not in ("ok", "failed"):
            return math.inf
        return self.completed


@dataclass(frozen=True, slots=True)
class Anomaly:
    key: Key
    op: int | None  # the operation it was found in (None: the final reads)
    detail: str

    def __str__(self) -> str:
        where = f"op {self.op}" if self.op is not None else "final read"
        return f"{self.key[0]}/{self.key[1]} ({where}): {self.detail}"


@dataclass(frozen=True, slots=True)
class CheckResult:
    lost: tuple[Anomaly, ...] = ()
    resurrected: tuple[Anomaly, ...] = ()
    stale: tuple[Anomaly, ...] = ()
    unexpected: tuple[Anomaly, ...] = ()
    operations: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "lost": len(self.lost),
            "resurrected": len(self.resurrected),
            "stale": len(self.stale),
            "unexpected": len(self.unexpected),
        }

    def assert_valid(self, *, allow_stale: bool = False) -> None:
        """AssertionError (with this report) unless lost, resurrected and
        unexpected are all 0, and stale too unless `allow_stale`."""
        counts = self.counts()
        if allow_stale:
            counts.pop("stale")
        if any(counts.values()):
            raise AssertionError(str(self))

    def __str__(self) -> str:
        summary = ", ".join(f"{n} {k}" for k, n in self.counts().items())
        lines = [f"history of {self.operations} operations: {summary}"]
        for kind, found in (
            ("lost", self.lost),
            ("resurrected", self.resurrected),
            ("stale", self.stale),
            ("unexpected", self.unexpected),
        ):
            if found:
                lines.append(f"  {kind}:")
                lines += [f"    {a}" for a in found[:_EXAMPLES]]
                if len(found) > _EXAMPLES:
                    lines.append(f"    ... and {len(found) - _EXAMPLES} more")
        return "\n".join(lines)


class History:
    """The operations of one test, from any number of threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ops: list[Op] = []
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def write_id(self, writer: str) -> str:
        """A fresh write id: "<writer>-<n>"."""
        with self._lock:
            n = self._counters[writer] = self._counters.get(writer, 0) + 1
        return f"{writer}-{n}"

    def invoke(
        self,
        process: str,
        kind: OpKind,
        collection: str,
        ids: Sequence[str] = (),
        *,
        writes: Sequence[str] = (),
        consistency: str | None = None,
    ) -> int:
        """Record that an operation is about to be sent; its index."""
        if kind == "upsert" and len(writes) != len(ids):
            raise ValueError("an upsert needs one write id per object id")
        with self._lock:
            op = Op(
                index=len(self._ops),
                process=process,
                kind=kind,
                collection=collection,
                ids=tuple(ids),
                invoked=self._clock(),
                writes=tuple(writes),
                consistency=(consistency or "quorum").lower(),
            )
            self._ops.append(op)
        return op.index

    def complete(
        self,
        index: int,
        outcome: Outcome,
        *,
        version: Version | None = None,
        seen: Iterable[Seen] = (),
    ) -> Op:
        """Record how operation `index` ended."""
        with self._lock:
            op = self._ops[index]
            if op.outcome is not None:
                raise ValueError(f"operation {index} was already completed")
            done = replace(
                op, completed=self._clock(), outcome=outcome, version=version, seen=tuple(seen)
            )
            self._ops[index] = done
        return done

    @property
    def ops(self) -> tuple[Op, ...]:
        with self._lock:
            return tuple(self._ops)

    def keys(self, collection: str | None = None) -> list[Key]:
        """Every key an operation named, in first-use order."""
        out: dict[Key, None] = {}
        for op in self.ops:
            if collection is None or op.collection == collection:
                out.update(dict.fromkeys(op.keys))
        return list(out)

    def check(self, final: Iterable[Seen]) -> CheckResult:
        return check(self.ops, final)


# ---------------------------------------------------------------- the checker


@dataclass(frozen=True, slots=True)
class _Write:
    """One key's part of a write operation."""

    op: Op
    key: Key
    write: str | None  # the write id (None for a delete)

    @property
    def is_delete(self) -> bool:
        return self.op.kind == "delete"

    def __str__(self) -> str:
        what = "delete" if self.is_delete else f"upsert {self.write}"
        at = f" at {self.op.version}" if self.op.version is not None else ""
        return f"{what} (op {self.op.index}, {self.op.outcome or 'running'}{at})"


class _Index:
    """The writes of a history by key and by write id."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.by_key: dict[Key, list[_Write]] = {}
        self.by_id: dict[str, _Write] = {}
        for op in ops:
            if op.kind not in _WRITES:
                continue
            for n, key in enumerate(op.keys):
                write = op.writes[n] if op.kind == "upsert" else None
                w = _Write(op, key, write)
                self.by_key.setdefault(key, []).append(w)
                if write is not None:
                    self.by_id[write] = w

    def writes(self, key: Key) -> list[_Write]:
        return self.by_key.get(key, [])

    def version_of(self, seen: Seen) -> Version | None:
        """The version an observation stands for: the server's, or else the
        version its write was acknowledged with."""
        if seen.version is not None:
            return seen.version
        w = self.by_id.get(seen.write or "")
        return w.op.version if w is not None and w.op.ok else None


def _acknowledged(writes: Iterable[_Write]) -> list[_Write]:
    """The writes that were acknowledged with a version (ordered by it)."""
    return sorted((w for w in writes if w.op.ok and w.op.version is not None), key=_version)


def _version(w: _Write) -> Version:
    assert w.op.version is not None
    return w.op.version


def _deletes_may_be_newer(writes: Iterable[_Write], than: Version, before: float) -> bool:
    """Whether a delete invoked before `before` may carry a version newer than
    `than`: one acknowledged with a newer version, or one whose version is
    unknown (unknown outcome or still running)."""
    return any(
        w.is_delete
        and not w.op.failed
        and w.op.invoked < before
        and (w.op.version is None or not w.op.ok or w.op.version > than)
        for w in writes
    )


def _lost(index: _Index, final: Mapping[Key, Seen]) -> list[Anomaly]:
    found = []
    for key, writes in index.by_key.items():
        why = _why_lost(index, writes, final.get(key))
        if why is not None:
            found.append(Anomaly(key, None, why))
    return found


def _why_lost(index: _Index, writes: list[_Write], end: Seen | None) -> str | None:
    """Why the final state `end` of a key (None: absent) loses an
    acknowledged write; None if it does not."""
    acked = _acknowledged(writes)
    if not acked:
        return None
    newest = acked[-1]
    vn = _version(newest)
    if end is None:
        if newest.is_delete or _deletes_may_be_newer(writes, vn, math.inf):
            return None
        return f"{newest} was acknowledged and is gone"
    v = index.version_of(end)
    if v is None:
        return None  # nothing to order it by (no version reported)
    if newest.is_delete:
        return f"{newest} was acknowledged, yet {end.write} at {v} is there" if v <= vn else None
    if v < vn:
        return f"{newest} was acknowledged, yet the end is older: {end.write} at {v}"
    if v == vn and end.write != newest.write:
        return f"{newest} was acknowledged, yet {end.write} has its version"
    return None


def _resurrected(index: _Index, reads: Sequence[Op]) -> list[Anomaly]:
    found = []
    for read in reads:
        for seen in read.seen:
            w = index.by_id.get(seen.write or "")
            if w is None or w.key != seen.key or w.op.failed:
                continue  # unexpected, reported there
            for d in index.writes(seen.key):
                if d.is_delete and d.op.ok and d.op.end < read.invoked and w.op.end < d.op.invoked:
                    found.append(
                        Anomaly(
                            seen.key,
                            read.index,
                            f"read {seen.write}, written before {d}, which was acknowledged "
                            "before the read",
                        )
                    )
                    break
    return found


def _stale(index: _Index, reads: Sequence[Op]) -> list[Anomaly]:
    found = []
    for read in reads:
        if read.kind != "get" or read.consistency not in ("quorum", "all"):
            continue
        seen = {s.key: s for s in read.seen}
        for key in dict.fromkeys(read.keys):
            writes = index.writes(key)
            before = _acknowledged(
                w
                for w in writes
                if w.op.end < read.invoked and _overlaps(w.op.consistency, read.consistency)
            )
            if not before:
                continue
            newest = before[-1]
            vn = _version(newest)
            got = seen.get(key)
            if got is None:
                if not newest.is_delete and not _deletes_may_be_newer(writes, vn, read.end):
                    found.append(Anomaly(key, read.index, f"read nothing after {newest}"))
                continue
            v = index.version_of(got)
            if v is not None and v < vn:
                found.append(Anomaly(key, read.index, f"read {got.write} at {v} after {newest}"))
    return found


def _overlaps(write_level: str, read_level: str) -> bool:
    """Whether a write at `write_level` must be seen by a read at
    `read_level` whatever the replication factor: ALL reads see every
    acknowledged write, QUORUM reads those at QUORUM or ALL."""
    return read_level == "all" or write_level in ("quorum", "all")


def _unexpected(index: _Index, reads: Sequence[Op], final: Iterable[Seen]) -> list[Anomaly]:
    found = []
    observations: list[tuple[Op | None, Seen]] = [(r, s) for r in reads for s in r.seen]
    observations += [(None, s) for s in final]
    for read, seen in observations:
        at = read.index if read is not None else None
        w = index.by_id.get(seen.write or "")
        if seen.write is None:
            found.append(Anomaly(seen.key, at, "an object without a write id"))
        elif w is None:
            found.append(Anomaly(seen.key, at, f"{seen.write} was never written"))
        elif w.key != seen.key:
            found.append(Anomaly(seen.key, at, f"{seen.write} was written to {w.key[1]}"))
        elif w.op.failed:
            found.append(Anomaly(seen.key, at, f"{w} failed, yet it was read"))
        elif read is not None and read.completed is not None and w.op.invoked > read.completed:
            found.append(Anomaly(seen.key, at, f"{w} was invoked after this read returned"))
    return found


def check(ops: Sequence[Op], final: Iterable[Seen]) -> CheckResult:
    """Check a history. `final`: what a read of every key returned once the
    cluster had settled (tests/harness/recording.py `final_reads`); a key it
    does not name was not there."""
    final = list(final)
    index = _Index(ops)
    reads = [op for op in ops if op.kind not in _WRITES and op.ok]
    return CheckResult(
        lost=tuple(_lost(index, {s.key: s for s in final})),
        resurrected=tuple(_resurrected(index, reads)),
        stale=tuple(_stale(index, reads)),
        unexpected=tuple(_unexpected(index, reads, final)),
        operations=len(ops),
    )
