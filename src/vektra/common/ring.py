"""Tokens and the consistent-hash ring: where a key sits, and who holds it.

token(collection, id) is a 64-bit hash of ``collection/id``. The same function
is the ring's hash (uhashring's `hash_fn`), so the token a node stores in its
LMDB keys is exactly the ring position routers route by, and a token range is
one contiguous scan on a node.

`Ring` is the ring of the members that own ranges (virtual nodes per member,
placed by uhashring). It is cut at every point into token ranges; each range
has a preference list, every owner once, clockwise from the range: its first
`rf` entries are the range's replicas, position 0 first. Routers (placement,
which replica answers a range) and nodes (which replica position a key it
stores has) compute it from the same cluster map, so they agree.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from uhashring import HashRing

__all__ = [
    "TOKEN_BITS",
    "TOKEN_END",
    "Ring",
    "TokenRange",
    "hash64",
    "token",
    "token_digests",
    "tokens",
]

TOKEN_BITS = 64
TOKEN_END = 1 << TOKEN_BITS  # exclusive end of the top range


def _hasher(key: str) -> Any:
    """The 64-bit hash every ring position comes from, fed `key`."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8)


def hash64(key: str) -> int:
    """A 64-bit position for any string key (ring points and object keys alike)."""
    return int.from_bytes(_hasher(key).digest(), "big")


def token(collection: str, object_id: str) -> int:
    return hash64(f"{collection}/{object_id}")


def token_digests(collection: str, ids: Sequence[str]) -> list[bytes]:
    """Each id's `token` as its 8 big-endian bytes (what storage keys hold):
    the collection's name hashed once, its hash state copied per id."""
    base = _hasher(f"{collection}/")
    out: list[bytes] = []
    for object_id in ids:
        h = base.copy()
        h.update(object_id.encode("utf-8"))
        out.append(h.digest())
    return out


def tokens(collection: str, ids: Sequence[str]) -> np.ndarray:
    """`token` of each id, as a uint64 array."""
    if not ids:
        return np.empty(0, dtype=np.uint64)
    return np.frombuffer(b"".join(token_digests(collection, ids)), dtype=">u8").astype(np.uint64)


@dataclass(frozen=True, slots=True)
class TokenRange:
    start: int  # inclusive
    end: int  # exclusive; TOKEN_END for the top of the ring
    preference: tuple[str, ...]  # every owner once, clockwise from this range

    def __contains__(self, tok: int) -> bool:
        return self.start <= tok < self.end

    def replicas(self, rf: int) -> tuple[str, ...]:
        return self.preference[:rf]


class Ring:
    def __init__(self, owners: Sequence[str], vnodes: int) -> None:
        self.owners: tuple[str, ...] = tuple(sorted(owners))
        self.vnodes = vnodes
        if self.owners:
            ring = HashRing(nodes={o: {"vnodes": vnodes} for o in self.owners}, hash_fn=hash64)
            points = ring.get_points()
        else:
            points = []
        self._points = [p for p, _ in points]
        self._point_owner = [n for _, n in points]
        self.ranges: tuple[TokenRange, ...] = tuple(self._cut())
        self._starts = [r.start for r in self.ranges]
        self._starts_np = np.asarray(self._starts, dtype=np.uint64)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ring) and (self.owners, self.vnodes) == (
            other.owners,
            other.vnodes,
        )

    def __hash__(self) -> int:
        return hash((self.owners, self.vnodes))

    def _cut(self) -> list[TokenRange]:
        """[previous point, point) belongs to the point's owner (a token maps to
        the first point above it, as uhashring looks keys up); the wrap range
        [last point, end) and [0, first point) to the first point's owner."""
        pts = self._points
        if not pts:
            return []
        out = [TokenRange(0, pts[0], self._walk(0))]
        out += [TokenRange(pts[i - 1], pts[i], self._walk(i)) for i in range(1, len(pts))]
        out.append(TokenRange(pts[-1], TOKEN_END, self._walk(0)))
        return [r for r in out if r.start < r.end]

    def _walk(self, index: int) -> tuple[str, ...]:
        seen: list[str] = []
        n = len(self._point_owner)
        for step in range(n):
            owner = self._point_owner[(index + step) % n]
            if owner not in seen:
                seen.append(owner)
                if len(seen) == len(self.owners):
                    break
        return tuple(seen)

    # ------------------------------------------------------------ lookups

    def range_index(self, tok: int) -> int:
        return bisect.bisect_right(self._starts, tok) - 1

    def range_of(self, tok: int) -> TokenRange:
        return self.ranges[self.range_index(tok)]

    def range_indexes(self, tokens: np.ndarray) -> np.ndarray:
        """`range_index` of every token of a uint64 array, at once."""
        return np.searchsorted(self._starts_np, tokens.astype(np.uint64), side="right") - 1

    def preference(self, tok: int) -> tuple[str, ...]:
        return self.range_of(tok).preference if self.ranges else ()

    def replicas(self, tok: int, rf: int) -> tuple[str, ...]:
        return self.preference(tok)[:rf]

    def position(self, tok: int, member: str, rf: int) -> int | None:
        """Which replica of the key `member` is (0 leads), or None if none."""
        reps = self.replicas(tok, rf)
        return reps.index(member) if member in reps else None
