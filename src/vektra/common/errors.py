"""The one error hierarchy of Vektra.

Every error a server may return, and every error the SDK raises, is one of
these. Each class carries its gRPC status code; `vektra.common.grpc_errors`
is the single place that maps them to and from gRPC.

    VektraError
    ├── InvalidArgument      INVALID_ARGUMENT     bad input; names the field
    ├── NotFound             NOT_FOUND            no such collection
    ├── AlreadyExists        ALREADY_EXISTS       collection exists
    ├── FailedPrecondition   FAILED_PRECONDITION  stale epoch, wrong owner
    ├── Unavailable          UNAVAILABLE          node down, quorum not met
    ├── DeadlineExceeded     DEADLINE_EXCEEDED
    ├── ResourceExhausted    RESOURCE_EXHAUSTED   store or map full, overload; names the limit
    ├── Unauthenticated      UNAUTHENTICATED
    ├── PermissionDenied     PERMISSION_DENIED
    ├── DataLoss             DATA_LOSS            checksum mismatch
    └── Internal             INTERNAL             a bug
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlreadyExists",
    "DataLoss",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "VektraError",
]


class VektraError(Exception):
    """Base of every Vektra error. `code` is the gRPC status code name."""

    code: ClassVar[str] = "UNKNOWN"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(VektraError):
    """The request is malformed. `field` names the offending field, e.g.
    ``objects[3].vectors.embedding``; the message starts with it."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field


class NotFound(VektraError):
    """The named collection (or other named thing) does not exist."""

    code = "NOT_FOUND"


class AlreadyExists(VektraError):
    """A collection of that name already exists."""

    code = "ALREADY_EXISTS"


class FailedPrecondition(VektraError):
    """The system is not in a state to serve this request (stale epoch, wrong owner)."""

    code = "FAILED_PRECONDITION"


class Unavailable(VektraError):
    """A node is unreachable or a consistency level cannot be met; safe to retry
    idempotent calls."""

    code = "UNAVAILABLE"


class DeadlineExceeded(VektraError):
    """The call's deadline passed before it finished."""

    code = "DEADLINE_EXCEEDED"


class ResourceExhausted(VektraError):
    """A limit was hit: the store's map or disk is full, or the server is
    overloaded. `limit` names it."""

    code = "RESOURCE_EXHAUSTED"

    def __init__(self, limit: str, problem: str) -> None:
        super().__init__(f"{limit}: {problem}" if limit else problem)
        self.limit = limit


class Unauthenticated(VektraError):
    """The caller did not prove who it is."""

    code = "UNAUTHENTICATED"


class PermissionDenied(VektraError):
    """The caller may not do this."""

    code = "PERMISSION_DENIED"


class DataLoss(VektraError):
    """Stored data failed verification (checksum mismatch)."""

    code = "DATA_LOSS"


class Internal(VektraError):
    """A bug: an invariant did not hold."""

    code = "INTERNAL"
