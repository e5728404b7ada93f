"""The one mapping between Vektra errors and gRPC status codes.

Servers install `vektra.common.interceptors.StatusInterceptor`, which turns a
`VektraError` raised by any handler into its status code and message (and
anything else into INTERNAL, logged). The SDK
calls `from_rpc_error` to turn a `grpc.RpcError` back into the typed error.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import grpc

from vektra.common import errors

__all__ = ["CODE_OF", "ERROR_OF", "abort_with", "from_rpc_error"]

log = logging.getLogger(__name__)

_CLASSES: list[type[errors.VektraError]] = [
    errors.InvalidArgument,
    errors.NotFound,
    errors.AlreadyExists,
    errors.FailedPrecondition,
    errors.Unavailable,
    errors.DeadlineExceeded,
    errors.ResourceExhausted,
    errors.Unauthenticated,
    errors.PermissionDenied,
    errors.DataLoss,
    errors.Internal,
]

CODE_OF: dict[type[errors.VektraError], grpc.StatusCode] = {
    cls: getattr(grpc.StatusCode, cls.code) for cls in _CLASSES
}
ERROR_OF: dict[grpc.StatusCode, type[errors.VektraError]] = {v: k for k, v in CODE_OF.items()}

SelfT = TypeVar("SelfT")
ReqT = TypeVar("ReqT")
R = TypeVar("R")


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], exc: errors.VektraError) -> None:
    await context.abort(CODE_OF.get(type(exc), grpc.StatusCode.UNKNOWN), exc.message)


def from_rpc_error(exc: grpc.RpcError) -> errors.VektraError:
    """The typed Vektra error for a failed call, keeping the server's message."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    message = (exc.details() if hasattr(exc, "details") else None) or str(code)
    cls = ERROR_OF.get(code)
    if cls is errors.InvalidArgument:
        field, _, _problem = message.partition(": ")
        invalid = errors.InvalidArgument("", message)
        invalid.field = field if _problem else ""
        return invalid
    if cls is errors.ResourceExhausted:
        limit, _, _problem = message.partition(": ")
        exhausted = errors.ResourceExhausted("", message)
        exhausted.limit = limit if _problem else ""
        return exhausted
    if cls is None:
        if code == grpc.StatusCode.CANCELLED:
            return errors.Unavailable(f"call cancelled: {message}")
        return errors.Internal(f"{code}: {message}")
    return cls(message)
