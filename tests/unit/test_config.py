"""Configuration: YAML < environment < command line, typed, unknown keys refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vektra.common.config import load_config
from vektra.common.errors import InvalidArgument
from vektra.coordinator.config import CoordinatorConfig
from vektra.node.config import NodeConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "vektra.example.yaml"


def test_the_example_file_loads_for_every_role() -> None:
    node = load_config(NodeConfig, "node", path=EXAMPLE, env={})
    assert node.listen == "127.0.0.1:7701" and node.checkpoint_interval_s == 30.0
    coord = load_config(CoordinatorConfig, "coordinator", path=EXAMPLE, env={})
    assert coord.nodes == ("127.0.0.1:7701", "127.0.0.1:7702", "127.0.0.1:7703")


def test_precedence_and_types(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("node:\n  grace_s: 1\n  listen: 0.0.0.0:1\n")
    env = {
        "VEKTRA__NODE__GRACE_S": "2.5",
        "VEKTRA__NODE__DATA_DIR": "/data",
        "VEKTRA__ROUTER__X": "1",
    }
    cfg = load_config(
        NodeConfig, "node", path=f, env=env, overrides={"listen": "h:2", "node_id": None}
    )
    assert cfg.grace_s == 2.5 and cfg.data_dir == Path("/data") and cfg.listen == "h:2"
    assert cfg.node_id is None


def test_unknown_and_malformed_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as err:
        load_config(NodeConfig, "node", env={"VEKTRA__NODE__COLOUR": "red"})
    assert "colour" in str(err.value)
    with pytest.raises(InvalidArgument) as err:
        load_config(NodeConfig, "node", env={"VEKTRA__NODE__GRACE_S": "soon"})
    assert err.value.field == "config.node.grace_s"


@pytest.mark.parametrize("module", ["vektra.node.config", "vektra.node.serve"])
def test_node_config_and_serve_import_no_server_libraries(module: str) -> None:
    # `vektra --help` builds the node's parser, whose help shows NodeConfig's
    # defaults: neither may load LMDB, hnswlib or gRPC. A fresh interpreter,
    # since this test process has long imported all of them.
    code = (
        f"import sys, {module}\n"
        "heavy = ('lmdb', 'hnswlib', 'grpc')\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "", f"{module} imported {done.stdout.strip()}"


def test_a_node_process_runs_blas_on_one_thread() -> None:
    """`vektra serve node` limits numpy's BLAS to one thread (its spinning
    threads cost a node more CPU than the products they speed up)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from vektra.node.serve import limit_blas_threads

    with threadpool_limits(limits=None):  # restores the caller's limits afterwards
        limit_blas_threads()
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
