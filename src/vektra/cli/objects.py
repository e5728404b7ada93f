"""The object commands: `search`, `get`, `delete`, `query` and `count`.

    vektra search --collection NAME (--vector JSON | --vector-file F.npy [--row N])
                  [--k N] [--field F] [--filter JSON] [--ef N]
    vektra get --collection NAME [--vectors] ID...
    vektra delete --collection NAME [--consistency one|quorum|all] ID...
    vektra query --collection NAME [--filter JSON] [--limit N] [--offset N]
                 [--order-by PROP] [--desc] [--vectors]
    vektra count --collection NAME [--filter JSON]

Reads that ask every node (search, query, count) warn on stderr when the
answer is partial: "partial: 120/192 ranges answered; failed: node-2".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vektra.cli.base import (
    CONSISTENCY_LEVELS,
    LIMITS,
    CliError,
    add_collection,
    add_filter,
    add_parser,
    client,
    existing_file,
    filter_arg,
    json_arg,
    non_negative_int,
    positive_int,
    query_limit,
)
from vektra.cli.output import counted, coverage_text, dump_json, print_table, to_jsonable
from vektra.client import _requests as requests
from vektra.client.models import Coverage, Object, Version

__all__ = ["add_object_commands"]


def _version_text(version: Version | None) -> str | None:
    if version is None:
        return None
    return f"{version.physical_ms}.{version.logical}@{version.writer}"


def _vectors_text(obj: Object) -> str:
    return ", ".join(f"{name}[{len(v)}]" for name, v in obj.vectors.items()) or "-"


# ---------------------------------------------------------------- search and get


def _query_vector(args: argparse.Namespace) -> np.ndarray:
    if args.vector is not None:
        value = json_arg(args.vector, "--vector")
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
        ):
            raise CliError("--vector: expected a JSON list of numbers, e.g. [0.1, 0.2]")
        return np.asarray(value, dtype=np.float32)
    path = existing_file(args.vector_file, "--vector-file")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CliError(f"--vector-file: cannot read {path}: {exc}") from None
    if data.ndim == 1 and args.row == 0:
        return np.asarray(data, dtype=np.float32)
    if data.ndim != 2:
        raise CliError(f"--vector-file: expected a 1-D or 2-D array, got shape {data.shape}")
    if not 0 <= args.row < data.shape[0]:
        raise CliError(f"--row {args.row}: {path.name} has rows 0 to {data.shape[0] - 1:,}")
    return np.asarray(data[args.row], dtype=np.float32)


def _warn_partial(coverage: Coverage) -> None:
    text = coverage_text(coverage)
    if text is not None:
        print(f"vektra: warning: {text}", file=sys.stderr)


def cmd_search(args: argparse.Namespace) -> int:
    vector = _query_vector(args)
    flt = filter_arg(args)
    with client(args) as c:
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
    print(f"{counted(len(result), 'hit')}{plan}")
    _warn_partial(result.coverage)
    return 0


def _print_objects(objects: Sequence[Object], vectors: bool) -> None:
    headers = ["ID", "VERSION", "PROPERTIES"] + (["VECTORS"] if vectors else [])
    rows = [
        (o.id, _version_text(o.version), o.properties or None)
        + ((_vectors_text(o),) if vectors else ())
        for o in objects
    ]
    print_table(headers, rows)


_MAX_NAMED = 20  # missing ids named in a message; the rest are counted


def _id_list_text(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_MAX_NAMED])
    more = len(ids) - _MAX_NAMED
    return f"{shown} and {more:,} more" if more > 0 else shown


def cmd_get(args: argparse.Namespace) -> int:
    """Exit 0 when at least one id was found (the missing ones are named on
    stderr), 1 when none was."""
    with client(args) as c:
        found = c.collection(args.collection).get(args.ids, include_vectors=args.vectors)
    seen = {o.id for o in found}
    missing = [i for i in dict.fromkeys(args.ids) if i not in seen]
    if args.json:
        dump_json({"objects": found, "missing": missing})
    elif found:
        _print_objects(found, args.vectors)
    if missing:
        print(f"vektra: not found in {args.collection}: {_id_list_text(missing)}", file=sys.stderr)
    return 0 if found else 1


# ---------------------------------------------------------------- delete, query and count


def cmd_delete(args: argparse.Namespace) -> int:
    ids = list(dict.fromkeys(args.ids))  # a repeated id is deleted once
    with client(args) as c:
        result = c.collection(args.collection).delete(ids, consistency=args.consistency)
    if args.json:
        dump_json({"collection": args.collection, "ids": len(ids), **to_jsonable(result)})
        return 0
    absent = len(ids) - result.deleted
    note = f" ({absent:,} did not exist)" if absent else ""
    print(
        f"deleted {result.deleted:,} of {counted(len(ids), 'object')} from {args.collection}"
        f"{note}; acknowledged by {counted(result.acknowledged, 'replica')}"
    )
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    flt = filter_arg(args)
    with client(args) as c:
        result = c.collection(args.collection).query(
            flt,
            limit=args.limit,
            offset=args.offset,
            order_by=args.order_by,
            descending=args.desc,
            include_vectors=args.vectors,
        )
    if args.json:
        dump_json({"objects": result.objects, "coverage": result.coverage})
        return 0
    _print_objects(result.objects, args.vectors)
    order = f"by {args.order_by}" if args.order_by else "by id"
    order += ", descending" if args.desc else ""
    where = f", from offset {args.offset:,}" if args.offset else ""
    # A flag value to type back in: no thousands separator.
    next_page = f"; more may match (--offset {args.offset + len(result)})"
    more = next_page if len(result) == args.limit else ""
    print(f"{counted(len(result), 'object')} ({order}{where}){more}")
    _warn_partial(result.coverage)
    return 0


def cmd_count(args: argparse.Namespace) -> int:
    flt = filter_arg(args)
    with client(args) as c:
        c.collection(args.collection)  # checks the name
        # Collection.count() returns the number alone; the CLI also needs to
        # know whether it covers every token range.
        n, coverage = c._run(requests.count_with_coverage(args.collection, flt))
    if args.json:
        dump_json({"collection": args.collection, "count": n, "coverage": coverage})
        return 0
    matching = " matching the filter" if flt is not None else ""
    print(f"{counted(n, 'object')} in {args.collection}{matching}")
    _warn_partial(coverage)
    return 0


# ---------------------------------------------------------------- parser


def add_object_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    search = add_parser(
        sub,
        "search",
        "nearest neighbours of a vector",
        "The k objects nearest to a vector, among those matching --filter; asks every node "
        "and warns on stderr when the answer is partial.",
        [common],
    )
    add_collection(search)
    query = search.add_mutually_exclusive_group(required=True)
    query.add_argument(
        "--vector",
        metavar="JSON_LIST",
        help="the query vector, e.g. [0.1, 0.2, 0.3] (this or --vector-file)",
    )
    query.add_argument(
        "--vector-file",
        type=Path,
        metavar="F.npy",
        help="take the query vector from this .npy file (this or --vector)",
    )
    search.add_argument(
        "--row", type=int, default=0, metavar="N", help="row of --vector-file (default: 0)"
    )
    search.add_argument(
        "--k", type=positive_int, default=10, metavar="N", help="hits to return (default: 10)"
    )
    search.add_argument(
        "--field", metavar="NAME", help="vector field to search (default: the only one)"
    )
    add_filter(search, "objects")
    search.add_argument(
        "--ef",
        type=positive_int,
        metavar="N",
        help="HNSW candidate list for this query (default: the field's ef)",
    )
    search.set_defaults(run=cmd_search)

    get = add_parser(
        sub,
        "get",
        "objects by id",
        "Print the objects with these ids. Ids not found are named on stderr; the exit "
        "status is 1 when none was found.",
        [common],
    )
    add_collection(get)
    get.add_argument(
        "--vectors", action="store_true", help="include the vectors (default: without)"
    )
    get.add_argument("ids", nargs="+", metavar="ID", help="ids of the objects")
    get.set_defaults(run=cmd_get)

    delete = add_parser(
        sub,
        "delete",
        "delete objects by id",
        "Delete the objects with these ids (as versioned tombstones on every replica). An id "
        "that does not exist is no error; the message says how many did.",
        [common],
    )
    add_collection(delete)
    delete.add_argument("ids", nargs="+", metavar="ID", help="ids of the objects")
    delete.add_argument(
        "--consistency",
        choices=CONSISTENCY_LEVELS,
        help="replicas that must acknowledge: one, a quorum of the replication factor, or "
        "all (default: quorum)",
    )
    delete.set_defaults(run=cmd_delete)

    query_cmd = add_parser(
        sub,
        "query",
        "objects matching a filter, in order",
        "Objects matching --filter (all without one), ordered by a property or by id, a page "
        "of --limit after skipping --offset; asks every node and warns on stderr when the "
        "answer is partial.",
        [common],
    )
    add_collection(query_cmd)
    add_filter(query_cmd, "objects")
    query_cmd.add_argument(
        "--limit",
        type=query_limit,
        default=10,
        metavar="N",
        help=f"objects to return, at most {LIMITS.max_query_limit:,} (default: 10)",
    )
    query_cmd.add_argument(
        "--offset",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="matching objects to skip first (default: 0)",
    )
    query_cmd.add_argument(
        "--order-by", metavar="PROP", help="order by this property (default: by id)"
    )
    query_cmd.add_argument(
        "--desc", action="store_true", help="largest first (default: smallest first)"
    )
    query_cmd.add_argument(
        "--vectors", action="store_true", help="include the vectors (default: without)"
    )
    query_cmd.set_defaults(run=cmd_query)

    count = add_parser(
        sub,
        "count",
        "how many objects match a filter",
        "Count the live objects of a collection (those matching --filter, if given); warns "
        "on stderr when some token ranges could not be counted.",
        [common],
    )
    add_collection(count)
    add_filter(count, "objects")
    count.set_defaults(run=cmd_count)
