"""The cluster map as this node was last given it, on disk (`cluster` key of
the `meta` database).

    meta  cluster  -> {cluster_id, epoch, vnodes, members: [[id, address, state]]}

The whole view is one value written in one transaction, so a crash leaves
the old map or the new one, never a mix: after a restart the node still
knows its cluster (and refuses any other), its epoch (and refuses callers
routed by an older map) and the members it hands hints to. A node that was
never given a map loads the empty view: it serves alone.
"""

from __future__ import annotations

from typing import Any

from vektra.common.membership import Member, MemberState
from vektra.common.values import pack, unpack
from vektra.node.cluster_view import DEFAULT_VNODES, ClusterView
from vektra.node.lmdb_env import Db, LmdbEnv, Txn

__all__ = ["ClusterStore"]

_KEY = b"cluster"


def _encode(view: ClusterView) -> bytes:
    return pack(
        {
            "cluster_id": view.cluster_id,
            "epoch": view.epoch,
            "vnodes": view.vnodes,
            "members": [[m.id, m.address, m.state.value] for m in view.members],
        }
    )


def _decode(node_id: str, raw: bytes) -> ClusterView:
    d: dict[str, Any] = unpack(raw)
    return ClusterView(
        node_id=node_id,
        cluster_id=str(d["cluster_id"]),
        epoch=int(d["epoch"]),
        members=tuple(
            Member(str(mid), str(address), MemberState(state))
            for mid, address, state in d["members"]
        ),
        vnodes=int(d.get("vnodes") or DEFAULT_VNODES),
    )


class ClusterStore:
    def __init__(self, env: LmdbEnv, meta_db: Db) -> None:
        self._env = env
        self._meta = meta_db

    def load(self, node_id: str) -> ClusterView:
        """The view last saved, or the empty one (serving alone)."""
        with self._env.reader() as txn:
            raw = txn.get(_KEY, db=self._meta)
        return ClusterView(node_id) if raw is None else _decode(node_id, raw)

    def save(self, view: ClusterView) -> None:
        """Replace the saved view, in one transaction (durable on return)."""

        def txn_fn(txn: Txn) -> None:
            txn.put(_KEY, _encode(view), db=self._meta)

        self._env.write(txn_fn)
