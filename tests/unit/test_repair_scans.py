"""Anti-entropy reads a range whole only when it may purge something there:
a single replica's ranges at most every quarter of the grace period (age
alone frees its tombstones), and never a range of rf > 1 that was not
compared with its peers this pass. On a real engine (LMDB) in a one-node
cluster; no peer is ever called."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import numpy as np

from vektra.common.channels import NodeChannels
from vektra.common.hlc import Version
from vektra.common.membership import Member, MemberState
from vektra.node.config import RepairConfig
from vektra.node.engine import Engine
from vektra.node.records import Write
from vektra.node.repair import Repair

from .helpers import make_schema, open_engine

ME = Member("node-a", "127.0.0.1:1", MemberState.ACTIVE)
GRACE_S = 0.4


def _engine(tmp_path: Path, rf: int) -> Engine:
    e = open_engine(tmp_path, node_id="node-a")
    e.set_epoch("c1", 1, (ME,), 8)
    schema = dataclasses.replace(make_schema(), replication_factor=rf, incarnation="inc-1")
    e.ensure_collection(schema)
    old = Version(1_000, 0, "router-0")  # long past the grace period
    vec = {"v": np.ones(8, dtype=np.float32)}
    e.apply("docs", [Write(f"id{i}", old, False, {}, vec) for i in range(6)], "inc-1")
    e.apply("docs", [Write(f"id{i}", Version(2_000, 0, "router-0"), True) for i in range(3)])
    return e


async def _passes(repair: Repair, n: int) -> None:
    for _ in range(n):
        await repair.run_pass()


def test_a_single_replica_is_read_for_expired_tombstones_once_per_quarter_grace(
    tmp_path: Path,
) -> None:
    e = _engine(tmp_path, rf=1)
    config = RepairConfig(interval_s=0.0, tombstone_grace_s=GRACE_S, max_objects_per_s=0)
    repair = Repair(e, NodeChannels("node-a"), config)
    asyncio.run(_passes(repair, 1))
    first = repair.scans
    assert first >= 1
    assert [e.get_versions("docs", [f"id{i}"])[0] for i in range(3)] == [None] * 3, "purged"
    assert all(r is not None for r in e.get_versions("docs", ["id3", "id4", "id5"]))
    asyncio.run(_passes(repair, 3))  # within a quarter grace: nothing read again
    assert repair.scans == first
    time.sleep(GRACE_S / 4 + 0.05)  # the throttle is a span of time
    asyncio.run(_passes(repair, 1))
    assert repair.scans == 2 * first
    e.close()


def test_a_range_of_rf_2_not_compared_with_its_peer_is_not_read(tmp_path: Path) -> None:
    # The only member of the ring holds rf 2 collections' ranges alone: no
    # peer to compare with, so nothing may be purged, and nothing is read.
    e = _engine(tmp_path, rf=2)
    config = RepairConfig(interval_s=0.0, tombstone_grace_s=GRACE_S, max_objects_per_s=0)
    repair = Repair(e, NodeChannels("node-a"), config)
    asyncio.run(_passes(repair, 2))
    assert repair.scans == 0
    tombstone = e.get_versions("docs", ["id0"])[0]
    assert tombstone is not None and tombstone.deleted, "kept: no peer has settled it"
    e.close()
