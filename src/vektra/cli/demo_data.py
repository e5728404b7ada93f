"""Real data every machine has, for demos: the Python standard library's
docstrings, and a small deterministic text vectorizer to embed them.

`embed` is not a language model: it hashes words and word pairs and projects
them at random, so texts sharing vocabulary land close together. That is
enough to show search, filters and replication working on real text without
downloading a model. For model-quality vectors use `load_shared_dataset`
(all-MiniLM-L6-v2 embeddings of the same kind of docstrings).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import io
import itertools
import json
import math
import pkgutil
import re
import sys
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["embed", "load_shared_dataset", "stdlib_docstrings"]

MAX_TEXT_CHARS = 2_000

# Importing these opens windows or browsers, prints, or drags in test suites.
_SKIP_PARTS = frozenset(
    {
        "test",
        "tests",
        "idle_test",
        "idlelib",
        "tkinter",
        "turtle",
        "turtledemo",
        "antigravity",
        "this",
        "__main__",
        "__hello__",
        "__phello__",
    }
)


# ---------------------------------------------------------------- docstrings


def stdlib_docstrings(limit: int | None = None) -> list[dict[str, Any]]:
    """Docstrings of the standard library's modules, classes, functions and
    methods, one item per distinct text, in a stable order:
    {"id": dotted name, "package": "stdlib", "module": top-level module,
    "length": len(text), "text": text cut to 2,000 characters}.

    `length` is the length of the stored (cut) text, as in the shared dataset.
    Imports run with warnings off and output captured; a module that fails to
    import or prints while importing is skipped.
    """
    items: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    for module in _stdlib_modules():
        top = module.__name__.partition(".")[0]
        for object_id, doc in _docstrings(module):
            text = inspect.cleandoc(doc)[:MAX_TEXT_CHARS].strip()
            if not text or object_id in seen_ids or text in seen_texts:
                continue
            seen_ids.add(object_id)
            seen_texts.add(text)
            items.append(
                {
                    "id": object_id,
                    "package": "stdlib",
                    "module": top,
                    "length": len(text),
                    "text": text,
                }
            )
            if limit is not None and len(items) >= limit:
                return items
    return items


def _skipped(name: str) -> bool:
    return any(part in _SKIP_PARTS for part in name.split("."))


def _quiet_import(name: str) -> ModuleType | None:
    """Import `name`, or None if it fails or writes anything while importing."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            warnings.simplefilter("ignore")
            module = importlib.import_module(name)
    except BaseException as exc:  # some modules raise SystemExit or worse on import
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None
    if out.getvalue():
        return None
    return module


def _stdlib_modules() -> Iterator[ModuleType]:
    for top in sorted(sys.stdlib_module_names):
        if _skipped(top):
            continue
        module = _quiet_import(top)
        if module is None:
            continue
        yield module
        yield from _submodules(module)


def _submodules(package: ModuleType) -> Iterator[ModuleType]:
    path = getattr(package, "__path__", None)
    if not path:
        return
    infos = sorted(pkgutil.iter_modules(path, prefix=package.__name__ + "."), key=lambda m: m.name)
    for info in infos:
        if _skipped(info.name):
            continue
        module = _quiet_import(info.name)
        if module is None:
            continue
        yield module
        if info.ispkg:
            yield from _submodules(module)


def _docstrings(module: ModuleType) -> Iterator[tuple[str, str]]:
    """(dotted id, raw docstring) of the module and of the public classes,
    functions and methods it defines (not re-exports, which appear under the
    module that defines them)."""
    name = module.__name__
    if isinstance(module.__doc__, str):
        yield name, module.__doc__
    for attr, value in sorted(vars(module).items()):
        if attr.startswith("_") or getattr(value, "__module__", None) != name:
            continue
        if inspect.isclass(value):
            if isinstance(value.__doc__, str):
                yield f"{name}.{attr}", value.__doc__
            for member_name, member in sorted(vars(value).items()):
                if member_name.startswith("_"):
                    continue
                if isinstance(member, staticmethod | classmethod):
                    member = member.__func__
                doc = getattr(member, "__doc__", None)
                if (inspect.isroutine(member) or isinstance(member, property)) and isinstance(
                    doc, str
                ):
                    yield f"{name}.{attr}.{member_name}", doc
        elif inspect.isroutine(value) and isinstance(value.__doc__, str):
            yield f"{name}.{attr}", value.__doc__


# ---------------------------------------------------------------- embedding

