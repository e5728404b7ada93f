"""Generate the Python protobuf and gRPC modules from proto/vektra/v1/*.proto.

One command, run from anywhere:  python proto/generate.py  (or `make proto`)

The generated modules are committed as the `vektra.v1` package, in
src/vektra/v1 beside the rest of the package (protoc derives the module path
from the .proto's path, vektra/v1/, so their `from vektra.v1 import ...` lines
resolve as written). tests/unit/test_proto_fresh.py fails when they no longer
match the .proto sources.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
OUT_ROOT = PROTO_ROOT.parent / "src"
SOURCES = sorted((PROTO_ROOT / "vektra" / "v1").glob("*.proto"))


def protoc_args(out_dir: Path, extra: list[str] | None = None) -> list[str]:
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    return [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(extra or []),
        *[str(p.relative_to(PROTO_ROOT)) for p in SOURCES],
    ]


def generate(out_dir: Path = OUT_ROOT) -> None:
    from grpc_tools import protoc

    code = protoc.main(protoc_args(out_dir))
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_ROOT
    generate(out)
    print(f"generated Python modules for {len(SOURCES)} proto files under {out / 'vektra' / 'v1'}")
