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
from vektra.cli import main as cli
from vektra.cli.commands import _locate, default_address, property_spec, vector_spec
from vektra.cli.importer import Item, chunked, parse_record, read_jsonl, read_npy
from vektra.cli.output import (
    ProgressBar,
    Styled,
    cell_text,
    dump_json,
    format_table,
    rate_text,
    to_jsonable,
)
from vektra.client.models import Object, Version
from vektra.common.errors import InvalidArgument

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


def test_table_edge_cases() -> None:
    assert format_table(["A", "B"], []) == "A  B"
    long = format_table(["TEXT"], [("x" * 100,)], max_cell=10).splitlines()[1]
    assert long == "x" * 9 + "…"
    assert cell_text("two\nlines\tand tabs") == "two lines and tabs"
    assert cell_text(True) == "true" and cell_text(-0.0) == "0.0000"
    assert cell_text(np.float32(0.25)) == "0.2500"
    assert cell_text(1234567) == "1,234,567" and cell_text(np.int64(4096)) == "4,096"
    assert cell_text(Styled(None, "red")) == "-"
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
    assert "not found: absent" in got.stderr
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

    refused = vektra.run("collection", "drop", "docs", ok=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert vektra.json("collection", "drop", "docs", "--yes") == {"dropped": "docs"}
    gone = vektra.run("collection", "describe", "docs", ok=False)
    assert gone.returncode == 2 and "docs" in gone.stderr


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
