"""Configuration: frozen dataclasses loaded from a commented YAML file, then
environment overrides, then explicit (command-line) overrides.

An environment variable `VEKTRA__<SECTION>__<FIELD>` overrides `field` of
`section`, e.g. `VEKTRA__NODE__DATA_DIR=/data`. Values are converted to the
field's declared type. Code never reads configuration from anywhere else: the
loaded value is passed to constructors.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from vektra.common.errors import InvalidArgument

__all__ = ["add_common_serve_flags", "load_config"]

C = TypeVar("C")


def _convert(value: Any, target: Any, where: str) -> Any:
    origin = typing.get_origin(target)
    args = typing.get_args(target)
    if origin in (typing.Union, types.UnionType):
        blank = value is None or (isinstance(value, str) and value.lower() in ("", "none", "null"))
        if blank and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where)
    if origin in (tuple, list):
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(
            _convert(v.strip() if isinstance(v, str) else v, args[0], where)
            for v in items
            if v != ""
        )
    try:
        if target is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if target in (int, float, str):
            return target(value)
        if target is Path:
            return Path(value)
    except (TypeError, ValueError):
        raise InvalidArgument(
            where, f"cannot read {value!r} as {getattr(target, '__name__', target)}"
        ) from None
    return value


def load_config(
    cls: type[C],
    section: str,
    *,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> C:
    """Build `cls` (a dataclass) from defaults < YAML `section` < env < overrides.
    Overrides whose value is None are ignored (an unset command-line flag)."""
    env = os.environ if env is None else env
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    if path is not None:
        doc = yaml.safe_load(path.read_text()) or {}
        part = doc.get(section, {}) or {}
        if not isinstance(part, dict):
            raise InvalidArgument(f"{path}:{section}", "must be a mapping")
        values.update(part)
    prefix = f"VEKTRA__{section.upper()}__"
    for key, raw in env.items():
        if key.startswith(prefix):
            values[key[len(prefix) :].lower()] = raw
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        raise InvalidArgument(f"config.{section}", f"unknown settings: {', '.join(unknown)}")
    kwargs = {k: _convert(v, hints[k], f"config.{section}.{k}") for k, v in values.items()}
    return cls(**kwargs)


def add_common_serve_flags(parser: argparse.ArgumentParser, default_listen: str) -> None:
    """The flags every `vektra serve ROLE` takes."""
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help=f"address to serve gRPC on; port 0 picks a free one (default: {default_listen})",
    )
    parser.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve Prometheus /metrics on this address (default: off)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="YAML configuration file (default: none)"
    )
