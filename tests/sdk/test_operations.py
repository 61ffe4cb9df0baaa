"""`operations.wait()`: poll until the operation ends, raise its error, or give up in time."""

from __future__ import annotations

import time

import httpx
import pytest

import quilt
from quilt.domain.states import TERMINAL_OPERATION, OperationStatus
from quilt.sdk._models import TERMINAL_STATUSES


def operation(status: str, **extra: object) -> dict[str, object]:
    """An operation record in `status`."""
    return {"operation_id": "op_1", "operation_type": "containers.start", "status": status, **extra}


def serving(*statuses: dict[str, object]) -> tuple[list[httpx.Request], httpx.MockTransport]:
    """A transport answering GET /api/operations/op_1 with each record in turn, then the last."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/operations/op_1"
        seen.append(request)
        return httpx.Response(200, json=statuses[min(len(seen), len(statuses)) - 1])

    return seen, httpx.MockTransport(handler)


def test_wait_polls_until_the_operation_succeeds() -> None:
    """wait() follows a receipt through accepted and running to the succeeded record."""
    done = operation("succeeded", result={"container_id": "ctr_1"}, container_id="ctr_1")
    seen, transport = serving(operation("accepted"), operation("running"), done)
    receipt = quilt.Receipt(operation_id="op_1", status_url="/api/operations/op_1")
    with quilt.Quilt("http://quilt.test", transport=transport) as client:
        final = client.operations.wait(receipt, timeout=10)
    assert final.succeeded
    assert final.done
    assert final.result == {"container_id": "ctr_1"}
    assert len(seen) == 3


def test_wait_raises_the_error_of_a_failed_operation() -> None:
    """A failed operation raises the class of its error code, carrying the record."""
    failed = operation(
        "failed",
        error={"error": "no such snapshot", "error_code": "NOT_FOUND", "details": None},
        reason_code="NOT_FOUND",
    )
    _, transport = serving(operation("running"), failed)
    with (
        quilt.Quilt("http://quilt.test", transport=transport) as client,
        pytest.raises(quilt.NotFound) as caught,
    ):
        client.operations.wait("op_1")
    assert caught.value.message == "no such snapshot"
    assert caught.value.operation is not None
    assert caught.value.operation.status == "failed"


def test_wait_gives_up_at_its_timeout() -> None:
    """An operation that keeps running makes wait() raise WaitTimeout (a TimeoutError) in time."""
    seen, transport = serving(operation("running"))
    started = time.monotonic()
    with (
        quilt.Quilt("http://quilt.test", transport=transport) as client,
        pytest.raises(TimeoutError) as caught,
    ):
        client.operations.wait("op_1", timeout=0.3)
    elapsed = time.monotonic() - started
    assert isinstance(caught.value, quilt.WaitTimeout)
    assert caught.value.operation is not None
    assert caught.value.operation.status == "running"
    assert "op_1" in str(caught.value)
    assert 0.3 <= elapsed < 2
    assert 3 <= len(seen) <= 15  # short, growing intervals; one last look at the deadline


@pytest.mark.anyio
async def test_async_wait_follows_an_operation_too() -> None:
    """AsyncQuilt.operations.wait() returns the finished record and times out the same way."""
    _, transport = serving(operation("queued"), operation("succeeded"))
    async with quilt.AsyncQuilt("http://quilt.test", transport=transport) as client:
        assert (await client.operations.wait("op_1")).status == "succeeded"
    _, transport = serving(operation("running"))
    async with quilt.AsyncQuilt("http://quilt.test", transport=transport) as client:
        with pytest.raises(quilt.WaitTimeout):
            await client.operations.wait("op_1", timeout=0.2)


def test_terminal_statuses_match_the_server() -> None:
    """The SDK stops polling exactly at the server's terminal operation statuses."""
    assert {s.value for s in TERMINAL_OPERATION} <= TERMINAL_STATUSES
    running = {s.value for s in OperationStatus} - {s.value for s in TERMINAL_OPERATION}
    assert not running & TERMINAL_STATUSES
