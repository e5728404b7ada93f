"""The coordinator's shell around the pure planner: it feeds events to
`plan`, applies and persists each action, publishes every new map to
watchers, and hands effects to the executor.
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
    apply,
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
        run_effect: Callable[[ClusterMap, Effect], Awaitable[None]],
    ) -> None:
        self._file = map_file
        self._policy = policy
        self._state = map_file.load() or initial
        self._run_effect = run_effect
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()

    @property
    def state(self) -> ClusterMap:
        return self._state

    async def handle(self, event: Event) -> list[Action]:
        """Plan, apply and persist one event; then carry out its effects.
        Raises the error of a Reject action (nothing changes then)."""
        async with self._lock:
            actions = plan(self._state, event, self._policy)
            for action in actions:
                if isinstance(action, Reject):
                    raise action.error
            before = self._state
            for action in actions:
                new = apply(self._state, action)
                if new != self._state:
                    self._state = new
                    # Persisted after each action: a crash leaves a prefix of
                    # the plan applied, which is a valid state.
                    await asyncio.to_thread(self._file.save, new)
            state = self._state
        if state.epoch != before.epoch:
            log.info("cluster map epoch %d: %s", state.epoch, _describe(state))
            async with self._changed:
                self._changed.notify_all()
        for action in actions:
            if isinstance(action, SyncNodes | PublishMap | DropOnNodes):
                await self._run_effect(state, action)
        return actions

    async def watch(self, known_epoch: int) -> AsyncIterator[ClusterMap]:
        """The current map if newer than `known_epoch`, then every newer one."""
        last = known_epoch
        while True:
            async with self._changed:
                await self._changed.wait_for(functools.partial(self._newer_than, last))
                state = self._state
            last = state.epoch
            yield state

    def _newer_than(self, epoch: int) -> bool:
        return self._state.epoch > epoch


def _describe(state: ClusterMap) -> str:
    members = ", ".join(f"{m.id}={m.state.value}" for m in state.members)
    return f"members [{members}], collections {[c.name for c in state.collections]}"
