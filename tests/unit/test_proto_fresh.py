"""The committed generated code matches the .proto sources.

Compares descriptors, not text: the text protoc writes varies with its
version; the descriptor is what the generated code actually serves."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[2]


def test_generated_modules_match_the_proto_sources(tmp_path: Path) -> None:
    pytest.importorskip(
        "grpc_tools", reason="grpcio-tools is a test dependency: pip install -e '.[test]'"
    )
    out = tmp_path / "descriptors.pb"
    sys.path.insert(0, str(REPO / "proto"))
    try:
        from generate import SOURCES, protoc_args  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    args = protoc_args(tmp_path, [f"--descriptor_set_out={out}"])
    code = subprocess.run(
        [sys.executable, "-m", *args], check=False, capture_output=True, text=True
    )
    assert code.returncode == 0, code.stderr
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    assert {f.name for f in fresh.file} == {f"vektra/v1/{p.name}" for p in SOURCES}
    for f in fresh.file:
        # protoc fills json_name in descriptor sets but not in generated code.
        for message in _all_messages(f.message_type):
            for fld in message.field:
                fld.ClearField("json_name")
        module = importlib.import_module(f.name.replace("/", ".").replace(".proto", "_pb2"))
        committed = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        assert committed == f, (
            f"{f.name} changed: run `python proto/generate.py` and commit the result"
        )
        grpc_module = importlib.import_module(
            f.name.replace("/", ".").replace(".proto", "_pb2_grpc")
        )
        for service in f.service:
            stub = getattr(grpc_module, f"{service.name}Stub")
            servicer = getattr(grpc_module, f"{service.name}Servicer")
            for method in service.method:
                assert hasattr(servicer, method.name), (
                    f"{service.name}.{method.name} missing: regenerate"
                )
            assert stub is not None


def _all_messages(messages):  # type: ignore[no-untyped-def]
    for m in messages:
        yield m
        yield from _all_messages(m.nested_type)
