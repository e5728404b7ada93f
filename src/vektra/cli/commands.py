"""The client commands of the `vektra` command line:

    vektra cluster status
    vektra collection create NAME --vector NAME:DIM[:METRIC] ...
                                  [--property NAME:TYPE[:noindex] ...]
                                  [--rf N] [--m N] [--ef-construction N] [--ef N]
    vektra collection list | describe NAME | drop NAME [--yes]
    vektra import FILE --collection NAME [--field F] [--batch-size N] [--id-key KEY] [--ids-file F]
    vektra search --collection NAME (--vector JSON | --vector-file F.npy [--row N])
                  [--k N] [--field F] [--filter JSON] [--ef N]
    vektra get --collection NAME [--vectors] ID...

Each takes `--addr HOST:PORT[,HOST:PORT...]` (default `$VEKTRA_ADDR`, else
127.0.0.1:7700), `--timeout S`, and `--json` for one JSON document on stdout
instead of tables.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vektra.cli.importer import chunked, count_jsonl, load_matrix, read_jsonl, read_npy
from vektra.cli.output import (
    ProgressBar,
    Styled,
    dump_json,
    format_table,
    is_terminal,
    print_table,
)
from vektra.client._sync import DEFAULT_ADDRESS, Client
from vektra.client.models import ClusterStatus, Object, Version
from vektra.common.errors import InvalidArgument, VektraError
from vektra.common.limits import Limits
from vektra.common.schema import Metric, PropertyType

__all__ = ["CliError", "add_client_commands", "default_address", "status_table"]

_LIMITS = Limits()
# Import batches stay far below the SDK's own byte split (half the server's
# batch limit), so one CLI batch is one request and a server error's
# objects[i] is exactly the i-th object of the batch we sent.
_IMPORT_BATCH_BYTES = 8 << 20
_HNSW_KEYS = ("m", "ef_construction", "ef")
# How `cluster status` colours node states on a terminal.
_STATE_STYLES = {"active": "green", "joining": "yellow", "draining": "yellow", "down": "red"}


class CliError(Exception):
    """A usage problem the CLI reports as `vektra: <message>`, exit 2."""


def default_address(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("VEKTRA_ADDR") or DEFAULT_ADDRESS


# ---------------------------------------------------------------- argument types


def vector_spec(text: str) -> tuple[str, dict[str, Any]]:
    """NAME:DIM[:METRIC] -> (name, {"dim", "metric"})."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME:DIM[:METRIC]")
    try:
        dim = int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: DIM must be an integer") from None
    metric = parts[2] if len(parts) == 3 else Metric.COSINE.value
    metrics = [m.value for m in Metric]
    if metric not in metrics:
        raise argparse.ArgumentTypeError(f"{text!r}: METRIC must be one of {', '.join(metrics)}")
    return parts[0], {"dim": dim, "metric": metric}


