"""The SDK's error tree, and the pure mapping from an answer or a failed operation to a class.

Builds nothing over the network: the clients hand it an `httpx.Response` (or an operation
record) and raise what it returns. Every class says when it is raised:

    QuiltError                  any failure the SDK reports on purpose
    ├── BadRequest              400 BAD_REQUEST           asks for something invalid
    ├── UnprocessableEntity     422 UNPROCESSABLE_ENTITY  the body does not match the schema
    ├── Unauthorized            401 UNAUTHORIZED          no API key, or one the server refuses
    ├── Forbidden               403 FORBIDDEN             the key's tenant may not do this
    ├── NotFound                404 NOT_FOUND             no such resource for this tenant
    ├── Conflict                409 CONFLICT              the resource's state forbids it
    │   ├── SnapshotPinned      409 SNAPSHOT_PINNED       unpin before delete
    │   └── SnapshotInUse       409 SNAPSHOT_IN_USE       clones or snapshots stand on it
    ├── PayloadTooLarge         413 PAYLOAD_TOO_LARGE     the body is over a set limit
    │   └── QuotaExceeded       413 QUOTA_EXCEEDED        a volume's size_limit_mb is reached
    ├── LimitReached            429 LIMIT_REACHED         a per-tenant cap; the hint frees it
    ├── CapacityFull            503 CAPACITY_FULL         the host lacks capacity (with a hint)
    ├── ServiceUnavailable      503 SERVICE_UNAVAILABLE   a subsystem is not ready; try later
    │   └── BadGateway          502                       the app behind a service broke
    ├── InternalError           500 INTERNAL              the server failed
    ├── ConnectionError         (no answer)               also a builtins.ConnectionError
    └── WaitTimeout             (no answer)               also a builtins.TimeoutError

An unknown `error_code` maps by HTTP status; a status no class claims maps to `BadRequest`
(other 4xx) or `InternalError` (other 5xx).
"""

from __future__ import annotations

import builtins
import json
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import httpx

    from quilt.sdk._models import Operation


class QuiltError(Exception):
    """Base of every error the SDK raises; carries the server's error envelope as attributes."""

    code: str = "INTERNAL"
    status_code: int | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
        response: httpx.Response | None = None,
        operation: Operation | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.status_code = status_code if status_code is not None else type(self).status_code
        self.request_id = request_id
        self.details = details
        self.hint = hint
        self.retry_after = retry_after
        self.response = response
        self.operation = operation

    def __str__(self) -> str:
        where = f", request_id={self.request_id}" if self.request_id else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.message} [{self.code}{where}]{hint}"


class BadRequest(QuiltError):
    """The request is well-formed but asks for something invalid (a bad name, a bad path...)."""

    code = "BAD_REQUEST"
    status_code = 400


class UnprocessableEntity(QuiltError):
    """The body does not match the route's schema (wrong type, missing field, bad enum value)."""

    code = "UNPROCESSABLE_ENTITY"
    status_code = 422


class Unauthorized(QuiltError):
    """No API key was sent, or the server knows no live key like it."""

    code = "UNAUTHORIZED"
    status_code = 401


class Forbidden(QuiltError):
    """The key is valid but its tenant may not do this (e.g. a foreign X-Tenant-Id)."""

    code = "FORBIDDEN"
    status_code = 403


class NotFound(QuiltError):
    """The resource does not exist for this tenant."""

    code = "NOT_FOUND"
    status_code = 404


class Conflict(QuiltError):
    """The resource's current state forbids the request (`details["state"]` says which)."""

    code = "CONFLICT"
    status_code = 409


class SnapshotPinned(Conflict):
    """A pinned snapshot cannot be deleted; unpin it first."""

    code = "SNAPSHOT_PINNED"


class SnapshotInUse(Conflict):
    """Containers cloned from the snapshot, or snapshots taken on top of it, still exist."""

    code = "SNAPSHOT_IN_USE"


class PayloadTooLarge(QuiltError):
    """The request body is larger than the server accepts for this route."""

    code = "PAYLOAD_TOO_LARGE"
    status_code = 413


class QuotaExceeded(PayloadTooLarge):
    """Writing this would take a volume past its `size_limit_mb`."""

    code = "QUOTA_EXCEEDED"


