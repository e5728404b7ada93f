"""Anti-entropy decisions, pure: what two replicas of a token range must
exchange, and which tombstones may be forgotten.

Replicas compare a digest of the (id, version, deleted) entries of each
range they share; for a range whose digests differ they exchange the entries
and each copy moves to the newest version of every id (last writer wins by
version, a tombstone being a version like any other). A tombstone is purged
only when it is older than the grace period and every other replica of its
range holds it too (or holds nothing for the id: then it purged it already)
— so no replica that still has the deleted object can bring it back — and
while every member of the map is active (`purge_allowed`), so no hint of an
older write is still on its way to one of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vektra.common.hlc import Version
from vektra.common.membership import MemberState

__all__ = [
    "Entry",
    "Reconciliation",
    "expired_tombstones",
    "purge_allowed",
    "purgeable",
    "range_digest",
    "reconcile",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """What a replica holds for one id: the version and whether it is a tombstone."""

    id: str
    version: Version
    deleted: bool


def range_digest(entries: Iterable[Entry]) -> bytes:
    """A digest of a range's entries, in the order the store keeps them
    (token, then id), so equal contents give equal digests on every replica."""
    h = hashlib.blake2b(digest_size=16)
    for e in entries:
        v = e.version
        h.update(f"{e.id}\0{v.physical_ms}.{v.logical}.{v.writer}\0{int(e.deleted)}\n".encode())
    return h.digest()


@dataclass(frozen=True, slots=True)
class Reconciliation:
    pull: tuple[str, ...]  # the peer's copy is newer, or only the peer has one
    push: tuple[str, ...]  # ours is newer, or only we have one
    # Our expired tombstones the peer agrees on (holds the same, or nothing).
    settled: frozenset[str]


def reconcile(
    mine: Sequence[Entry], theirs: Sequence[Entry], now_ms: int, grace_ms: int
) -> Reconciliation:
    ours = {e.id: e for e in mine}
    peer = {e.id: e for e in theirs}
    pull = [i for i, e in peer.items() if i not in ours or ours[i].version < e.version]
    push = []
    settled = set()
    for i, e in ours.items():
        expired = e.deleted and now_ms - e.version.physical_ms > grace_ms
        other = peer.get(i)
        if other is None:
            if expired:
                settled.add(i)  # the peer purged it already: nothing to bring back
            else:
                push.append(i)
        elif other.version < e.version:
            push.append(i)
        elif other.version == e.version and expired:
            settled.add(i)
    return Reconciliation(tuple(sorted(pull)), tuple(sorted(push)), frozenset(settled))


def purge_allowed(states: Iterable[MemberState]) -> bool:
    """Whether tombstones may be purged at all now: only while every member
    of the map is settled (`MemberState.lets_tombstones_go`). Replicas
    agreeing is not enough: a stand-in may still hold a hint of an older
    write for one of them, and once the tombstones are gone that hint, handed
    over late, would be the newest version anywhere — the deleted object
    back, then copied to every replica by anti-entropy."""
    return all(s.lets_tombstones_go for s in states)


def purgeable(per_peer: Sequence[Reconciliation], replicas: int) -> frozenset[str]:
    """Tombstones to purge after comparing a range with its other replicas:
    only when every one of them (`replicas` - 1 peers) was compared, and each
    settled the tombstone."""
    if len(per_peer) < replicas - 1:
        return frozenset()
    if not per_peer:
        return frozenset()  # a single replica: grace alone decides (see `expired`)
    settled = per_peer[0].settled
    for r in per_peer[1:]:
        settled &= r.settled
    return settled


def expired_tombstones(mine: Sequence[Entry], now_ms: int, grace_ms: int) -> frozenset[str]:
    """With no other replica (replication factor 1), a tombstone older than
    the grace period has nobody left to tell."""
    return frozenset(e.id for e in mine if e.deleted and now_ms - e.version.physical_ms > grace_ms)
