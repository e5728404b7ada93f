"""The ring (common.ring): agreement with uhashring's own lookups, token
ranges, preference lists and replica positions."""

from __future__ import annotations

import itertools
import random

import numpy as np
from uhashring import HashRing

from vektra.common.ring import TOKEN_END, Ring, hash64, token


def test_ranges_cover_the_ring_and_agree_with_uhashring() -> None:
    ring = Ring(["n0", "n1", "n2", "n3"], vnodes=32)
    ranges = ring.ranges
    assert ranges[0].start == 0 and ranges[-1].end == TOKEN_END
    assert all(a.end == b.start for a, b in itertools.pairwise(ranges))
    reference = HashRing(nodes={f"n{i}": {"vnodes": 32} for i in range(4)}, hash_fn=hash64)
    rng = random.Random(1)
    for _ in range(2000):
        key = f"docs/id{rng.random()}"
        t = hash64(key)
        (r,) = [r for r in ranges if t in r]
        assert r is ring.range_of(t)
        assert list(r.preference) == list(reference.iterate_nodes(key))
        assert r.preference[0] == reference.get_node(key)


def test_range_indexes_of_many_tokens_at_once() -> None:
    ring = Ring(["a", "b", "c"], vnodes=16)
    tokens = np.asarray([token("c", f"k{i}") for i in range(500)], dtype=np.uint64)
    at = ring.range_indexes(tokens)
    assert [int(i) for i in at] == [ring.range_index(int(t)) for t in tokens]


def test_replicas_are_distinct_spread_and_positions_name_them() -> None:
    ring = Ring(["n0", "n1", "n2"], vnodes=64)
    counts = dict.fromkeys(ring.owners, 0)
    for i in range(3000):
        t = token("docs", f"k{i}")
        reps = ring.replicas(t, 2)
        assert len(reps) == 2 and len(set(reps)) == 2
        assert [ring.position(t, n, 2) for n in reps] == [0, 1]
        assert ring.position(t, next(n for n in ring.owners if n not in reps), 2) is None
        for r in reps:
            counts[r] += 1
    assert min(counts.values()) > 0.5 * max(counts.values()), counts


def test_a_ring_depends_only_on_its_owners_and_vnodes() -> None:
    assert Ring(["b", "a"], 8) == Ring(["a", "b"], 8)
    assert Ring(["a", "b"], 8).ranges == Ring(["b", "a"], 8).ranges
    assert Ring(["a", "b"], 8) != Ring(["a", "b"], 16)
    assert Ring([], 8).ranges == () and Ring([], 8).preference(5) == ()
