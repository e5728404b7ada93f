"""The one server interceptor: typed errors become their status codes, other
exceptions INTERNAL, for unary and streaming handlers, and every call is
counted by its code. A real grpc.aio server on a loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from vektra.common import errors
from vektra.common.keepalive import Keepalive
from vektra.common.limits import Limits
from vektra.common.metrics import REQUESTS
from vektra.common.serving import grpc_server

SERVICE = "test.Probe"


async def _unary(request: bytes, context: Any) -> bytes:
    if request == b"invalid":
        raise errors.InvalidArgument("objects[0].id", "must not be empty")
    if request == b"bug":
        raise KeyError("boom")
    return b"ok:" + request


async def _stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield b"first"
    if request == b"exhausted":
        raise errors.ResourceExhausted("max_batch", "too many objects")
    yield b"second"


def _handlers() -> grpc.GenericRpcHandler:
    ident = {"request_deserializer": None, "response_serializer": None}
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(_unary, **ident),
            "Stream": grpc.unary_stream_rpc_method_handler(_stream, **ident),
        },
    )


def _count(method: str, code: str) -> float:
    return REQUESTS.labels("probe", method, code)._value.get()


async def _exercise() -> dict[str, Any]:
    server = grpc_server("probe", Limits(), Keepalive())
    server.add_generic_rpc_handlers((_handlers(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    seen: dict[str, Any] = {}
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            unary = channel.unary_unary(f"/{SERVICE}/Unary")
            stream = channel.unary_stream(f"/{SERVICE}/Stream")
            seen["ok"] = await unary(b"x", timeout=5)
            for name in ("invalid", "bug"):
                try:
                    await unary(name.encode(), timeout=5)
                except grpc.aio.AioRpcError as exc:
                    seen[name] = (exc.code(), exc.details())
            seen["stream"] = [r async for r in stream(b"fine", timeout=5)]
            got: list[bytes] = []
            try:
                async for r in stream(b"exhausted", timeout=5):
                    got.append(r)
            except grpc.aio.AioRpcError as exc:
                seen["exhausted"] = (got, exc.code(), exc.details())
    finally:
        await server.stop(None)
    return seen


def test_errors_become_status_codes_and_every_call_is_counted() -> None:
    before = {
        key: _count(*key)
        for key in [
            ("Unary", "OK"),
            ("Unary", "INVALID_ARGUMENT"),
            ("Unary", "INTERNAL"),
            ("Stream", "OK"),
            ("Stream", "RESOURCE_EXHAUSTED"),
        ]
    }
    seen = asyncio.run(_exercise())

    assert seen["ok"] == b"ok:x"
    assert seen["invalid"] == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "objects[0].id: must not be empty",
    )
    code, details = seen["bug"]
    assert code == grpc.StatusCode.INTERNAL
    assert "KeyError" in details
    assert seen["stream"] == [b"first", b"second"]
    got, code, details = seen["exhausted"]
    assert got == [b"first"]
    assert (code, details) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "max_batch: too many objects",
    )
    for key, old in before.items():
        assert _count(*key) == pytest.approx(old + 1), key
