"""The `vektra` command line: the parser, the table and progress output, the
import file readers (all without a network), then the client commands run as
real subprocesses against a real storage node (a node serves the same public
API as a router)."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import io
import json
import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.harness.process import ServerProcess
from vektra import __version__
from vektra.cli import main as cli
from vektra.cli.commands import (
    _locate,
    default_address,
    error_message,
    property_spec,
    status_table,
    vector_spec,
)
from vektra.cli.importer import Item, chunked, parse_record, read_jsonl, read_npy
from vektra.cli.output import (
    RICH_MAX_ROWS,
    ProgressBar,
    Styled,
    cell_text,
    counted,
    coverage_text,
    dump_json,
    format_table,
    rate_text,
    to_jsonable,
)
from vektra.client import Client
from vektra.client.models import ClusterStatus, Coverage, NodeStatus, Object, Version
from vektra.common.addresses import (
    connectable_address,
    is_wildcard,
    local_ip_towards,
    peer_host,
)
from vektra.common.errors import InvalidArgument, Unavailable

# ---------------------------------------------------------------- parser


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def role_parser(role: str) -> argparse.ArgumentParser:
    """`vektra serve ROLE` hands its flags to the role's own parser, built the
    way `vektra.<role>.serve.main` builds it."""
    module = importlib.import_module(f"vektra.{role}.serve")
    parser = argparse.ArgumentParser(prog=f"vektra serve {role}")
    module.add_arguments(parser)
    return parser


def test_serve_node_flags_are_unchanged() -> None:
    args = role_parser("node").parse_args(["--data-dir", "d", "--listen", "h:0", "--node-id", "n1"])
    assert (args.data_dir, args.listen, args.node_id) == (Path("d"), "h:0", "n1")
    assert args.advertise is None and args.config is None and args.metrics_listen is None


def test_serve_coordinator_and_router_flags() -> None:
    args = role_parser("coordinator").parse_args([
        "--data-dir", "c", "--listen", "h:1",
        "--node", "a:1", "--node", "a:2", "--heartbeat-interval-s", "0.5",
        "--failure-threshold", "4", "--default-rf", "2", "--metrics-listen", "h:9",
    ])  # fmt: skip
    assert args.node == ["a:1", "a:2"] and args.heartbeat_interval_s == 0.5
    assert (args.failure_threshold, args.default_rf, args.metrics_listen) == (4, 2, "h:9")
    args = role_parser("router").parse_args(
        ["--coordinator", "h:1", "--listen", "h:2", "--router-id", "r"]
    )
    assert (args.coordinator, args.listen, args.router_id) == ("h:1", "h:2", "r")


def _fake_server_module(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """Stand in for vektra.<role>.server: the CLI's job is the config it passes."""
    seen: list[Any] = []

    async def serve(config: Any) -> None:
        seen.append(config)

    module = types.ModuleType(name)
    module.serve = serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)
    return seen


def test_serve_coordinator_builds_its_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = _fake_server_module(monkeypatch, "vektra.coordinator.server")
    config_file = tmp_path / "vektra.yaml"
    config_file.write_text("coordinator:\n  vnodes: 16\n  failure_threshold: 9\n")
    monkeypatch.setenv("VEKTRA__COORDINATOR__GRACE_S", "0.5")
    rc = cli.main(
        ["serve", "coordinator", "--data-dir", str(tmp_path), "--listen", "127.0.0.1:0",
         "--node", "a:1", "--node", "a:2", "--default-rf", "2", "--failure-threshold", "5",
         "--config", str(config_file)]
    )  # fmt: skip
    assert rc == 0
    (config,) = seen
    assert config.data_dir == tmp_path and config.listen == "127.0.0.1:0"
    assert config.nodes == ("a:1", "a:2") and config.default_replication_factor == 2
    assert config.failure_threshold == 5, "a flag beats the file"
    assert config.vnodes == 16 and config.grace_s == 0.5, "file and environment still apply"


def test_serve_node_builds_its_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = _fake_server_module(monkeypatch, "vektra.node.server")
    argv = ["serve", "node", "--data-dir", str(tmp_path), "--listen", "h:0", "--node-id", "n1"]
    assert cli.main(argv) == 0
    (config,) = seen
    assert (config.data_dir, config.listen, config.node_id) == (tmp_path, "h:0", "n1")
    assert config.advertise is None and config.metrics_listen is None


def test_serve_router_builds_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _fake_server_module(monkeypatch, "vektra.router.server")
    rc = cli.main(["serve", "router", "--coordinator", "h:1", "--listen", "h:2"])
    assert rc == 0
    (config,) = seen
    assert (config.coordinator, config.listen, config.router_id) == ("h:1", "h:2", None)


