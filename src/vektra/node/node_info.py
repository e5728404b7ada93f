"""What a node reports about itself (NodeInfo), as domain values.

The coordinator's health check reads it every heartbeat to notice what it
must act on: a restart (`boot_id` changed), a wipe or a node behind the map
(cluster id, epoch, collection incarnations), hints pending for a member
(that member is not readable until they are handed over) and a finished
repair (`repaired_epoch`). One snapshot, taken by `Engine.info`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CollectionInfo", "NodeInfo"]


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    incarnation: str
    objects: int  # live objects


@dataclass(frozen=True, slots=True)
class NodeInfo:
    node_id: str
    boot_id: str  # new on every process start
    last_seq: int
    cluster_id: str  # "" = not in a cluster (serving alone)
    epoch: int
    collections: tuple[CollectionInfo, ...]
    hints: tuple[tuple[str, int], ...]  # (target, hints held for it), each count > 0
    repaired_epoch: int  # 0 = never since start (anti-entropy sets it)
    searched_objects: int  # objects searched since start
