"""Failpoints on a real grpc.aio server: rules set through the Faults
service drop, hold, delay or fail a named RPC, for one caller or any."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc

from vektra.common.channels import FROM_HEADER
from vektra.common.keepalive import Keepalive
from vektra.common.limits import Limits
from vektra.common.serving import grpc_server
from vektra.v1 import faults_pb2 as fpb
from vektra.v1 import faults_pb2_grpc

METHOD = "/test.Probe/Echo"


async def _echo(request: bytes, context: Any) -> bytes:
    return request


def _handler() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "test.Probe", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )


async def _scenario() -> dict[str, Any]:
    server = grpc_server("probe", Limits(), Keepalive(), failpoints=True)
    server.add_generic_rpc_handlers((_handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    out: dict[str, Any] = {}
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            echo = channel.unary_unary(METHOD)
            faults = faults_pb2_grpc.FaultsStub(channel)  # type: ignore[no-untyped-call]

            async def set_rules(*rules: fpb.FaultRule) -> None:
                await faults.SetFaults(fpb.SetFaultsRequest(rules=rules), timeout=5)

            async def call(caller: str, timeout: float = 5.0) -> str:
                try:
                    got = await echo(b"x", timeout=timeout, metadata=((FROM_HEADER, caller),))
                    return got.decode()
                except grpc.aio.AioRpcError as exc:
                    return exc.code().name

            out["plain"] = await call("router-0")
            await set_rules(fpb.FaultRule(method=METHOD, caller="router-0", action="fail",
                                          code="UNAVAILABLE"))  # fmt: skip
            out["fail"] = (await call("router-0"), await call("router-1"))
            await set_rules(fpb.FaultRule(method=METHOD, action="drop"))
            out["drop"] = await call("anyone", timeout=0.3)
            await set_rules(fpb.FaultRule(method=METHOD, action="delay", delay_ms=300))
            t0 = time.monotonic()
            out["delay"] = (await call("x"), time.monotonic() - t0)
            await set_rules(fpb.FaultRule(method=METHOD, action="hold"))
            held = asyncio.ensure_future(call("x"))
            await asyncio.sleep(0.2)
            out["held_done_early"] = held.done()
            await set_rules()
            out["hold"] = await held
            out["after"] = await call("router-0")
    finally:
        await server.stop(None)
    return out


def test_rules_drop_hold_delay_and_fail_named_calls() -> None:
    out = asyncio.run(_scenario())
    assert out["plain"] == "x"
    assert out["fail"] == ("UNAVAILABLE", "x"), "only the named caller"
    assert out["drop"] == "DEADLINE_EXCEEDED"
    answer, took = out["delay"]
    assert answer == "x" and took >= 0.3
    assert out["held_done_early"] is False and out["hold"] == "x"
    assert out["after"] == "x"
