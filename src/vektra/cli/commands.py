"""The client commands of the `vektra` command line. This module has the
cluster, collection and import commands and builds every client command's
parser; the object commands (search, get, delete, query, count) are in
`vektra.cli.objects`, what they all share in `vektra.cli.base`.

    vektra cluster status
    vektra collection create NAME --vector NAME:DIM[:METRIC] ...
                                  [--property NAME:TYPE[:noindex] ...]
                                  [--rf N] [--m N] [--ef-construction N] [--ef N]
    vektra collection list | describe NAME | drop NAME [--yes]
    vektra import FILE --collection NAME [--field F] [--batch-size N] [--id-key KEY] [--ids-file F]
    vektra search --collection NAME (--vector JSON | --vector-file F.npy [--row N])
                  [--k N] [--field F] [--filter JSON] [--ef N]
    vektra get --collection NAME [--vectors] ID...
    vektra delete --collection NAME [--consistency one|quorum|all] ID...
    vektra query --collection NAME [--filter JSON] [--limit N] [--offset N]
                 [--order-by PROP] [--desc] [--vectors]
    vektra count --collection NAME [--filter JSON]

Each takes `--addr HOST:PORT[,HOST:PORT...]` (default `$VEKTRA_ADDR`, else
127.0.0.1:7700), `--timeout S`, and `--json` for one JSON document on stdout
instead of tables. Exit status: 0; 1 when `get` found none of its ids; 2 on
an error (`vektra: <message>` on stderr).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vektra.cli.base import (
    LIMITS,
    CliError,
    add_collection,
    add_parser,
    batch_size,
    client,
    client_options,
    default_address,
    error_message,
    existing_file,
    positive_int,
    property_spec,
    vector_spec,
)
from vektra.cli.importer import chunked, count_jsonl, load_matrix, read_jsonl, read_npy
from vektra.cli.objects import add_object_commands
from vektra.cli.output import (
    UNKNOWN,
    ProgressBar,
    Styled,
    counted,
    dump_json,
    format_table,
    is_terminal,
    print_table,
)
from vektra.client.models import ClusterStatus
from vektra.common.errors import InvalidArgument, VektraError
from vektra.common.schema import DEFAULT_EF, DEFAULT_EF_CONSTRUCTION, DEFAULT_M

# CliError, default_address, error_message and the spec parsers are
# re-exported: main, up and the tests take them from here.
__all__ = [
    "CliError",
    "add_client_commands",
    "default_address",
    "error_message",
    "property_spec",
    "status_table",
    "vector_spec",
]

# Import batches stay far below the SDK's own byte split (half the server's
# batch limit), so one CLI batch is one request and a server error's
# objects[i] is exactly the i-th object of the batch we sent.
_IMPORT_BATCH_BYTES = 8 << 20
_HNSW_KEYS = ("m", "ef_construction", "ef")
# How `cluster status` colours node states on a terminal.
_STATE_STYLES = {
    "active": "green",
    "joining": "yellow",
    "recovering": "yellow",
    "draining": "yellow",
    "down": "red",
}


def status_table(status: ClusterStatus) -> str:
    """The members table, styled when stdout is a terminal (it is printed there)."""
    rows = [
        (
            n.id,
            n.address,
            Styled(n.state, _STATE_STYLES.get(n.state, "")),
            UNKNOWN if n.objects is None else n.objects,
        )
        for n in status.nodes
    ]
    return format_table(
        ["NODE", "ADDRESS", "STATE", "OBJECTS"], rows, terminal=is_terminal(sys.stdout)
    )


def _schema_row(schema: Mapping[str, Any]) -> tuple[Any, ...]:
    vectors = ", ".join(f"{v['name']}:{v['dim']}:{v['metric']}" for v in schema["vectors"])
    props = ", ".join(p["name"] for p in schema["properties"]) or "-"
    return schema["name"], vectors, props, schema["replication_factor"]


def _print_describe(info: Mapping[str, Any]) -> None:
    head = f"collection {info['name']}: replication factor {info['replication_factor']}"
    if "objects" in info:
        head += f", {counted(info['objects'], 'object')}"
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
    with client(args) as c:
        status = c.cluster_status()
    if args.json:
        dump_json(status)
    else:
        active = sum(1 for n in status.nodes if n.state == "active")
        print(f"epoch {status.epoch}: {active:,} of {counted(len(status.nodes), 'node')} active\n")
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
    with client(args) as c:
        created = c.create_collection(
            args.name, vectors=vectors, properties=properties, replication_factor=args.rf
        )
    if args.json:
        dump_json(created)
    else:
        _print_describe(created)
    return 0


def cmd_collection_list(args: argparse.Namespace) -> int:
    with client(args) as c:
        schemas = c.list_collections()
    if args.json:
        dump_json(schemas)
    else:
        rows = [_schema_row(s) for s in sorted(schemas, key=lambda s: s["name"])]
        print_table(["NAME", "VECTORS", "PROPERTIES", "RF"], rows)
    return 0


def cmd_collection_describe(args: argparse.Namespace) -> int:
    with client(args) as c:
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
    with client(args) as c:
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
    path = existing_file(args.file)
    is_npy = path.suffix.lower() == ".npy"
    if args.ids_file is not None:
        if not is_npy:
            raise CliError("--ids-file: only for .npy files (JSON lines carry their own ids)")
        existing_file(args.ids_file, "--ids-file")
    try:
        if is_npy:
            total = load_matrix(path).shape[0]
            items = read_npy(path, ids_file=args.ids_file, id_key=args.id_key, field=args.field)
        else:
            total = count_jsonl(path)
            items = read_jsonl(path, id_key=args.id_key, field=args.field)
        with client(args) as c:
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
            f"imported {counted(imported, 'object')} into {args.collection} from {path.name} "
            f"in {seconds:.1f} s ({rate:,.0f}/s)"
        )
    return 0


# ---------------------------------------------------------------- parser


def _add_cluster_and_collection(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    cluster = add_parser(
        sub, "cluster", "the cluster's members", "Look at the cluster: `vektra cluster status`."
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    status = add_parser(
        cluster,
        "status",
        "members, their states and object counts",
        "Print the cluster map's epoch and every storage node: its id, address, state and "
        "how many objects it holds (replicas included; '?' when it could not be asked). A "
        "single node reports itself.",
        [common],
    )
    status.set_defaults(run=cmd_cluster_status)

    collection = add_parser(
        sub,
        "collection",
        "create, list, describe and drop collections",
        "Manage collections: `vektra collection create|list|describe|drop`.",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    create = add_parser(
        collection,
        "create",
        "create a collection",
        "Create a collection with one or more vector fields and typed properties, and print "
        "its schema as the server filled it in.",
        [common],
    )
    create.add_argument("name", metavar="NAME", help="the new collection's name")
    create.add_argument(
        "--vector",
        type=vector_spec,
        action="append",
        required=True,
        metavar="NAME:DIM[:METRIC]",
        help="a vector field, repeatable; METRIC is cosine, l2 or ip (default: cosine)",
    )
    create.add_argument(
        "--property",
        type=property_spec,
        action="append",
        metavar="NAME:TYPE[:noindex]",
        help="a property, repeatable; TYPE is keyword, text, int, float, bool, datetime or "
        "keyword[]; :noindex skips its filter index (default: indexed)",
    )
    create.add_argument(
        "--rf",
        type=positive_int,
        metavar="N",
        help="replication factor: copies of each object, at most one a node "
        "(default: the cluster's default; 1 on a single node)",
    )
    create.add_argument(
        "--m", type=positive_int, metavar="N", help=f"HNSW links per node (default: {DEFAULT_M})"
    )
    create.add_argument(
        "--ef-construction",
        type=positive_int,
        metavar="N",
        help=f"HNSW candidate list while building (default: {DEFAULT_EF_CONSTRUCTION})",
    )
    create.add_argument(
        "--ef",
        type=positive_int,
        metavar="N",
        help=f"default HNSW candidate list of a search (default: {DEFAULT_EF})",
    )
    create.set_defaults(run=cmd_collection_create)
    listing = add_parser(
        collection,
        "list",
        "list collections",
        "List every collection: its vector fields, properties and replication factor.",
        [common],
    )
    listing.set_defaults(run=cmd_collection_list)
    describe = add_parser(
        collection,
        "describe",
        "schema and size of a collection",
        "Print a collection's schema (vector fields with their HNSW parameters, properties) "
        "and how many objects it holds.",
        [common],
    )
    describe.add_argument("name", metavar="NAME", help="the collection")
    describe.set_defaults(run=cmd_collection_describe)
    drop = add_parser(
        collection,
        "drop",
        "drop a collection and its objects",
        "Drop a collection and every object in it. Asks first on a terminal; without one "
        "(a script), --yes is required.",
        [common],
    )
    drop.add_argument("name", metavar="NAME", help="the collection")
    drop.add_argument(
        "--yes", action="store_true", help="drop without asking (default: ask on a terminal)"
    )
    drop.set_defaults(run=cmd_collection_drop)


def _add_import(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    imp = add_parser(
        sub,
        "import",
        "load JSON lines or a .npy file",
        "Upsert the objects of a file into a collection, in batches, with a progress bar on "
        "stderr when it is a terminal. JSON lines: one object a line, "
        '{"id": ..., "vector": [...], "properties": {...}} or flat (every other key a '
        "property). A .npy file: a 2-D float array, one object a row. Re-running an "
        "import is safe (upserts replace).",
        [common],
    )
    imp.add_argument(
        "file", type=Path, metavar="FILE", help="a .jsonl (or .json, .ndjson) or .npy file"
    )
    add_collection(imp)
    imp.add_argument(
        "--field",
        metavar="NAME",
        help="the vector field a bare vector (or a .npy row) goes to "
        "(default: the collection's only one)",
    )
    imp.add_argument(
        "--batch-size",
        type=batch_size,
        default=500,
        metavar="N",
        help=f"objects a request, at most {LIMITS.max_batch_objects:,} (default: 500)",
    )
    imp.add_argument(
        "--id-key", default="id", metavar="KEY", help="the key holding each id (default: id)"
    )
    imp.add_argument(
        "--ids-file",
        type=Path,
        metavar="FILE",
        help=".npy only: JSON lines giving each row's id and properties, one line a row "
        "(default: the row numbers are the ids)",
    )
    imp.set_defaults(run=cmd_import)


def add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = client_options()
    _add_cluster_and_collection(sub, common)
    _add_import(sub, common)
    add_object_commands(sub, common)
