"""Hinted handoff: the writes this node keeps as hints for a member (it
stood in for it, or the member failed a write this node took) go to that
member once the node's map says it is writable again.

A hint is the full write (`node.hints`), handed over as it came, with the
collection incarnation it was written in: the target decides by it. A hint
is dropped when the target answered APPLIED or STALE for it (it holds that
version or a newer one), and kept otherwise, to be sent again. Kept too
when the target is a step behind: it does not have the collection yet
(NOT_FOUND) or holds another incarnation while this node still holds the
hint's (the coordinator syncs it; dropping then would lose an acknowledged
write). An incarnation mismatch for an incarnation this node no longer holds
means the hint is obsolete: dropped.

What to do with an answer is decided by `settle`, pure; `Handoff` only reads
hints, sends and drops.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence

import grpc

from vektra.common.channels import NodeChannels
from vektra.common.errors import VektraError
from vektra.node.catalog import INCARNATION_MISMATCH
from vektra.node.engine import Engine
from vektra.node.hints import Hint
from vektra.node.wire import versioned_pb
from vektra.v1 import node_pb2 as npb

__all__ = ["Handoff", "Verdict", "settle", "settle_error"]

log = logging.getLogger(__name__)

_TAKEN = (npb.APPLY_OUTCOME_APPLIED, npb.APPLY_OUTCOME_STALE)


class Verdict(enum.Enum):
    DROP = "drop"  # the target has it (or it is obsolete): forget the hint
    KEEP = "keep"  # send it again later


def settle(hints: Sequence[Hint], outcomes: Sequence[int]) -> list[Verdict]:
    """Per hint, what the target's per-object outcomes mean. Answers that do
    not line up with what was sent keep every hint."""
    if len(outcomes) != len(hints):
        return [Verdict.KEEP] * len(hints)
    return [Verdict.DROP if o in _TAKEN else Verdict.KEEP for o in outcomes]


def settle_error(code: grpc.StatusCode, details: str, still_held: bool) -> Verdict:
    """What a failed Apply means for its hints. `still_held`: whether this node
    still holds the hints' collection incarnation."""
    if (
        code == grpc.StatusCode.FAILED_PRECONDITION
        and INCARNATION_MISMATCH in details
        and not still_held
    ):
        return Verdict.DROP
    return Verdict.KEEP


class Handoff:
    def __init__(
        self, engine: Engine, channels: NodeChannels, batch: int = 256, timeout_s: float = 10.0
    ) -> None:
        self._engine = engine
        self._channels = channels
        self._batch = batch
        self._timeout_s = timeout_s

    async def run_forever(self, interval_s: float = 1.0) -> None:
        while True:
            try:
                while await self.deliver_once():
                    pass  # more waiting: keep going without sleeping
            except Exception:
                log.exception("hinted handoff failed; will retry")
            await asyncio.sleep(interval_s)

    async def deliver_once(self) -> int:
        """Hand over one batch per (writable target, collection); returns how
        many hints were settled (dropped)."""
        hints = self._engine.store.hints
        settled = 0
        for target in await asyncio.to_thread(hints.targets):
            member = self._engine.cluster.member(target)
            if target == self._engine.node_id or member is None or not member.state.writable:
                continue
            for collection in await asyncio.to_thread(hints.collections, target):
                batch = await asyncio.to_thread(hints.pending, target, collection, self._batch)
                settled += await self._hand_over(member.address, batch)
        return settled

    async def _hand_over(self, address: str, batch: list[Hint]) -> int:
        """Send one collection's hints for one target, grouped by incarnation."""
        settled = 0
        for incarnation in sorted({h.incarnation for h in batch}):
            group = [h for h in batch if h.incarnation == incarnation]
            verdicts = await self._send(address, group)
            done = [h for h, v in zip(group, verdicts, strict=True) if v is Verdict.DROP]
            if done:
                settled += await asyncio.to_thread(self._engine.store.hints.drop, done)
        return settled

    async def _send(self, address: str, group: list[Hint]) -> list[Verdict]:
        first = group[0]
        cluster = self._engine.cluster
        request = npb.ApplyRequest(
            collection=first.collection,
            incarnation=first.incarnation,
            objects=[versioned_pb(h) for h in group],
        )
        try:
            response = await self._channels.internal(address).Apply(
                request,
                timeout=self._timeout_s,
                metadata=self._channels.metadata(cluster.epoch, cluster.cluster_id),
            )
        except grpc.aio.AioRpcError as exc:
            held = self._holds(first.collection, first.incarnation)
            verdict = settle_error(exc.code(), exc.details() or "", held)
            log.info(
                "handoff of %d writes of %s to %s failed (%s: %s); %s them",
                len(group),
                first.collection,
                first.target,
                exc.code().name,
                exc.details(),
                "dropping" if verdict is Verdict.DROP else "keeping",
            )
            return [verdict] * len(group)
        verdicts = settle(group, [o.outcome for o in response.outcomes])
        taken = sum(v is Verdict.DROP for v in verdicts)
        log.info(
            "handed %d of %d writes of %s over to %s",
            taken,
            len(group),
            first.collection,
            first.target,
        )
        return verdicts

    def _holds(self, collection: str, incarnation: str) -> bool:
        try:
            self._engine.check_incarnation(collection, incarnation)
        except VektraError:
            return False
        return True
