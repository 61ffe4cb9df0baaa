"""The one place error bodies are made: any failure becomes the JSON envelope + X-Request-ID."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from quilt import logs
from quilt.domain.ids import new_request_id
from quilt.errors import QuiltError, Unprocessable
from quilt.wire.common import ErrorBody

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.requests import HTTPConnection

log = logs.get(__name__)

# Codes for errors raised by the framework itself (unknown route, wrong method...).
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_ENTITY",
    503: "SERVICE_UNAVAILABLE",
}


def request_id(request: HTTPConnection) -> str:
    """The id the request-id middleware gave this request (a WebSocket gets one here)."""
    if not hasattr(request.state, "request_id"):
        request.state.request_id = new_request_id()
    return str(request.state.request_id)


def respond(
    request: HTTPConnection,
    *,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    hint: str | None = None,
    retry_after: float | None = None,
) -> JSONResponse:
    """Render the one JSON error envelope."""
    rid = request_id(request)
    body = ErrorBody(
        error=message,
        error_code=code,
        request_id=rid,
        details=details,
        hint=hint,
        retry_after=retry_after,
    )
    headers = {"X-Request-ID": rid}
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def envelope(request: HTTPConnection, error: QuiltError) -> JSONResponse:
    """Render a Quilt error."""
    return respond(
        request,
        status=error.status,
        code=error.code,
        message=error.message,
        details=error.details,
        hint=error.hint,
        retry_after=error.retry_after,
    )


def raw_response(error: QuiltError, *, close: bool) -> bytes:
    """The envelope as a whole HTTP/1.1 response, for the ingress's transport-level path."""
    rid = new_request_id()
    if error.status >= 500:  # noqa: PLR2004 - server-side failures are logged
        log.error("request.failed", error=error.message, code=error.code, request_id=rid)
    body = (
        ErrorBody(
            error=error.message,
            error_code=error.code,
            request_id=rid,
            details=error.details,
            hint=error.hint,
            retry_after=error.retry_after,
        )
        .model_dump_json(exclude_none=True)
        .encode()
    )
    lines = [
        f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        f"x-request-id: {rid}",
    ]
    if error.retry_after is not None:
        lines.append(f"retry-after: {int(error.retry_after)}")
    if close:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def failure(request: HTTPConnection, error: QuiltError) -> JSONResponse:
    """The answer to a Quilt error raised while serving a request (server-side ones logged)."""
    if error.status >= 500:  # noqa: PLR2004 - server-side failures are logged
        log.error("request.failed", error=error.message, code=error.code)
    return envelope(request, error)


def validation_error(errors: list[Any]) -> Unprocessable:
    """A 422 naming the first field that failed, with every failure in details."""
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    message = first.get("msg", "invalid value")
    return Unprocessable(
        f"invalid request: {where}: {message}",
        details={
            "expected": [f"{where}: {message}"],
            "received": repr(first.get("input"))[:200],
            "errors": [
                {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                for e in errors[:20]
            ],
        },
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the envelope."""

    async def on_quilt_error(request: Request, exc: Exception) -> JSONResponse:
        return failure(request, exc if isinstance(exc, QuiltError) else QuiltError(str(exc)))

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        errors = list(exc.errors()) if isinstance(exc, RequestValidationError) else []
        return envelope(request, validation_error(errors))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else ""
        message = detail if isinstance(detail, str) and detail else "request failed"
        if message in ("Not Found", "Method Not Allowed"):
            message = f"{message.lower()}: {request.method} {request.url.path}"
        return respond(
            request, status=status, code=HTTP_CODES.get(status, "INTERNAL"), message=message
        )

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("request.crashed", path=request.url.path, error=repr(exc), exc_info=exc)
        return envelope(request, QuiltError(f"internal error ({type(exc).__name__})"))

    app.add_exception_handler(QuiltError, on_quilt_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_crash)
