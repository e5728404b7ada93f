"""The coordinator's shell around the planner: a whole plan is persisted at
once, then its effects run on the nodes, and only then do watchers (routers)
see the new map; an effect's failure comes back as an event. The map file
is real (tmp dir); the effects are recorded by a seam standing in for the
executor (unit level: the cluster tests run the real one)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from vektra.common.membership import ClusterMap
from vektra.common.schema import CollectionSchema
from vektra.coordinator.core import Coordinator, Effect, MapFile
from vektra.coordinator.planner import (
    Bootstrap,
    CreateCollection,
    Event,
    NodeReport,
    Policy,
    PublishMap,
    SyncFailed,
    SyncNodes,
)

SCHEMA = CollectionSchema.from_dict({"name": "docs", "vectors": {"v": {"dim": 4}}}).validated()
NODES = tuple((n, f"a:{n}", NodeReport(boot_id=f"b-{n}")) for n in ("n1", "n2"))


class Crash(Exception):
    pass


class CrashingMapFile(MapFile):
    """Fails (like a power cut) on the Nth save, before anything reaches disk."""

    def __init__(self, path: Path, crash_on: int) -> None:
        super().__init__(path)
        self.saves = 0
        self.crash_on = crash_on

    def save(self, cluster: ClusterMap) -> None:
        self.saves += 1
        if self.saves == self.crash_on:
            raise Crash
        super().save(cluster)


def coordinator(path: Path, effects: list[tuple[int, Effect]], crash_on: int = 0) -> Coordinator:
    async def run_effect(state: ClusterMap, effect: Effect) -> list[Event]:
        effects.append((state.epoch, effect))
        if isinstance(effect, SyncNodes) and "n2" in effect.node_ids:
            return [SyncFailed("n2", "UNAVAILABLE")]
        return []

    return Coordinator(
        CrashingMapFile(path, crash_on), Policy(), ClusterMap(default_replication_factor=2),
        run_effect,
    )  # fmt: skip


def test_a_whole_plan_is_persisted_once_and_a_crash_before_it_leaves_the_old_map(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cluster.json"
    effects: list[tuple[int, Effect]] = []

    async def scenario() -> None:
        c = coordinator(path, effects, crash_on=2)
        await c.handle(Bootstrap("cid", NODES))
        assert c.state.epoch == 1 and c.state.cluster_id == "cid"
        saved = json.loads(path.read_text())
        assert saved["epoch"] == 1 and saved["cluster_id"] == "cid"
        effects.clear()
        with pytest.raises(Crash):
            await c.handle(CreateCollection(SCHEMA, "inc-1"))
        # Nothing of the plan took effect: not in memory, not on disk, and no
        # node was told anything.
        assert c.state.collection("docs") is None and c.state.epoch == 1
        assert json.loads(path.read_text())["epoch"] == 1
        assert effects == []
        # A restarted coordinator from the file plans the event again.
        again = coordinator(path, effects)
        await again.handle(CreateCollection(SCHEMA, "inc-1"))
        created = again.state.collection("docs")
        assert created is not None and created.incarnation == "inc-1"
        assert again.state.epoch == 2 and json.loads(path.read_text())["epoch"] == 2

    asyncio.run(scenario())


def test_watchers_see_a_map_only_after_its_effects_ran_on_the_nodes(tmp_path: Path) -> None:
    effects: list[tuple[int, Effect]] = []
    seen: list[tuple[int, int]] = []  # (epoch seen by the watcher, effects run by then)

    async def scenario() -> None:
        c = coordinator(tmp_path / "cluster.json", effects)
        await c.handle(Bootstrap("cid", NODES))

        async def watch() -> None:
            async for state in c.watch(1):
                seen.append((state.epoch, len(effects)))
                return

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0)  # the watcher waits for a newer map
        effects.clear()
        await c.handle(CreateCollection(SCHEMA, "inc-1"))
        await watcher
        assert c.published.epoch == 2

    asyncio.run(scenario())
    kinds = [type(e) for _, e in effects]
    assert kinds.index(SyncNodes) < kinds.index(PublishMap)
    ((epoch, effects_by_then),) = seen
    assert epoch == 2 and effects_by_then == len(effects), "published after every effect"


def test_an_effects_failure_comes_back_as_an_event(tmp_path: Path) -> None:
    effects: list[tuple[int, Effect]] = []
    handled: list[Event] = []

    async def scenario() -> None:
        c = coordinator(tmp_path / "cluster.json", effects)
        original = c.handle

        async def recording(event: Event) -> list:  # type: ignore[type-arg]
            handled.append(event)
            return await original(event)

        c.handle = recording  # type: ignore[method-assign]
        await c.handle(Bootstrap("cid", NODES))

    asyncio.run(scenario())
    assert SyncFailed("n2", "UNAVAILABLE") in handled
