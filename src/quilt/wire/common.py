"""Shapes shared by every concern: the error envelope, receipts, plain successes."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict


class Request(BaseModel):
    """Base of request bodies: JSON types are checked strictly; unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class ErrorBody(BaseModel):
    """The one error envelope every failure answers with."""

    error: str
    error_code: str
    request_id: str
    details: dict[str, Any] | None = None
    hint: str | None = None
    retry_after: float | None = None


class Receipt(BaseModel):
    """The 202 answer of an operation-driven route: follow `status_url`."""

    success: bool = True
    operation_id: str
    status_url: str


class Success(BaseModel):
    """A plain acknowledgement."""

    success: bool = True
    message: str | None = None


# The archive routes read a raw body, so their OpenAPI request body is declared by hand.
ARCHIVE_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "a tar archive (plain, gzip, bzip2 or xz); older JSON "
        '{"content": "<base64>", "path", "strip_components"} is accepted too',
        "content": {
            "application/x-tar": {"schema": {"type": "string", "format": "binary"}},
            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
