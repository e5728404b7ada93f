"""The coordinator's shell around the pure planner.

For each event: `plan` it, apply the whole plan and persist the new map at
once (one fsync and rename: a crash leaves the old map or the new one, never
a part), then run the plan's effects on the nodes (syncs, drops, the new
map), and only then publish the map to watchers (routers), so a router never
routes by a map the nodes have not been given. What an effect reports comes
back as an event.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from vektra.common.membership import ClusterMap
from vektra.coordinator.planner import (
    Action,
    DropOnNodes,
    Event,
    Policy,
    PublishMap,
    Reject,
    SyncNodes,
    apply_all,
    plan,
)

__all__ = ["Coordinator", "MapFile"]

log = logging.getLogger(__name__)

Effect = SyncNodes | PublishMap | DropOnNodes


class MapFile:
    """The cluster map on disk: written to a temp file, fsynced, renamed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> ClusterMap | None:
        try:
            return ClusterMap.from_dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None

    def save(self, cluster: ClusterMap) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump(cluster.to_dict(), f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Coordinator:
    def __init__(
        self,
        map_file: MapFile,
        policy: Policy,
        initial: ClusterMap,
        run_effect: Callable[[ClusterMap, Effect], Awaitable[list[Event]]],
    ) -> None:
        self._file = map_file
        self._policy = policy
        self._state = map_file.load() or initial
        self._run_effect = run_effect
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        # Why this coordinator refused to bootstrap ("" = it did not).
        self.refusal = ""
        # The newest map whose effects on the nodes have run: what routers see.
        self._published = self._state

    @property
    def state(self) -> ClusterMap:
        """The current map (persisted; its effects may still be running)."""
        return self._state

    @property
    def published(self) -> ClusterMap:
        """The newest map the nodes have been given: what routers route by."""
        return self._published

    async def handle(self, event: Event) -> list[Action]:
        """Plan one event, persist the whole plan, run its effects, publish.
        Raises the error of a Reject action (nothing changes then)."""
        async with self._lock:
            actions = plan(self._state, event, self._policy)
            for action in actions:
                if isinstance(action, Reject):
                    raise action.error
            before = self._state
            new = apply_all(before, actions)
            if new != before:
                await asyncio.to_thread(self._file.save, new)
                self._state = new
        if new.epoch != before.epoch:
            log.info("cluster map epoch %d: %s", new.epoch, _describe(new))
        # Nodes first (PublishMap last among them), routers after.
        effects: list[Effect] = [a for a in actions if isinstance(a, SyncNodes | DropOnNodes)]
        effects += [a for a in actions if isinstance(a, PublishMap)]
        results: list[Event] = []
        for effect in effects:
            results += await self._run_effect(new, effect)
        if new.epoch != before.epoch:
            async with self._changed:
                if new.epoch > self._published.epoch:
                    self._published = new
                self._changed.notify_all()
        for result in results:
            log.info("effect result: %s", result)
            await self.handle(result)
        return actions

    async def watch(self, known_epoch: int) -> AsyncIterator[ClusterMap]:
        """The current map if newer than `known_epoch`, then every newer one."""
        last = known_epoch
        while True:
            async with self._changed:
                await self._changed.wait_for(functools.partial(self._newer_than, last))
                state = self._published
            last = state.epoch
            yield state

    def _newer_than(self, epoch: int) -> bool:
        return self._published.epoch > epoch


def _describe(state: ClusterMap) -> str:
    members = ", ".join(f"{m.id}={m.state.value}" for m in state.members)
    collections = [f"{c.name}#{c.incarnation[:8]}" for c in state.collections]
    return f"cluster {state.cluster_id[:8]}, members [{members}], collections {collections}"
