"""The package as a user meets it: the front door's names, what importing it
costs, and an editable install that a folder named `vektra` cannot shadow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vektra
from vektra import client as sdk
from vektra.common import errors

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_front_door_exports_the_clients_models_and_errors() -> None:
    for name in vektra.__all__:
        assert getattr(vektra, name) is not None, name
    assert vektra.Client is sdk.Client and vektra.AsyncClient is sdk.AsyncClient
    assert set(sdk.__all__) <= set(vektra.__all__)
    for name in errors.__all__:
        assert getattr(vektra, name) is getattr(errors, name), name
    assert issubclass(vektra.Unavailable, vektra.VektraError)
    with pytest.raises(AttributeError):
        _ = vektra.NoSuchThing  # type: ignore[attr-defined]


def test_sdk_internals_are_private_modules() -> None:
    modules = {p.stem for p in (REPO / "src" / "vektra" / "client").glob("*.py")}
    public = {m for m in modules if not m.startswith("_")}
    assert public == {"models"}, public


def test_importing_vektra_imports_no_server() -> None:
    loaded = json.loads(
        _python(
            "import json, sys, vektra\n"
            "from vektra import Client, AsyncClient, Object\n"
            "print(json.dumps(sorted(sys.modules)))"
        )
    )
    servers = [
        m
        for m in loaded
        if m.split(".")[:2] in (["vektra", "node"], ["vektra", "router"], ["vektra", "coordinator"])
        or m in ("lmdb", "hnswlib", "vektra.cli")
    ]
    assert servers == []


def test_bare_import_vektra_is_light() -> None:
    loaded = json.loads(_python("import json, sys, vektra; print(json.dumps(sorted(sys.modules)))"))
    assert not [m for m in loaded if m.startswith(("grpc", "numpy", "vektra."))]


def test_a_script_beside_a_clone_named_vektra_imports_the_installed_package(
    tmp_path: Path,
) -> None:
    """Cloning the repository as `vektra` and running a script from the folder
    that holds the clone put a namespace package `vektra` (the clone, which has
    no __init__.py) ahead of the editable install: `ImportError: cannot import
    name 'Client' from 'vektra' (unknown location)`."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        clone = tmp_path / "vektra"
        shutil.copytree(REPO / "src", clone / "src")  # the same shape, without git
        shutil.copy(REPO / "pyproject.toml", clone)
    else:
        clone = tmp_path / "vektra"
        subprocess.run(
            [git, "clone", "--quiet", "--depth", "1", f"file://{REPO}", str(clone)], check=True
        )
    assert not (clone / "__init__.py").exists()
    script = tmp_path / "use_vektra.py"
    script.write_text(
        "import vektra\n"
        "from vektra import Client, InvalidArgument\n"
        "print(vektra.__file__)\n"
        "print(Client.__name__, InvalidArgument.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    where, names = done.stdout.splitlines()
    assert names == "Client InvalidArgument"
    assert Path(where).resolve() == Path(vektra.__file__).resolve()