class LimitReached(QuiltError):
    """The tenant is at a cap (open terminal sessions...); freeing one lets the next in."""

    code = "LIMIT_REACHED"
    status_code = 429


class CapacityFull(QuiltError):
    """The host lacks the capacity asked for (GPUs, addresses, pool space); read the hint."""

    code = "CAPACITY_FULL"
    status_code = 503


class ServiceUnavailable(QuiltError):
    """A subsystem the request needs is not ready; retried when the server says when."""

    code = "SERVICE_UNAVAILABLE"
    status_code = 503


class BadGateway(ServiceUnavailable):
    """The app behind a published service broke the exchange (closed it, spoke bad HTTP)."""

    status_code = 502


class InternalError(QuiltError):
    """The server failed (a host operation, or a bug); `request_id` finds it in its log."""

    code = "INTERNAL"
    status_code = 500


class ConnectionError(QuiltError, builtins.ConnectionError):  # noqa: A001 - the name says what it is; it is a builtins.ConnectionError too
    """No answer: the server could not be reached, or the connection broke (wraps httpx's error)."""

    code = "CONNECTION_ERROR"


class WaitTimeout(QuiltError, builtins.TimeoutError):
    """`wait()` gave up before the operation ended; the operation itself goes on."""

    code = "WAIT_TIMEOUT"


BY_CODE: Final[dict[str, type[QuiltError]]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        UnprocessableEntity,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        SnapshotPinned,
        SnapshotInUse,
        PayloadTooLarge,
        QuotaExceeded,
        LimitReached,
        CapacityFull,
        ServiceUnavailable,
        InternalError,
    )
}

BY_STATUS: Final[dict[int, type[QuiltError]]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: UnprocessableEntity,
    429: LimitReached,
    500: InternalError,
    502: BadGateway,
    503: ServiceUnavailable,
}


def error_class(code: str | None, status: int | None) -> type[QuiltError]:
    """The class for an error code and HTTP status: the code decides, the status refines it.

    `SERVICE_UNAVAILABLE` with 502 is a `BadGateway`; an unknown code falls back on the status.
    """
    by_code = BY_CODE.get(code or "")
    by_status = BY_STATUS.get(status or 0)
    if by_code is None and by_status is None:
        if status is None:
            return QuiltError
        return InternalError if status >= 500 else BadRequest  # noqa: PLR2004 - the 5xx family
    if by_code is None:
        return by_status or QuiltError
    if by_status is not None and issubclass(by_status, by_code):
        return by_status
    return by_code


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks the client to wait: `Retry-After`, else the body's hint."""
    header = response.headers.get("retry-after")
    if header is not None:
        try:
            return max(0.0, float(header))
        except ValueError:
            return None  # an HTTP date: not worth a clock comparison; treat as no hint
    body = _body(response)
    details = body.get("details")
    for value in (body.get("retry_after"), (details or {}).get("retry_after")):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(0.0, float(value))
    return None


def from_response(response: httpx.Response) -> QuiltError:
    """The error an unsuccessful answer stands for, carrying its envelope and the response."""
    body = _body(response)
    code = body.get("error_code") if isinstance(body.get("error_code"), str) else None
    message = body.get("error")
    if not isinstance(message, str):
        text = response.text.strip()[:200] if response.content else ""
        message = text or f"HTTP {response.status_code} {response.reason_phrase}".strip()
    details = body.get("details")
    hint = body.get("hint")
    request_id = body.get("request_id") or response.headers.get("x-request-id")
    cls = error_class(code, response.status_code)
    return cls(
        message,
        code=code,
        status_code=response.status_code,
        request_id=str(request_id) if request_id else None,
        details=details if isinstance(details, dict) else None,
        hint=hint if isinstance(hint, str) else None,
        retry_after=retry_after(response),
        response=response,
    )


def from_operation(operation: Operation) -> QuiltError:
    """The error a failed, cancelled or timed-out operation stands for (`.operation` holds it)."""
    error = operation.error or {}
    code = error.get("error_code") or operation.reason_code or operation.status.upper()
    message = (
        error.get("error")
        or operation.reason_message
        or operation.message
        or f"operation {operation.operation_id} ended {operation.status}"
    )
    details = error.get("details")
    return error_class(str(code), None)(
        str(message),
        code=str(code),
        details=details if isinstance(details, dict) else None,
        operation=operation,
    )