def property_spec(text: str) -> tuple[str, dict[str, Any]]:
    """NAME:TYPE[:noindex] -> (name, {"type", "indexed"})."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or (len(parts) == 3 and parts[2] != "noindex"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME:TYPE or NAME:TYPE:noindex")
    types = [t.value for t in PropertyType]
    if parts[1] not in types:
        raise argparse.ArgumentTypeError(f"{text!r}: TYPE must be one of {', '.join(types)}")
    return parts[0], {"type": parts[1], "indexed": len(parts) == 2}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _batch_size(text: str) -> int:
    value = _positive_int(text)
    if value > _LIMITS.max_batch_objects:
        raise argparse.ArgumentTypeError(f"at most {_LIMITS.max_batch_objects} objects a batch")
    return value


def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what}: not valid JSON ({exc.msg}): {text!r}") from None


def _existing_file(path: Path, flag: str | None = None) -> Path:
    if not path.is_file():
        raise CliError(f"{flag + ': ' if flag else ''}no such file: {path}")
    return path


# ---------------------------------------------------------------- shared output


def _client(args: argparse.Namespace) -> Client:
    return Client(args.addr, timeout_s=args.timeout)


def status_table(status: ClusterStatus) -> str:
    """The members table, styled when stdout is a terminal (it is printed there)."""
    rows = [
        (n.id, n.address, Styled(n.state, _STATE_STYLES.get(n.state, "")), n.objects)
        for n in status.nodes
    ]
    return format_table(
        ["NODE", "ADDRESS", "STATE", "OBJECTS"], rows, terminal=is_terminal(sys.stdout)
    )


def _version_text(version: Version | None) -> str | None:
    if version is None:
        return None
    return f"{version.physical_ms}.{version.logical}@{version.writer}"


def _vectors_text(obj: Object) -> str:
    return ", ".join(f"{name}[{len(v)}]" for name, v in obj.vectors.items()) or "-"


def _schema_row(schema: Mapping[str, Any]) -> tuple[Any, ...]:
    vectors = ", ".join(f"{v['name']}:{v['dim']}:{v['metric']}" for v in schema["vectors"])
    props = ", ".join(p["name"] for p in schema["properties"]) or "-"
    return schema["name"], vectors, props, schema["replication_factor"]


def _print_describe(info: Mapping[str, Any]) -> None:
    head = f"collection {info['name']}: replication factor {info['replication_factor']}"
    if "objects" in info:
        head += f", {info['objects']:,} objects"
    print(head + "\n")
    print_table(
        ["VECTOR", "DIM", "METRIC", "M", "EF_CONSTRUCTION", "EF"],
        [
            (v["name"], v["dim"], v["metric"], *(v["hnsw"][k] for k in _HNSW_KEYS))
            for v in info["vectors"]
        ],
    )
    if info["properties"]:
        print()
        print_table(
            ["PROPERTY", "TYPE", "INDEXED"],
            [(p["name"], p["type"], "yes" if p["indexed"] else "no") for p in info["properties"]],
        )


# ---------------------------------------------------------------- cluster and collections


def cmd_cluster_status(args: argparse.Namespace) -> int:
    with _client(args) as c:
        status = c.cluster_status()
    if args.json:
        dump_json(status)
    else:
        active = sum(1 for n in status.nodes if n.state == "active")
        print(f"epoch {status.epoch}: {active} of {len(status.nodes)} nodes active\n")
        print(status_table(status))
    return 0


def cmd_collection_create(args: argparse.Namespace) -> int:
    vectors: dict[str, dict[str, Any]] = {}
    for name, spec in args.vector:
        if name in vectors:
            raise CliError(f"--vector {name}: given twice")
        hnsw = {"m": args.m, "ef_construction": args.ef_construction, "ef": args.ef}
        vectors[name] = {**spec, "hnsw": {k: v for k, v in hnsw.items() if v is not None}}
    properties: dict[str, dict[str, Any]] = {}
    for name, spec in args.property or []:
        if name in properties:
            raise CliError(f"--property {name}: given twice")
        properties[name] = spec
    with _client(args) as c:
        created = c.create_collection(
            args.name, vectors=vectors, properties=properties, replication_factor=args.rf
        )
    if args.json:
        dump_json(created)
    else:
        _print_describe(created)
    return 0


def cmd_collection_list(args: argparse.Namespace) -> int:
    with _client(args) as c:
        schemas = c.list_collections()
    if args.json:
        dump_json(schemas)
    else:
        rows = [_schema_row(s) for s in sorted(schemas, key=lambda s: s["name"])]
        print_table(["NAME", "VECTORS", "PROPERTIES", "RF"], rows)
    return 0


def cmd_collection_describe(args: argparse.Namespace) -> int:
    with _client(args) as c:
        info = c.describe_collection(args.name)
    if args.json:
        dump_json(info)
    else:
        _print_describe(info)
    return 0


def cmd_collection_drop(args: argparse.Namespace) -> int:
    if not args.yes:
        # Never block a script on a prompt: without a terminal, --yes is required.
        if not sys.stdin.isatty():
            raise CliError(f"refusing to drop {args.name!r} without --yes (no terminal to ask)")
        answer = input(f"Drop collection {args.name!r} and all its objects? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not dropped", file=sys.stderr)
            return 1
    with _client(args) as c:
        c.drop_collection(args.name)
    if args.json:
        dump_json({"dropped": args.name})
    else:
        print(f"dropped collection {args.name}")
    return 0


# ---------------------------------------------------------------- import


_OBJECT_INDEX = re.compile(r"^objects\[(\d+)\]")


def _locate(exc: InvalidArgument, batch: Sequence[Any]) -> InvalidArgument:
    """Rename `objects[i]...` in an error to the file line the object came from."""
    match = _OBJECT_INDEX.match(exc.message)
    if match is None or int(match[1]) >= len(batch):
        return exc
    rest = exc.message[match.end() :].lstrip(".").removeprefix(": ")
    return InvalidArgument(batch[int(match[1])].source, rest)


def cmd_import(args: argparse.Namespace) -> int:
    path = _existing_file(args.file)
    is_npy = path.suffix.lower() == ".npy"
    if args.ids_file is not None:
        if not is_npy:
            raise CliError("--ids-file: only for .npy files (JSON lines carry their own ids)")
        _existing_file(args.ids_file, "--ids-file")
    try:
        if is_npy:
            total = load_matrix(path).shape[0]
            items = read_npy(path, ids_file=args.ids_file, id_key=args.id_key, field=args.field)
        else:
            total = count_jsonl(path)
            items = read_jsonl(path, id_key=args.id_key, field=args.field)
        with _client(args) as c:
            c.describe_collection(args.collection)  # fail before reading if it is missing
            col = c.collection(args.collection)
            imported, upserted = 0, 0
            bar = ProgressBar(total, label=f"importing {path.name}")
            try:
                for batch in chunked(items, args.batch_size, _IMPORT_BATCH_BYTES):
                    try:
                        result = col.upsert([i.obj for i in batch], batch_size=args.batch_size)
                    except InvalidArgument as exc:
                        raise _locate(exc, batch) from exc
                    imported += len(batch)
                    upserted += result.upserted
                    bar.update(len(batch))
            except VektraError as exc:
                if not imported:
                    raise
                # Upserts are idempotent: re-running the import after a fix is safe.
                raise CliError(
                    f"{exc} ({imported:,} objects before it were imported; "
                    "running the import again is safe)"
                ) from exc
            finally:
                bar.close()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    seconds = bar.elapsed_s
    if args.json:
        dump_json(
            {
                "collection": args.collection,
                "file": str(path),
                "imported": imported,
                "upserted": upserted,
                "seconds": round(seconds, 3),
            }
        )
    else:
        rate = imported / seconds if seconds > 0 else 0.0
        print(
            f"imported {imported:,} objects into {args.collection} from {path.name} "
            f"in {seconds:.1f} s ({rate:,.0f}/s)"
        )
    return 0


# ---------------------------------------------------------------- search and get


def _query_vector(args: argparse.Namespace) -> np.ndarray:
    if args.vector is not None:
        value = _json_arg(args.vector, "--vector")
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
        ):
            raise CliError("--vector: expected a JSON list of numbers, e.g. [0.1, 0.2]")
        return np.asarray(value, dtype=np.float32)
    path = _existing_file(args.vector_file, "--vector-file")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CliError(f"--vector-file: cannot read {path}: {exc}") from None
    if data.ndim == 1 and args.row == 0:
        return np.asarray(data, dtype=np.float32)
    if data.ndim != 2:
        raise CliError(f"--vector-file: expected a 1-D or 2-D array, got shape {data.shape}")
    if not 0 <= args.row < data.shape[0]:
        raise CliError(f"--row {args.row}: {path.name} has rows 0 to {data.shape[0] - 1}")
    return np.asarray(data[args.row], dtype=np.float32)


def cmd_search(args: argparse.Namespace) -> int:
    vector = _query_vector(args)
    flt = None if args.filter is None else _json_arg(args.filter, "--filter")
    if flt is not None and not isinstance(flt, dict):
        raise CliError('--filter: expected a JSON object, e.g. {"module": "os"}')
    with _client(args) as c:
        result = c.collection(args.collection).search(
            vector, k=args.k, field=args.field, filter=flt, ef=args.ef
        )
    if args.json:
        dump_json(
            {
                "hits": [
                    {"id": h.id, "distance": h.distance, "properties": h.properties} for h in result
                ],
                "coverage": result.coverage,
                "plan": result.plan,
            }
        )
        return 0
    rows = [(i, h.id, h.distance, h.properties or None) for i, h in enumerate(result, start=1)]
    print_table(["#", "ID", "DISTANCE", "PROPERTIES"], rows)
    plan = f" (plan: {result.plan.strategy})" if result.plan and result.plan.strategy else ""
    print(f"{len(result)} hits{plan}")
    if not result.coverage.complete:
        failed = ", ".join(result.coverage.failed) or "some nodes"
        print(f"vektra: warning: partial results, no answer from {failed}", file=sys.stderr)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    with _client(args) as c:
        found = c.collection(args.collection).get(args.ids, include_vectors=args.vectors)
    seen = {o.id for o in found}
    missing = [i for i in dict.fromkeys(args.ids) if i not in seen]
    if args.json:
        dump_json({"objects": found, "missing": missing})
        return 0
    headers = ["ID", "VERSION", "PROPERTIES"] + (["VECTORS"] if args.vectors else [])
    rows = [
        (o.id, _version_text(o.version), o.properties or None)
        + ((_vectors_text(o),) if args.vectors else ())
        for o in found
    ]
    print_table(headers, rows)
    if missing:
        print(f"not found: {', '.join(missing)}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- parser


def _client_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--addr",
        default=default_address(),
        metavar="HOST:PORT[,HOST:PORT...]",
        help=f"router address(es) (default: $VEKTRA_ADDR, else {DEFAULT_ADDRESS})",
    )
    common.add_argument("--json", action="store_true", help="print one JSON document")
    common.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="deadline of each call"
    )
    return common


def add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = _client_options()

    cluster = sub.add_parser("cluster", help="the cluster").add_subparsers(
        dest="action", required=True
    )
    status = cluster.add_parser("status", parents=[common], help="members, states, objects")
    status.set_defaults(run=cmd_cluster_status)

    collection = sub.add_parser("collection", help="manage collections").add_subparsers(
        dest="action", required=True
    )
    create = collection.add_parser("create", parents=[common], help="create a collection")
    create.add_argument("name")
    create.add_argument(
        "--vector",
        type=vector_spec,
        action="append",
        required=True,
        metavar="NAME:DIM[:METRIC]",
        help="a vector field (metric: cosine, l2 or ip; default cosine)",
    )
    create.add_argument(
        "--property",
        type=property_spec,
        action="append",
        metavar="NAME:TYPE[:noindex]",
        help="a property (keyword, text, int, float, bool, datetime, keyword[]); "
        "noindex skips its filter index",
    )
    create.add_argument("--rf", type=_positive_int, help="replication factor")
    create.add_argument("--m", type=_positive_int, help="HNSW links per node")
    create.add_argument("--ef-construction", type=_positive_int, help="HNSW build breadth")
    create.add_argument("--ef", type=_positive_int, help="default search breadth")
    create.set_defaults(run=cmd_collection_create)
    listing = collection.add_parser("list", parents=[common], help="list collections")
    listing.set_defaults(run=cmd_collection_list)
    describe = collection.add_parser("describe", parents=[common], help="schema and size")
    describe.add_argument("name")
    describe.set_defaults(run=cmd_collection_describe)
    drop = collection.add_parser("drop", parents=[common], help="drop a collection")
    drop.add_argument("name")
    drop.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    drop.set_defaults(run=cmd_collection_drop)

    imp = sub.add_parser("import", parents=[common], help="load JSON lines or a .npy file")
    imp.add_argument("file", type=Path, metavar="FILE", help=".jsonl (or .json/.ndjson) or .npy")
    imp.add_argument("--collection", required=True)
    imp.add_argument("--field", help="vector field of bare vectors (default: the only one)")
    imp.add_argument("--batch-size", type=_batch_size, default=500, help="objects per request")
    imp.add_argument("--id-key", default="id", help="the key holding each object's id")
    imp.add_argument(
        "--ids-file", type=Path, help=".npy only: JSON lines giving each row's id and properties"
    )
    imp.set_defaults(run=cmd_import)

    search = sub.add_parser("search", parents=[common], help="nearest neighbours of a vector")
    search.add_argument("--collection", required=True)
    query = search.add_mutually_exclusive_group(required=True)
    query.add_argument("--vector", metavar="JSON_LIST", help="e.g. [0.1, 0.2, 0.3]")
    query.add_argument("--vector-file", type=Path, metavar="F.npy", help="take the vector here")
    search.add_argument("--row", type=int, default=0, help="row of --vector-file (default 0)")
    search.add_argument("--k", type=_positive_int, default=10)
    search.add_argument("--field", help="vector field (default: the only one)")
    search.add_argument("--filter", metavar="JSON", help='e.g. {"length": {"$gte": 100}}')
    search.add_argument("--ef", type=_positive_int, help="search breadth for this query")
    search.set_defaults(run=cmd_search)

    get = sub.add_parser("get", parents=[common], help="objects by id")
    get.add_argument("--collection", required=True)
    get.add_argument("--vectors", action="store_true", help="include the vectors")
    get.add_argument("ids", nargs="+", metavar="ID")
    get.set_defaults(run=cmd_get)
