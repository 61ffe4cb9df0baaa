"""The one error tree. Every error Quilt raises on purpose is a `QuiltError`.

Each class says when it is raised and carries a stable `code` (the wire `error_code`) and an
HTTP `status`. The API edge turns any of them into the one JSON envelope; nothing else builds
error bodies. Imports only the standard library.

    QuiltError                        500 INTERNAL
    ├── BadRequest                    400 BAD_REQUEST
    ├── Unprocessable                 422 UNPROCESSABLE_ENTITY
    ├── Unauthorized                  401 UNAUTHORIZED
    ├── Forbidden                     403 FORBIDDEN
    ├── NotFound                      404 NOT_FOUND
    ├── Conflict                      409 CONFLICT      (details.state when a state forbids it)
    │   ├── SnapshotPinned            409 SNAPSHOT_PINNED  (unpin before delete)
    │   └── SnapshotInUse             409 SNAPSHOT_IN_USE  (containers or snapshots stand on it)
    ├── PayloadTooLarge               413 PAYLOAD_TOO_LARGE (the body is over a set limit)
    │   └── QuotaExceeded             413 QUOTA_EXCEEDED   (a volume's size_limit_mb is reached)
    ├── LimitReached                  429 LIMIT_REACHED (a per-tenant cap; the hint frees it)
    ├── CapacityFull                  503 CAPACITY_FULL (always with a hint)
    ├── ServiceUnavailable            503 SERVICE_UNAVAILABLE
    └── HostError                     500 INTERNAL      (a host operation failed: names the
                                                         command or syscall and its arguments)
"""

from __future__ import annotations

from typing import Any, ClassVar


class QuiltError(Exception):
    """Base of every deliberate Quilt error; never raised directly except as a last resort."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.hint = hint
        self.retry_after = retry_after


class BadRequest(QuiltError):
    """The request is well-formed JSON but asks for something invalid (bad GPU shape...)."""

    status = 400
    code = "BAD_REQUEST"


class Unprocessable(QuiltError):
    """The body does not match the schema (wrong type, missing field, unknown enum value)."""

    status = 422
    code = "UNPROCESSABLE_ENTITY"


class Unauthorized(QuiltError):
    """No credential, or one that matches no live API key."""

    status = 401
    code = "UNAUTHORIZED"


class Forbidden(QuiltError):
    """A valid credential asks for something its tenant may not do."""

    status = 403
    code = "FORBIDDEN"


class NotFound(QuiltError):
    """The resource does not exist for this tenant (another tenant's looks exactly the same)."""

    status = 404
    code = "NOT_FOUND"


class Conflict(QuiltError):
    """The resource's current state forbids the request (details.state says which state)."""

    status = 409
    code = "CONFLICT"


class SnapshotPinned(Conflict):
    """A pinned snapshot cannot be deleted or expire; unpin it first."""

    code = "SNAPSHOT_PINNED"


class SnapshotInUse(Conflict):
    """Containers cloned from the snapshot, or snapshots taken on top of it, still exist."""

    code = "SNAPSHOT_IN_USE"


class PayloadTooLarge(QuiltError):
    """The request body is larger than the server accepts for this route."""

    status = 413
    code = "PAYLOAD_TOO_LARGE"


class QuotaExceeded(PayloadTooLarge):
    """Writing this would take a volume past its `size_limit_mb`."""

    code = "QUOTA_EXCEEDED"


class LimitReached(QuiltError):
    """The tenant is at a cap (open terminal sessions...); freeing one lets the next in."""

    status = 429
    code = "LIMIT_REACHED"


class CapacityFull(QuiltError):
    """The host lacks the capacity asked for (GPUs, addresses, pool space); carries a hint."""

    status = 503
    code = "CAPACITY_FULL"


class ServiceUnavailable(QuiltError):
    """A subsystem this request needs is not ready (runtime missing, image not built...)."""

    status = 503
    code = "SERVICE_UNAVAILABLE"


class BadGateway(ServiceUnavailable):
    """The app behind a published service broke the exchange (closed it, or spoke bad HTTP)."""

    status = 502


class HostError(QuiltError):
    """A host operation failed unexpectedly; the message names what was run and why it failed."""

    status = 500
    code = "INTERNAL"


ERROR_CLASSES: tuple[type[QuiltError], ...] = (
    QuiltError,
    BadRequest,
    Unprocessable,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    SnapshotPinned,
    SnapshotInUse,
    CapacityFull,
    ServiceUnavailable,
    HostError,
)
