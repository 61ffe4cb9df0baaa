"""Error answers become one exception class per error code, carrying the whole envelope."""

from __future__ import annotations

import builtins
from typing import Any

import httpx
import pytest

import quilt
from quilt import errors as server_errors
from quilt.sdk._exceptions import from_operation

CODES = [
    (400, "BAD_REQUEST", quilt.BadRequest),
    (422, "UNPROCESSABLE_ENTITY", quilt.UnprocessableEntity),
    (401, "UNAUTHORIZED", quilt.Unauthorized),
    (403, "FORBIDDEN", quilt.Forbidden),
    (404, "NOT_FOUND", quilt.NotFound),
    (409, "CONFLICT", quilt.Conflict),
    (409, "SNAPSHOT_PINNED", quilt.SnapshotPinned),
    (409, "SNAPSHOT_IN_USE", quilt.SnapshotInUse),
    (413, "PAYLOAD_TOO_LARGE", quilt.PayloadTooLarge),
    (413, "QUOTA_EXCEEDED", quilt.QuotaExceeded),
    (429, "LIMIT_REACHED", quilt.LimitReached),
    (503, "CAPACITY_FULL", quilt.CapacityFull),
    (503, "SERVICE_UNAVAILABLE", quilt.ServiceUnavailable),
    (502, "SERVICE_UNAVAILABLE", quilt.BadGateway),
    (500, "INTERNAL", quilt.InternalError),
]

# The server's classes and the SDK's that stand for them.
SERVER_TO_SDK = {
    "BadRequest": quilt.BadRequest,
    "Unprocessable": quilt.UnprocessableEntity,
    "Unauthorized": quilt.Unauthorized,
    "Forbidden": quilt.Forbidden,
    "NotFound": quilt.NotFound,
    "Conflict": quilt.Conflict,
    "SnapshotPinned": quilt.SnapshotPinned,
    "SnapshotInUse": quilt.SnapshotInUse,
    "PayloadTooLarge": quilt.PayloadTooLarge,
    "QuotaExceeded": quilt.QuotaExceeded,
    "LimitReached": quilt.LimitReached,
    "CapacityFull": quilt.CapacityFull,
    "ServiceUnavailable": quilt.ServiceUnavailable,
    "BadGateway": quilt.BadGateway,
    "HostError": quilt.InternalError,
    "QuiltError": quilt.InternalError,
}


def answering(status: int, body: Any = None, **headers: str) -> quilt.Quilt:
    """A client whose every request gets the same answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        del request
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return quilt.Quilt("http://quilt.test", transport=httpx.MockTransport(handler), max_retries=0)


def envelope(code: str, **extra: Any) -> dict[str, Any]:
    """A server error body."""
    return {"error": f"it failed: {code}", "error_code": code, "request_id": "req_abc", **extra}


@pytest.mark.parametrize(("status", "code", "cls"), CODES, ids=[f"{c[1]}-{c[0]}" for c in CODES])
def test_every_error_code_raises_its_class(
    status: int, code: str, cls: type[quilt.QuiltError]
) -> None:
    """Each error code (and status) raises its own class with the envelope's fields."""
    details = {"state": "stopped", "expected": ["running"]}
    with (
        answering(status, envelope(code, details=details, hint="start it first")) as client,
        pytest.raises(cls) as caught,
    ):
        client.containers.get("ctr_1")
    error = caught.value
    assert type(error) is cls
    assert error.code == code
    assert error.status_code == status
    assert error.message == f"it failed: {code}"
    assert error.request_id == "req_abc"
    assert error.details == details
    assert error.hint == "start it first"
    assert error.response is not None
    assert error.response.status_code == status
    assert isinstance(error, quilt.QuiltError)
    assert "req_abc" in str(error)
    assert "start it first" in str(error)


def test_the_sdk_tree_covers_the_servers_tree() -> None:
    """Every error class of the server maps, by its code and status, to its SDK twin."""
    classes = {
        cls
        for cls in vars(server_errors).values()
        if isinstance(cls, type) and issubclass(cls, server_errors.QuiltError)
    }
    assert {cls.__name__ for cls in classes} == set(SERVER_TO_SDK)
    for cls in classes:
        body = envelope(cls.code)
        with answering(cls.status, body) as client, pytest.raises(quilt.QuiltError) as caught:
            client.system.info()
        assert type(caught.value) is SERVER_TO_SDK[cls.__name__], cls.__name__


def test_subclasses_are_caught_by_their_parents() -> None:
    """Snapshot conflicts are Conflicts, a quota is a PayloadTooLarge, a 502 is unavailable."""
    assert issubclass(quilt.SnapshotPinned, quilt.Conflict)
    assert issubclass(quilt.SnapshotInUse, quilt.Conflict)
    assert issubclass(quilt.QuotaExceeded, quilt.PayloadTooLarge)
    assert issubclass(quilt.BadGateway, quilt.ServiceUnavailable)
    assert issubclass(quilt.WaitTimeout, builtins.TimeoutError)
    assert issubclass(quilt.ConnectionError, builtins.ConnectionError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (404, quilt.NotFound),
        (405, quilt.BadRequest),
        (415, quilt.BadRequest),
        (409, quilt.Conflict),
        (504, quilt.InternalError),
        (503, quilt.ServiceUnavailable),
    ],
)
def test_unknown_codes_map_by_status(status: int, cls: type[quilt.QuiltError]) -> None:
    """A code the SDK does not know (METHOD_NOT_ALLOWED, a newer one) maps by HTTP status."""
    with answering(status, envelope("SOMETHING_NEW")) as client, pytest.raises(cls) as caught:
        client.system.info()
    assert caught.value.code == "SOMETHING_NEW"
    assert caught.value.status_code == status


def test_a_non_json_error_keeps_its_text_and_header_request_id() -> None:
    """A proxy's HTML 502 still raises BadGateway, with the text and X-Request-ID."""
    with (
        answering(502, b"<html>upstream went away</html>", **{"X-Request-ID": "req_h"}) as client,
        pytest.raises(quilt.BadGateway) as caught,
    ):
        client.system.health()
    assert caught.value.request_id == "req_h"
    assert "upstream went away" in caught.value.message
    assert caught.value.details is None


def test_a_success_with_an_unexpected_body_is_an_error() -> None:
    """A 200 whose body is not the promised shape raises QuiltError, not a pydantic error."""
    with (
        answering(200, {"no": "container_id"}) as client,
        pytest.raises(quilt.QuiltError) as caught,
    ):
        client.containers.get("ctr_1")
    assert caught.value.code == "UNEXPECTED_RESPONSE"
    assert caught.value.status_code == 200


def test_a_failed_operation_raises_the_class_of_its_error_code() -> None:
    """A failed operation's error_code picks the class; `.operation` holds the record."""
    op = quilt.Operation(
        operation_id="op_1",
        status="failed",
        error={
            "error": "container ctr_1 is running",
            "error_code": "CONFLICT",
            "details": {"state": "running"},
        },
        reason_code="CONFLICT",
    )
    error = from_operation(op)
    assert type(error) is quilt.Conflict
    assert error.message == "container ctr_1 is running"
    assert error.details == {"state": "running"}
    assert error.operation is op
    crashed = from_operation(
        quilt.Operation(operation_id="op_2", status="cancelled", reason_code="INTERRUPTED")
    )
    assert type(crashed) is quilt.QuiltError
    assert crashed.code == "INTERRUPTED"
    assert "op_2" in crashed.message
