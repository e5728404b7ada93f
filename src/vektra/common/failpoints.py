"""Deterministic fault injection for tests: failpoints on named RPCs.

A server started with `failpoints: true` (a setting of every role, off by
default and never for production) installs `FailpointInterceptor` and serves
the `vektra.v1.Faults` service. The test harness sets rules on it: a rule
matches a call by its full method name and, optionally, the caller's process
id (the x-vektra-from header every internal call carries), and then

    drop   never answers (the caller's deadline passes, as with a lost message)
    hold   waits until the rule is removed, then proceeds (exact interleavings)
    delay  proceeds after delay_ms
    fail   fails with the given status code

so a test says "drop Apply from router-0 to node-1" instead of sleeping and
hoping. Setting rules replaces them all; an empty set releases held calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc

from vektra.common.channels import FROM_HEADER
from vektra.common.errors import InvalidArgument
from vektra.v1 import faults_pb2 as fpb
from vektra.v1 import faults_pb2_grpc

__all__ = ["FailpointInterceptor", "Failpoints", "FaultsService", "Rule"]

log = logging.getLogger(__name__)

Ctx: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
_ACTIONS = ("drop", "hold", "delay", "fail")
_SELF = "/vektra.v1.Faults/SetFaults"


@dataclass(frozen=True, slots=True)
class Rule:
    method: str
    caller: str  # "" = any caller
    action: str
    delay_ms: int = 0
    code: str = ""

    def matches(self, method: str, caller: str) -> bool:
        return self.method == method and (not self.caller or self.caller == caller)


class Failpoints:
    """The rules of one process, and the event held calls wait on."""

    def __init__(self) -> None:
        self.rules: tuple[Rule, ...] = ()
        self.matched = 0
        self._released = asyncio.Event()

    def set(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        # Wake every held call; each checks whether its rule still stands.
        self._released.set()
        self._released = asyncio.Event()
        log.warning("failpoints now: %s", rules or "none")

    def find(self, method: str, caller: str) -> Rule | None:
        for rule in self.rules:
            if rule.matches(method, caller):
                return rule
        return None

    async def held(self, rule: Rule) -> None:
        while rule in self.rules:
            await self._released.wait()


def _caller(details: grpc.HandlerCallDetails) -> str:
    for key, value in details.invocation_metadata or ():
        if key == FROM_HEADER:
            return str(value)
    return ""


class FailpointInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, failpoints: Failpoints) -> None:
        self._failpoints = failpoints

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method == _SELF or not self._failpoints.rules:
            return handler
        rule = self._failpoints.find(details.method, _caller(details))
        if rule is None or handler.unary_unary is None:
            return handler
        self._failpoints.matched += 1
        behaviour = handler.unary_unary
        failpoints = self._failpoints

        async def faulty(request: Any, context: Ctx) -> Any:
            match rule.action:
                case "drop":
                    # Never answer: the caller gives up at its deadline.
                    await asyncio.Event().wait()
                case "hold":
                    await failpoints.held(rule)
                case "delay":
                    await asyncio.sleep(rule.delay_ms / 1000)
                case "fail":
                    code = getattr(grpc.StatusCode, rule.code or "UNAVAILABLE")
                    await context.abort(code, f"failpoint: {rule.method} fails with {code.name}")
            return await behaviour(request, context)

        return grpc.unary_unary_rpc_method_handler(
            faulty,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class FaultsService(faults_pb2_grpc.FaultsServicer):
    def __init__(self, failpoints: Failpoints) -> None:
        self._failpoints = failpoints

    async def SetFaults(self, request: fpb.SetFaultsRequest, context: Ctx) -> fpb.SetFaultsResponse:
        rules = []
        for r in request.rules:
            if r.action not in _ACTIONS:
                raise InvalidArgument("rules.action", f"one of {', '.join(_ACTIONS)}")
            rules.append(Rule(r.method, r.caller, r.action, r.delay_ms, r.code))
        self._failpoints.set(tuple(rules))
        return fpb.SetFaultsResponse(matched=self._failpoints.matched)
