"""Kill -9 a node every few seconds during mixed upsert, delete, search and
get load, restarting it each time; at the end every object is on exactly the
replicas the ring names (`Cluster.validate()`, within 60 s of the last
restart) and the history checker finds nothing lost, resurrected or
unexpected.

The schedule is the scenario: the pauses between kills are the load's time
to run, not waits for a condition. The short version runs in every CI run,
the long one is marked slow.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.harness.cluster import Cluster
from tests.harness.history import History
from tests.harness.recording import RecordingClient, create_recorded_collection
from vektra.common.errors import VektraError

DIM = 8
POOL = [f"k{i}" for i in range(300)]


def _load(writer: RecordingClient, stop: threading.Event, seed: int) -> None:
    """Mixed operations until told to stop; errors are recorded (as unknown
    outcomes) by the recording client and do not end the load."""
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed)
    while not stop.is_set():
        roll = rng.random()
        try:
            if roll < 0.45:
                ids = rng.sample(POOL, rng.randint(1, 20))
                writer.upsert(ids, vectors.normal(size=(len(ids), DIM)).astype(np.float32))
            elif roll < 0.65:
                writer.delete(rng.sample(POOL, rng.randint(1, 5)))
            elif roll < 0.85:
                writer.search(vectors.normal(size=DIM).astype(np.float32), k=10)
            else:
                writer.get(rng.sample(POOL, 10))
        except VektraError:
            pass  # recorded; a node is being killed under the load


def _kill_loop(tmp_path: Path, kills: int, every_s: float) -> None:
    with Cluster(tmp_path, nodes=3, rf=2) as cluster, cluster.client(timeout_s=10) as client:
        create_recorded_collection(client, "docs", dim=DIM, rf=2)
        history = History()
        writers = [RecordingClient(client, history, f"w{i}", "docs") for i in range(2)]
        stop = threading.Event()
        threads = [
            threading.Thread(target=_load, args=(w, stop, i), daemon=True)
            for i, w in enumerate(writers)
        ]
        for t in threads:
            t.start()
        try:
            for n in range(kills):
                time.sleep(every_s)
                victim = n % 3
                cluster.kill(victim)
                time.sleep(every_s / 2)
                cluster.restart(victim)
            time.sleep(every_s)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        cluster.validate(timeout_s=60)
        result = writers[0].check()
        result.assert_valid()
        ops = len(history.ops)
        assert ops > 50, f"the load ran ({ops} operations)"


def test_kill_nine_loop_short(tmp_path: Path) -> None:
    _kill_loop(tmp_path, kills=3, every_s=2.0)


@pytest.mark.slow
def test_kill_nine_loop_long(tmp_path: Path) -> None:
    _kill_loop(tmp_path, kills=15, every_s=3.0)