def test_client_commands_default_to_vektra_addr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEKTRA_ADDR", raising=False)
    args = parse("collection", "list")
    assert args.addr == "127.0.0.1:7700" and args.json is False and args.timeout == 30.0
    monkeypatch.setenv("VEKTRA_ADDR", "10.0.0.1:7000,10.0.0.2:7000")
    for argv in (
        ["cluster", "status"],
        ["collection", "describe", "x"],
        ["import", "f.jsonl", "--collection", "x"],
        ["search", "--collection", "x", "--vector", "[1]"],
        ["get", "--collection", "x", "a"],
    ):
        assert parse(*argv).addr == "10.0.0.1:7000,10.0.0.2:7000", argv
    assert parse("get", "--collection", "x", "a", "--addr", "h:1", "--json").addr == "h:1"
    assert default_address({}) == "127.0.0.1:7700"
    assert default_address({"VEKTRA_ADDR": "h:2"}) == "h:2"


def test_client_command_flags() -> None:
    args = parse(
        "collection", "create", "docs", "--vector", "embedding:384", "--vector", "title:8:l2",
        "--property", "module:keyword", "--property", "tags:keyword[]:noindex",
        "--rf", "2", "--m", "32", "--ef-construction", "100", "--ef", "50",
    )  # fmt: skip
    assert args.vector == [
        ("embedding", {"dim": 384, "metric": "cosine"}),
        ("title", {"dim": 8, "metric": "l2"}),
    ]
    assert args.property == [
        ("module", {"type": "keyword", "indexed": True}),
        ("tags", {"type": "keyword[]", "indexed": False}),
    ]
    assert (args.rf, args.m, args.ef_construction, args.ef) == (2, 32, 100, 50)
    args = parse("import", "x.npy", "--collection", "c", "--ids-file", "ids.jsonl")
    assert (args.batch_size, args.id_key, args.field) == (500, "id", None)
    assert args.ids_file == Path("ids.jsonl")
    args = parse("search", "--collection", "c", "--vector-file", "q.npy", "--row", "3")
    assert (args.k, args.row, args.vector, args.filter, args.ef) == (10, 3, None, None, None)
    args = parse("up")
    assert (args.nodes, args.rf, args.port, args.host) == (3, None, 7700, "127.0.0.1")
    assert args.data_dir == Path("./vektra-data")


@pytest.mark.parametrize(
    "argv",
    [
        ["collection", "create", "x"],  # no --vector
        ["collection", "create", "x", "--vector", "v"],
        ["collection", "create", "x", "--vector", "v:abc"],
        ["collection", "create", "x", "--vector", "v:3:hamming"],
        ["collection", "create", "x", "--vector", "v:3", "--property", "p:blob"],
        ["collection", "create", "x", "--vector", "v:3", "--property", "p:int:nope"],
        ["import", "f", "--collection", "c", "--batch-size", "0"],
        ["import", "f", "--collection", "c", "--batch-size", "5000"],
        ["search", "--collection", "c"],  # neither --vector nor --vector-file
        ["search", "--collection", "c", "--vector", "[1]", "--vector-file", "f.npy"],
        ["get", "--collection", "c"],  # no id
    ],
)
def test_bad_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_up_checks_its_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["up", "--nodes", "2", "--rf", "3", "--data-dir", str(tmp_path)]) == 2
    assert "--rf" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists(), "nothing started"


def test_spec_parsers() -> None:
    assert vector_spec("e:3:ip") == ("e", {"dim": 3, "metric": "ip"})
    assert property_spec("when:datetime") == ("when", {"type": "datetime", "indexed": True})
    with pytest.raises(argparse.ArgumentTypeError, match="METRIC"):
        vector_spec("e:3:dot")