_BUCKETS = 1 << 18
_NONZEROS = 16  # per projection row: enough for inner products, cheap to apply
_TOKEN = re.compile(r"\w+")
# Without corpus statistics (idf from the batch would make a query's vector
# disagree with the documents'), these frequent words get a fixed low weight.
_STOPWORD_TEXT = """
    a an and are as at be been being but by can could did do does done for from had has
    have he her here his how i if in into is it its itself may me might more most must
    my no nor not of on once only or other our out over own same she should so some such
    than that the their them then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you
    your
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_STOPWORD_WEIGHT = 0.1
_BIGRAM_WEIGHT = 0.7
_CHUNK_ENTRIES = 1 << 17  # sparse entries projected at once: bounds temporary memory


def embed(texts: list[str], dim: int = 384, seed: int = 7) -> np.ndarray:
    """Deterministic text vectors: (len(texts), dim) float32, rows L2-normalized
    (an empty text gives a zero row).

    Lower-cased word tokens and word bigrams are hashed (CRC-32) into 2**18
    buckets, weighted 1 + log(tf) (lower for stopwords and bigrams), and
    projected to `dim` by a fixed sparse Gaussian matrix derived from `seed`
    (16 nonzeros per bucket, never built dense), so the same text embeds the
    same way in any process and any numpy version. About 0.5 ms per docstring.
    """
    if dim < 1:
        raise ValueError(f"dim must be positive, got {dim}")
    docs, buckets, weights = _features(texts)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if buckets.size:
        _project(out, docs, buckets, weights, seed)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _features(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse document-by-bucket weights as parallel arrays (doc, bucket,
    weight), sorted by doc. Buckets come from CRC-32, not hash(), which is
    salted per process."""
    docs: list[int] = []
    buckets: list[int] = []
    weights: list[float] = []
    log, crc32, mask, stop = math.log, zlib.crc32, _BUCKETS - 1, _STOPWORDS
    for i, text in enumerate(texts):
        tokens = _TOKEN.findall(text.lower())
        unigrams = Counter(tokens)
        bigrams = Counter(
            f"{a} {b}" for a, b in itertools.pairwise(tokens) if a not in stop or b not in stop
        )
        per_bucket: dict[int, float] = {}
        for feature, tf in unigrams.items():
            bucket = crc32(feature.encode()) & mask
            weight = _STOPWORD_WEIGHT if feature in stop else 1.0
            per_bucket[bucket] = per_bucket.get(bucket, 0.0) + weight * (1.0 + log(tf))
        for feature, tf in bigrams.items():
            bucket = crc32(feature.encode()) & mask
            per_bucket[bucket] = per_bucket.get(bucket, 0.0) + _BIGRAM_WEIGHT * (1.0 + log(tf))
        docs.extend([i] * len(per_bucket))
        buckets.extend(per_bucket)
        weights.extend(per_bucket.values())
    return (
        np.asarray(docs, dtype=np.int64),
        np.asarray(buckets, dtype=np.int64),
        np.asarray(weights, dtype=np.float32),
    )


def _project(
    out: np.ndarray, docs: np.ndarray, buckets: np.ndarray, weights: np.ndarray, seed: int
) -> None:
    """out += X @ R for the sparse X given as (docs, buckets, weights) sorted by
    doc: every entry adds its weight times its bucket's few nonzeros, summed
    per output cell with bincount, a chunk of entries at a time."""
    dim = out.shape[1]
    coords, values = _projection(seed, dim)
    flat = out.reshape(-1)
    for lo in range(0, buckets.size, _CHUNK_ENTRIES):
        hi = min(buckets.size, lo + _CHUNK_ENTRIES)
        first_doc, last_doc = int(docs[lo]), int(docs[hi - 1])
        cells = (docs[lo:hi, None] - first_doc) * dim + coords[buckets[lo:hi]]
        amounts = weights[lo:hi, None] * values[buckets[lo:hi]]
        sums = np.bincount(
            cells.ravel(), amounts.ravel(), minlength=(last_doc - first_doc + 1) * dim
        )
        flat[first_doc * dim : (last_doc + 1) * dim] += sums.astype(np.float32)


@functools.lru_cache(maxsize=4)
def _projection(seed: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The sparse Gaussian projection: for each bucket, `_NONZEROS` output
    coordinates (int64, (buckets, nonzeros)) and N(0, 1/nonzeros) values
    (float32). 2**18 x 16 entries: 48 MiB instead of 384 MiB for the dense
    matrix, and a sparse JL projection preserves inner products about as well.

    Built from raw PCG64 output (Box-Muller for the normals): the bit stream of
    PCG64 seeded through SeedSequence is stable across numpy versions, whereas
    Generator's sampling algorithms may change."""
    bits = np.random.PCG64(np.random.SeedSequence([seed, dim]))
    shape = (_BUCKETS, _NONZEROS)
    coords = (bits.random_raw(shape) % np.uint64(dim)).astype(np.int64)
    raw = bits.random_raw(shape)
    u1 = ((raw >> np.uint64(32)).astype(np.float64) + 0.5) / 2.0**32
    u2 = ((raw & np.uint64(0xFFFFFFFF)).astype(np.float64) + 0.5) / 2.0**32
    normals = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    values = (normals / math.sqrt(_NONZEROS)).astype(np.float32)
    return coords, values


# ---------------------------------------------------------------- shared dataset


def load_shared_dataset(root: Path) -> tuple[list[dict[str, Any]], np.ndarray] | None:
    """The shared docstrings dataset under `root` (e.g. ../shared/datasets):
    its records (id, package, module, length, text) and their (n, 384) float32
    all-MiniLM-L6-v2 vectors, or None when the files are not there."""
    folder = Path(root) / "docstrings"
    records_path, vectors_path = folder / "base.jsonl", folder / "base.npy"
    if not (records_path.is_file() and vectors_path.is_file()):
        return None
    with records_path.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    vectors = np.load(vectors_path).astype(np.float32, copy=False)
    if vectors.ndim != 2 or vectors.shape[0] != len(records):
        raise ValueError(f"{folder}: {len(records)} records but vectors of shape {vectors.shape}")
    return records, vectors
