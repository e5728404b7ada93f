"""What a system under test offers the workloads.

Vektra's topologies and every baseline are a `System`: started on an empty
store for each round, given the dataset, and asked for the operations it
`supports`. Objects are the dataset's rows: id `str(row)` (an int where the
engine wants one), the row's properties, its vector; searches answer with row
numbers, so recall is computed alike for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vektra.bench.data import Dataset, FilterCase
from vektra.bench.procstats import ProcessSet
from vektra.common.schema import DEFAULT_EF_CONSTRUCTION, DEFAULT_M

__all__ = ["OPERATIONS", "NotSupported", "Params", "System"]

# Every operation a workload may ask for.
OPERATIONS = frozenset(
    {
        "upsert",  # a batch of rows (ingest, re-upsert)
        "upsert_one",  # one row per call
        "get",  # by id, any number per call
        "filter_query",  # objects matching a filter, properties returned
        "search",  # one query vector
        "search_batch",  # many query vectors in one call
        "filtered_search",  # one query vector and a filter
        "delete",  # a batch of ids
    }
)


class NotSupported(Exception):
    """The system has no such operation (the table shows a dash)."""


@dataclass(frozen=True)
class Params:
    """Index and search parameters every system is given alike. M and
    ef_construction are Vektra's collection defaults; ef 32 and k 10 are
    the speed issue's batched-search figures."""

    m: int = DEFAULT_M
    ef_construction: int = DEFAULT_EF_CONSTRUCTION
    ef: int = 32
    k: int = 10
    threads: int = 2  # hnswlib add_items / knn_query threads; Qdrant's indexing threads
    batch_size: int = 1000  # objects per write call
    search_batch: int = 64  # queries per batched search call
    seed: int = 100


class System:
    """A system under test. Subclasses set `name`, `label`, `kind` and
    `supports`, and implement those operations."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""  # the report's column header
    kind: ClassVar[str] = "baseline"  # or "vektra"
    supports: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: Params) -> None:
        self.params = params
        self.ds: Dataset | None = None
        self.processes = ProcessSet.client_only()

    # ------------------------------------------------------------ lifecycle

    def unavailable(self) -> str | None:
        """Why this system cannot run here ("not installed"), or None."""
        return None

    def start(self, ds: Dataset, workdir: Path) -> None:
        """Open an empty store in `workdir` for `ds`."""
        self.ds = ds

    def stop(self) -> None:
        """Release everything `start` opened; safe to call twice."""

    def after_ingest(self) -> None:
        """Whatever makes ingested data fully searchable (built into the
        ingest time: Qdrant Edge's optimizer builds its HNSW here)."""

    def prepare_ef(self, ef: int) -> None:
        """Make `ef` the search ef before a timed run, for engines where it
        is an index setting rather than a per-query argument."""

    @property
    def data(self) -> Dataset:
        assert self.ds is not None, "start() first"
        return self.ds

    # ------------------------------------------------------------ operations

    def upsert(self, rows: np.ndarray, vectors: np.ndarray | None = None) -> None:
        """Write these rows (their own vectors unless `vectors` is given)."""
        raise NotSupported

    def upsert_one(self, row: int, vector: np.ndarray | None = None) -> None:
        self.upsert(np.asarray([row]), None if vector is None else vector[None, :])

    def get(self, rows: np.ndarray) -> int:
        """Fetch objects by id (properties, no vectors); how many were found."""
        raise NotSupported

    def filter_query(self, case: FilterCase) -> int:
        """All objects matching `case`, properties returned; how many."""
        raise NotSupported

    def search(self, query: np.ndarray, k: int, ef: int) -> list[int]:
        return self.batch_ids(self.search_batch(query[None, :], k, ef))[0]

    def search_batch(self, queries: np.ndarray, k: int, ef: int) -> Any:
        """The k nearest of each query row, as the system's API hands them
        over (the timed part); `batch_ids` reads them as row numbers."""
        raise NotSupported

    def batch_ids(self, answer: Any) -> list[list[int]]:
        """The row numbers of a `search_batch` answer, one list per query.
        Kept out of the timing: turning 640 string ids into ints for recall
        is the benchmark's work, not the system's (it was 5% of Vektra's
        embedded batched call and none of raw hnswlib's)."""
        found: list[list[int]] = answer
        return found

    def filtered_search(
        self, query: np.ndarray, k: int, case: FilterCase, ef: int
    ) -> tuple[list[int], str | None]:
        """Hits among the rows `case` matches, and the plan the engine chose
        (None when it does not say)."""
        raise NotSupported

    def delete(self, rows: np.ndarray) -> None:
        raise NotSupported