def test_usage_errors_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.jsonl"
    assert cli.main(["import", str(missing), "--collection", "c"]) == 2
    assert capsys.readouterr().err.strip() == f"vektra: no such file: {missing}"
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("{}\n")
    assert cli.main(["import", str(jsonl), "--collection", "c", "--ids-file", str(jsonl)]) == 2
    assert "--ids-file: only for .npy" in capsys.readouterr().err
    assert cli.main(["search", "--collection", "c", "--vector", "[1, 2"]) == 2
    assert "--vector: not valid JSON" in capsys.readouterr().err
    assert cli.main(["search", "--collection", "c", "--vector", '{"a": 1}']) == 2
    assert "list of numbers" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"vektra {__version__}\n" == "vektra 0.1.0\n"


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """Every parser under `parser` with its command path and its help line."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, child in action.choices.items():
                yield (*path, name), child, helps.get(name)
                yield from _parsers(child, (*path, name))


def _own_parsers() -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    # `vektra up` is built in vektra.cli.up, and each `serve ROLE` parses its
    # own flags (checked below with the role's parser).
    for path, parser, summary in _parsers(cli.build_parser()):
        if path[0] not in ("up", "serve") or path == ("serve",):
            yield path, parser, summary


def test_every_command_has_a_description_and_every_flag_help_with_its_default() -> None:
    top = cli.build_parser()
    checked = 0
    for path, parser, summary in [((), top, "vektra"), *_own_parsers()]:
        assert summary, f"{path}: no summary line in its parent's help"
        assert parser.description, f"{path}: no description"
        for action in parser._actions:
            if isinstance(
                action,
                argparse._SubParsersAction | argparse._HelpAction | argparse._VersionAction,
            ):
                continue
            name = action.option_strings[-1] if action.option_strings else action.dest
            assert action.help, f"{' '.join(path)} {name}: no help"
            required = action.required or any(
                g.required and action in g._group_actions for g in parser._mutually_exclusive_groups
            )
            if action.option_strings and not required:
                assert re.search(r"\(default: [^)]+\)$", action.help), (
                    f"{' '.join(path)} {name}: help does not end with (default: X): {action.help!r}"
                )
            checked += 1
    assert checked > 60, "the walk found the client commands' flags"
    for role in ("node", "coordinator", "router"):
        for action in role_parser(role)._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                assert action.help and "default:" in action.help, (role, action.option_strings)


def test_help_shows_defaults() -> None:
    text = cli.build_parser()._subparsers._group_actions[0].choices["query"].format_help()  # type: ignore[union-attr]
    assert "(default: 10)" in text and "(default: by id)" in text
    assert "--desc" in text and "--vectors" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # Plain argparse blamed the missing --collection, never the typo.
        (
            ["search", "--colection", "docs"],
            "vektra search: error: unknown flag --colection (did you mean --collection?)",
        ),
        (
            ["search", "--collection", "d", "--vector", "[1]", "--bogus", "1"],
            "vektra search: error: unknown flag --bogus;",
        ),
        (["get", "--collection", "d", "a", "--colection", "x"], "unknown flag --colection"),
        (["collection", "list", "--rf", "2"], "vektra collection list: error: unknown flag --rf;"),
        (["cluster", "status", "--jsno"], "unknown flag --jsno (did you mean --json?)"),
        (["cluster", "status", "extra"], "unexpected arguments: extra"),
        # Flags of a command given before it: say where they go.
        (
            ["--json", "cluster", "status"],
            "--json goes after the command: vektra cluster status --json",
        ),
        (
            ["cluster", "--json", "status"],
            "--json goes after the command: vektra cluster status --json",
        ),
        (
            ["--addr", "h:1", "cluster", "status"],  # argparse: "invalid choice: 'h:1'"
            "--addr goes after the command: vektra cluster status --addr h:1",
        ),
        (
            ["--timeout=5", "--json", "count", "--collection", "c"],
            "--timeout, --json go after the command: "
            "vektra count --collection c --timeout=5 --json",
        ),
        (["--json"], "--json goes after a command, e.g. vektra cluster status --json"),
        (["--bogus", "cluster", "status"], "vektra: error: unknown flag --bogus;"),
    ],
)
def test_unknown_and_misplaced_flags_are_named(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "unrecognized arguments" not in err and "invalid choice" not in err


def test_prefixes_and_negative_numbers_are_not_unknown_flags() -> None:
    args = parse("search", "--coll", "docs", "--vector", "[1]", "--row", "-1")
    assert (args.collection, args.row) == ("docs", -1)


def test_object_command_flags() -> None:
    args = parse("delete", "--collection", "c", "a", "b", "--consistency", "all")
    assert (args.collection, args.ids, args.consistency) == ("c", ["a", "b"], "all")
    assert parse("delete", "--collection", "c", "a").consistency is None
    args = parse("query", "--collection", "c")
    assert (args.filter, args.limit, args.offset, args.order_by) == (None, 10, 0, None)
    assert (args.desc, args.vectors) == (False, False)
    args = parse(
        "query", "--collection", "c", "--filter", '{"n": 1}', "--limit", "5", "--offset", "7",
        "--order-by", "n", "--desc", "--vectors",
    )  # fmt: skip
    assert (args.filter, args.limit, args.offset) == ('{"n": 1}', 5, 7)
    assert (args.order_by, args.desc, args.vectors) == ("n", True, True)
    args = parse("count", "--collection", "c", "--filter", "{}")
    assert (args.collection, args.filter) == ("c", "{}")


@pytest.mark.parametrize(
    "argv",
    [
        ["delete", "--collection", "c"],  # no id
        ["delete", "--collection", "c", "a", "--consistency", "most"],
        ["query", "--collection", "c", "--limit", "0"],
        ["query", "--collection", "c", "--limit", "10001"],
        ["query", "--collection", "c", "--offset", "-1"],
        ["query"],  # no --collection
        ["count", "--collection", "c", "--timeout", "0"],
    ],
)
def test_bad_object_command_flags_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


# ---------------------------------------------------------------- output


def test_table_aligns_text_left_and_numbers_right() -> None:
    table = format_table(
        ["ID", "DISTANCE", "N", "PROPS"],
        [("a", 0.5, 7, {"k": "v"}), ("longer-id", 0.123456, 1234, None)],
    )
    assert table.splitlines() == [
        "ID         DISTANCE      N  PROPS",
        'a            0.5000      7  {"k":"v"}',
        "longer-id    0.1235  1,234  -",
    ]


def test_plain_tables_have_no_colour_and_terminal_tables_fit_the_window() -> None:
    rows = [("n1", Styled("active", "green"), 12_345), ("n2", Styled("down", "red"), None)]
    plain = format_table(["NODE", "STATE", "OBJECTS"], rows)
    assert "\x1b[" not in plain, "no escape codes off a terminal"
    assert plain.splitlines() == [
        "NODE  STATE   OBJECTS",
        "n1    active   12,345",
        "n2    down          -",
    ]
    assert all(line == line.rstrip() for line in plain.splitlines())
    wide = format_table(["TEXT"], [("x" * 55,)])
    assert wide.splitlines()[1] == "x" * 55, "off a terminal nothing is cut to a window"
    coloured = format_table(["NODE", "STATE", "OBJECTS"], rows, terminal=True, width=80)
    assert "\x1b[32mactive" in coloured and "\x1b[1m" in coloured  # green state, bold header
    narrow = re.sub(
        r"\x1b\[[0-9;]*m", "", format_table(["T"], [("x" * 55,)], terminal=True, width=20)
    )
    lines = [line.rstrip() for line in narrow.splitlines()]
    assert lines == ["T", "x" * 19 + "…"], "a row stays one line, cut to fit"


def test_long_terminal_tables_are_plain() -> None:
    rows = [(f"id{i}", Styled("active", "green")) for i in range(RICH_MAX_ROWS + 1)]
    assert "\x1b[" not in format_table(["ID", "STATE"], rows, terminal=True, width=80)
    assert "\x1b[" in format_table(["ID", "STATE"], rows[:-1], terminal=True, width=80)


_WITHOUT_RICH = """
import contextlib, io, sys
from vektra.cli.main import main
from vektra.cli.output import format_table
for argv in (["--help"], ["--version"], ["search", "--colection", "x"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with contextlib.suppress(SystemExit):
            main(argv)
format_table(["A"], [(1,)])  # plain text, as off a terminal
assert main(["cluster", "status", "--addr", "127.0.0.1:1", "--timeout", "5", "--json"]) == 2
assert "rich" not in sys.modules, sorted(m for m in sys.modules if m.startswith("rich"))
"""


def test_rich_is_imported_only_to_draw_on_a_terminal() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_RICH], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_table_edge_cases() -> None:
    assert format_table(["A", "B"], []) == "A  B"
    assert format_table(["ID", "PROPS"], [("a", None)]).splitlines()[1] == "a   -"
    long = format_table(["TEXT"], [("x" * 100,)], max_cell=10).splitlines()[1]
    assert long == "x" * 9 + "…"
    assert cell_text("two\nlines\tand tabs") == "two lines and tabs"
    assert cell_text(True) == "true" and cell_text(-0.0) == "0.0000"
    assert cell_text(np.float32(0.25)) == "0.2500"
    assert cell_text(1234567) == "1,234,567" and cell_text(np.int64(4096)) == "4,096"
    assert cell_text(Styled(None, "red")) == "-"
    assert (counted(1, "object"), counted(0, "hit")) == ("1 object", "0 hits")
    assert counted(12_000, "replica") == "12,000 replicas"
    with pytest.raises(ValueError, match="row 0"):
        format_table(["A", "B"], [("only one",)])


def test_to_jsonable_handles_sdk_values() -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    obj = Object(
        id="a",
        properties={"at": when, "n": np.int64(3)},
        vectors={"v": np.array([1.0, 2.0], dtype=np.float32)},
        version=Version(10, 1, "w"),
    )
    assert to_jsonable(obj) == {
        "id": "a",
        "properties": {"at": "2024-01-02T03:04:05+00:00", "n": 3},
        "vectors": {"v": [1.0, 2.0]},
        "version": {"physical_ms": 10, "logical": 1, "writer": "w"},
    }
    json.dumps(to_jsonable(obj))


def test_json_output_is_plain_json() -> None:
    out = io.StringIO()
    dump_json({"count": 1234567, "objects": None}, out)
    assert json.loads(out.getvalue()) == {"count": 1234567, "objects": None}
    assert "1,234" not in out.getvalue() and "\x1b[" not in out.getvalue()


def test_progress_bar_draws_rate_and_eta_only_on_a_terminal() -> None:
    assert rate_text(500, 2.0) == "250 objects/s" and rate_text(0, 0.0) == "- objects/s"
    assert rate_text(12_000, 1.0) == "12,000 objects/s"
    quiet = io.StringIO()  # not a terminal: draws nothing
    bar = ProgressBar(10, stream=quiet)
    bar.update(10)
    bar.close()
    assert quiet.getvalue() == "" and bar.done == 10
    loud = io.StringIO()
    bar = ProgressBar(2_000, label="importing x.jsonl", stream=loud, enabled=True)
    bar.update(800)
    bar.update(1_200)
    bar.close()
    drawn = loud.getvalue()
    assert "importing x.jsonl" in drawn and "100%" in drawn
    assert "2,000/2,000" in drawn, "counts with thousands separators"
    assert "objects/s" in drawn and "eta" in drawn
    assert drawn.endswith("\n") or drawn.rstrip("\x1b[?25h").endswith("\n")


def test_partial_coverage_names_ranges_and_failed_nodes() -> None:
    assert coverage_text(Coverage(asked=3, answered=3)) is None
    partial = Coverage(
        asked=2, answered=2, failed=("node-2",), complete=False, ranges_asked=192,
        ranges_answered=120,
    )  # fmt: skip
    assert coverage_text(partial) == "partial: 120/192 ranges answered; failed: node-2"
    big = Coverage(
        asked=9, answered=7, failed=("n1", "n4"), complete=False, ranges_asked=4096,
        ranges_answered=3100,
    )  # fmt: skip
    assert coverage_text(big) == "partial: 3,100/4,096 ranges answered; failed: n1, n4"
    # A server that counts no ranges is reported by nodes.
    by_nodes = Coverage(asked=3, answered=2, failed=("n3",), complete=False)
    assert coverage_text(by_nodes) == "partial: 2/3 nodes answered; failed: n3"


def test_a_down_node_has_an_unknown_object_count() -> None:
    status = ClusterStatus(
        epoch=4,
        nodes=(
            NodeStatus(id="node-0", address="h:1", state="active", objects=12_345),
            NodeStatus(id="node-1", address="h:2", state="down", objects=None),
            NodeStatus(id="node-2", address="h:3", state="active", objects=0),
        ),
    )
    assert status_table(status).splitlines() == [
        "NODE    ADDRESS  STATE   OBJECTS",
        "node-0  h:1      active   12,345",
        "node-1  h:2      down          ?",
        "node-2  h:3      active        0",
    ]
    assert to_jsonable(status)["nodes"][1]["objects"] is None  # JSON: null, not "?"


def test_an_unreachable_server_says_what_to_do() -> None:
    args = argparse.Namespace(addr="127.0.0.1:1")
    with Client("127.0.0.1:1", timeout_s=5, retries=0) as c, pytest.raises(Unavailable) as info:
        c.cluster_status()  # a real refused connection, not a stand-in
    assert error_message(info.value, args) == (
        "cannot reach a Vektra server at 127.0.0.1:1 (connection refused): start one with "
        "`vektra up`, or set VEKTRA_ADDR / pass --addr HOST:PORT"
    )
    # An UNAVAILABLE the server sent keeps its own words.
    assert error_message(Unavailable("2 of 2 replicas down"), args) == "2 of 2 replicas down"


def test_a_wildcard_listen_address_is_made_connectable() -> None:
    assert peer_host("ipv4:10.0.0.5:51234") == "10.0.0.5"
    assert peer_host("ipv6:%5B::1%5D:55566") == "::1"  # as grpc.aio reports it
    assert peer_host("unix:/tmp/s") is None
    towards = {"10.0.0.5": "10.0.0.2", "::1": "::1"}.get
    for listen in ("0.0.0.0:7701", "[::]:7701", ":7701"):
        assert is_wildcard(listen)
        got = connectable_address(listen, "ipv4:10.0.0.5:5", towards=towards, hostname=str)
        assert got == "10.0.0.2:7701", listen
    assert connectable_address("[::]:7701", "ipv6:[::1]:5", towards=towards) == "[::1]:7701"
    assert connectable_address("0.0.0.0:7701", "unix:x", hostname=lambda: "db1") == "db1:7701"
    assert connectable_address("10.1.1.1:7701", "ipv4:10.0.0.5:5") == "10.1.1.1:7701"
    assert not is_wildcard("127.0.0.1:7701")
    # The real route lookup, on loopback: sends nothing, needs no network.
    assert local_ip_towards("127.0.0.1") == "127.0.0.1"
    assert connectable_address("0.0.0.0:9", "ipv4:127.0.0.1:40000") == "127.0.0.1:9"


# ---------------------------------------------------------------- import readers


def test_parse_record_structured_and_flat() -> None:
    assert parse_record({"id": "a", "vector": [1, 2], "properties": {"m": "os"}}) == {
        "id": "a",
        "vectors": [1, 2],
        "properties": {"m": "os"},
    }
    assert parse_record({"id": 7, "vector": [1, 2], "m": "os", "n": 3}, field="e") == {
        "id": "7",
        "vectors": {"e": [1, 2]},
        "properties": {"m": "os", "n": 3},
    }
    assert parse_record({"key": "k", "vectors": {"a": [1], "b": [2]}}, id_key="key") == {
        "id": "k",
        "vectors": {"a": [1], "b": [2]},
        "properties": {},
    }
    assert parse_record({"id": "meta-only", "module": "os"}) == {
        "id": "meta-only",
        "properties": {"module": "os"},
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"vector": [1]}, "no 'id' key"),
        ({"id": 1.5}, "string or integer"),
        ({"id": ""}, "string or integer"),
        ({"id": "a", "vector": [1], "vectors": {}}, "both"),
        ({"id": "a", "properties": {"m": 1}, "extra": 2}, "beside 'properties'"),
        ({"id": "a", "properties": [1]}, "JSON object"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_parse_record_rejects(raw: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as exc_info:
        parse_record(raw, where="f.jsonl:3")
    assert str(exc_info.value).startswith("f.jsonl:3")


def test_read_jsonl_names_lines(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"id": "a", "vector": [1, 2]}\n\n{"id": "b", "vector": [3, 4], "x": 1}\n')
    items = list(read_jsonl(path))
    assert [(i.source, i.obj["id"]) for i in items] == [
        ("data.jsonl:1", "a"),
        ("data.jsonl:3", "b"),
    ]
    assert items[1].obj["properties"] == {"x": 1}
    path.write_text('{"id": "a"}\n{"id": "b",\n')
    with pytest.raises(InvalidArgument, match=r"^data.jsonl:2: not valid JSON"):
        list(read_jsonl(path))


def test_read_npy_with_and_without_ids_file(tmp_path: Path) -> None:
    matrix = np.arange(12, dtype=np.float64).reshape(4, 3)
    npy = tmp_path / "base.npy"
    np.save(npy, matrix)
    plain = list(read_npy(npy))
    assert [i.obj["id"] for i in plain] == ["0", "1", "2", "3"]
    assert plain[2].obj["vectors"].dtype == np.float32
    np.testing.assert_array_equal(plain[2].obj["vectors"], matrix[2])

    ids = tmp_path / "base.jsonl"
    ids.write_text("".join(json.dumps({"id": f"r{i}", "n": i}) + "\n" for i in range(4)))
    named = list(read_npy(npy, ids_file=ids, field="emb"))
    assert [i.obj["id"] for i in named] == ["r0", "r1", "r2", "r3"]
    assert named[3].obj["properties"] == {"n": 3}
    np.testing.assert_array_equal(named[3].obj["vectors"]["emb"], matrix[3])
    assert named[3].source == "base.npy row 3 (base.jsonl:4)"

    ids.write_text('{"id": "only-one"}\n')
    with pytest.raises(InvalidArgument, match="has 1 rows for the 4 rows"):
        next(read_npy(npy, ids_file=ids))
    ids.write_text("".join('{"id": "x", "vector": [1]}\n' for _ in range(4)))
    with pytest.raises(InvalidArgument, match=r"vectors come from base\.npy"):
        next(read_npy(npy, ids_file=ids))
    np.save(npy, np.arange(3.0))
    with pytest.raises(InvalidArgument, match="2-D"):
        next(read_npy(npy))


def test_chunked_by_count_and_bytes() -> None:
    items = [Item(str(i), {"id": str(i)}, 10) for i in range(7)]
    assert [len(c) for c in chunked(items, 3, 1000)] == [3, 3, 1]
    assert [len(c) for c in chunked(items, 100, 25)] == [2, 2, 2, 1]
    big = [Item("x", {}, 500), Item("y", {}, 1)]
    assert [len(c) for c in chunked(big, 10, 100)] == [1, 1]


def test_server_errors_are_located_in_the_file() -> None:
    batch = [Item("data.jsonl:7", {}, 1), Item("data.jsonl:9", {}, 1)]
    located = _locate(InvalidArgument("objects[1].properties.x", "unknown property"), batch)
    assert str(located) == "data.jsonl:9: properties.x: unknown property"
    other = InvalidArgument("filter", "bad")
    assert _locate(other, batch) is other


# ---------------------------------------------------------------- end to end


class Vektra:
    """Runs `python -m vektra.cli.main ...` against one address."""

    def __init__(self, address: str) -> None:
        self.env = {**os.environ, "VEKTRA_ADDR": address}

    def run(self, *argv: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "vektra.cli.main", *argv],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if ok:
            assert done.returncode == 0, f"{argv}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, *argv: str) -> Any:
        return json.loads(self.run(*argv, "--json").stdout)


@pytest.fixture
def vektra(node: ServerProcess) -> Iterator[Vektra]:
    assert node.address is not None
    yield Vektra(node.address)


DIM = 6


def _write_data(tmp_path: Path) -> tuple[Path, Path, Path, np.ndarray]:
    rng = np.random.default_rng(5)
    vecs = rng.normal(size=(30, DIM)).astype(np.float32)
    # JSON lines in both accepted forms, 20 objects.
    jsonl = tmp_path / "objects.jsonl"
    with jsonl.open("w") as f:
        for i in range(20):
            props = {"module": ["os", "sys"][i % 2], "length": i}
            record: dict[str, Any] = {"id": f"j{i}", "vector": vecs[i].tolist()}
            if i % 2:
                record["properties"] = props
            else:
                record.update(props)
            f.write(json.dumps(record) + "\n")
    # A .npy of 10 more rows with their ids and properties beside it.
    npy = tmp_path / "more.npy"
    np.save(npy, vecs[20:])
    ids = tmp_path / "more.jsonl"
    ids.write_text(
        "".join(json.dumps({"id": f"n{i}", "module": "re", "length": i}) + "\n" for i in range(10))
    )
    return jsonl, npy, ids, vecs


@pytest.mark.slow
def test_cli_end_to_end(vektra: Vektra, tmp_path: Path) -> None:
    jsonl, npy, ids, vecs = _write_data(tmp_path)

    created = vektra.json(
        "collection", "create", "docs", "--vector", f"embedding:{DIM}:cosine",
        "--property", "module:keyword", "--property", "length:int", "--m", "8", "--ef", "40",
    )  # fmt: skip
    assert created["vectors"][0]["hnsw"]["m"] == 8 and created["vectors"][0]["hnsw"]["ef"] == 40
    again = vektra.run("collection", "create", "docs", "--vector", "embedding:6", ok=False)
    assert again.returncode == 2 and again.stderr.startswith("vektra: ")

    imported = vektra.json("import", str(jsonl), "--collection", "docs", "--batch-size", "7")
    assert imported["imported"] == 20 and imported["upserted"] == 20
    plain = vektra.run("import", str(npy), "--collection", "docs", "--ids-file", str(ids))
    assert "imported 10 objects into docs" in plain.stdout
    assert "\r" not in plain.stderr, "no progress bar when stderr is not a terminal"

    result = vektra.json(
        "search", "--collection", "docs", "--vector", json.dumps(vecs[3].tolist()), "--k", "3"
    )
    assert result["hits"][0]["id"] == "j3" and len(result["hits"]) == 3
    assert result["coverage"]["complete"] is True
    filtered = vektra.json(
        "search", "--collection", "docs", "--vector-file", str(npy), "--row", "4",
        "--filter", '{"module": "re"}', "--k", "2", "--ef", "50",
    )  # fmt: skip
    assert filtered["hits"][0]["id"] == "n4"
    assert all(h["properties"]["module"] == "re" for h in filtered["hits"])
    table = vektra.run("search", "--collection", "docs", "--vector-file", str(npy), "--k", "2")
    header, first = table.stdout.splitlines()[:2]
    assert header.split() == ["#", "ID", "DISTANCE", "PROPERTIES"]
    assert first.split()[:3] == ["1", "n0", "0.0000"]

    got = vektra.run("get", "--collection", "docs", "j1", "n2", "absent")
    lines = got.stdout.splitlines()
    assert lines[0].split() == ["ID", "VERSION", "PROPERTIES"]
    assert [line.split()[0] for line in lines[1:]] == ["j1", "n2"]
    assert '{"module":"sys","length":1}' in lines[1]
    assert got.stderr == "vektra: not found in docs: absent\n"
    none = vektra.run("get", "--collection", "docs", "absent", "gone", ok=False)
    assert none.returncode == 1 and none.stdout == ""
    assert none.stderr == "vektra: not found in docs: absent, gone\n"
    none_json = vektra.run("get", "--collection", "docs", "absent", "--json", ok=False)
    assert none_json.returncode == 1
    assert json.loads(none_json.stdout) == {"objects": [], "missing": ["absent"]}
    got_json = vektra.json("get", "--collection", "docs", "j0", "absent", "--vectors")
    assert got_json["missing"] == ["absent"]
    (obj,) = got_json["objects"]
    assert obj["properties"] == {"module": "os", "length": 0}
    np.testing.assert_allclose(obj["vectors"]["embedding"], vecs[0], rtol=1e-6)

    described = vektra.json("collection", "describe", "docs")
    assert described["objects"] == 30 and described["name"] == "docs"
    text = vektra.run("collection", "describe", "docs").stdout
    assert "30 objects" in text and "module    keyword  yes" in text
    listed = vektra.json("collection", "list")
    assert [s["name"] for s in listed] == ["docs"]
    assert vektra.run("collection", "list").stdout.splitlines()[1].startswith("docs  embedding:6")

    status = vektra.json("cluster", "status")
    assert [n["state"] for n in status["nodes"]] == ["active"]
    assert status["nodes"][0]["objects"] == 30

    # query, count and delete, as the SDK's Collection.query/count/delete.
    page = vektra.run(
        "query", "--collection", "docs", "--filter", '{"module": "re"}', "--order-by", "length",
        "--desc", "--limit", "3", "--offset", "1",
    )  # fmt: skip
    lines = page.stdout.splitlines()
    assert lines[0].split() == ["ID", "VERSION", "PROPERTIES"]
    assert [line.split()[0] for line in lines[1:4]] == ["n8", "n7", "n6"]
    assert (
        lines[4] == "3 objects (by length, descending, from offset 1); more may match (--offset 4)"
    )
    assert page.stderr == "", "complete: no coverage warning"
    queried = vektra.json("query", "--collection", "docs", "--limit", "2", "--vectors")
    assert [o["id"] for o in queried["objects"]] == ["j0", "j1"]  # by id
    assert len(queried["objects"][0]["vectors"]["embedding"]) == DIM
    assert queried["coverage"]["complete"] is True
    assert vektra.run("count", "--collection", "docs").stdout == "30 objects in docs\n"
    counted = vektra.json("count", "--collection", "docs", "--filter", '{"length": {"$gte": 15}}')
    assert counted["count"] == 5 and counted["coverage"]["complete"] is True
    gone = vektra.run("delete", "--collection", "docs", "j0", "j1", "absent", "j0")
    assert gone.stdout == (
        "deleted 2 of 3 objects from docs (1 did not exist); acknowledged by 1 replica\n"
    )
    deleted = vektra.json("delete", "--collection", "docs", "j2", "--consistency", "all")
    assert (deleted["deleted"], deleted["acknowledged"], deleted["ids"]) == (1, 1, 1)
    assert vektra.json("count", "--collection", "docs")["count"] == 27
    assert vektra.run("get", "--collection", "docs", "j0", "j2", ok=False).returncode == 1

    refused = vektra.run("collection", "drop", "docs", ok=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert vektra.json("collection", "drop", "docs", "--yes") == {"dropped": "docs"}
    gone = vektra.run("collection", "describe", "docs", ok=False)
    assert gone.returncode == 2 and "docs" in gone.stderr


@pytest.mark.slow
def test_human_output_has_thousands_separators_and_json_has_none(
    vektra: Vektra, tmp_path: Path
) -> None:
    npy = tmp_path / "big.npy"
    np.save(npy, np.random.default_rng(1).normal(size=(1_234, 4)).astype(np.float32))
    vektra.run("collection", "create", "big", "--vector", "v:4")
    assert (
        "imported 1,234 objects into big"
        in vektra.run("import", str(npy), "--collection", "big").stdout
    )
    assert vektra.run("count", "--collection", "big").stdout == "1,234 objects in big\n"
    assert "1,234 objects" in vektra.run("collection", "describe", "big").stdout
    table = vektra.run("cluster", "status").stdout.splitlines()
    assert table[-1].split()[-1] == "1,234" and "\x1b[" not in "".join(table)
    page = vektra.run("query", "--collection", "big", "--offset", "1200", "--limit", "100")
    assert page.stdout.splitlines()[-1] == "34 objects (by id, from offset 1,200)"
    for argv in (
        ["count", "--collection", "big"],
        ["cluster", "status"],
        ["collection", "describe", "big"],
    ):
        out = vektra.run(*argv, "--json").stdout
        assert "1234" in out and "1,234" not in out and "\x1b[" not in out, argv
    assert vektra.json("count", "--collection", "big")["count"] == 1_234


@pytest.mark.slow
def test_import_errors_name_the_line(vektra: Vektra, tmp_path: Path) -> None:
    vektra.run("collection", "create", "docs", "--vector", "v:2", "--property", "n:int")
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"id": "a", "vector": [1, 0], "n": 1}\n'
        '{"id": "b", "vector": [0, 1], "n": 2}\n'
        '{"id": "c", "vector": [1, 1], "typo": 3}\n'
    )
    done = vektra.run("import", str(path), "--collection", "docs", "--batch-size", "2", ok=False)
    assert done.returncode == 2
    assert "vektra: bad.jsonl:3: properties.typo: unknown property" in done.stderr
    assert "(2 objects before it were imported; running the import again is safe)" in done.stderr
    missing = vektra.run("import", str(path), "--collection", "nope", ok=False)
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_unreachable_server_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["cluster", "status", "--addr", "127.0.0.1:1", "--timeout", "5"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("vektra: ") and "Traceback" not in err
    assert err.count("\n") == 1, "one line"
    assert "cannot reach a Vektra server at 127.0.0.1:1" in err and "vektra up" in err
    assert "VEKTRA_ADDR" in err and "--addr" in err
    assert "failed to connect to all addresses" not in err, "no raw gRPC text"
