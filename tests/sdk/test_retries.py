"""Retries: only where a second attempt cannot do the work twice, with the server's pacing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

import quilt
from quilt.sdk import _core as core
from quilt.sdk._calls import ContainerCalls

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

    Handler: TypeAlias = Callable[[httpx.Request], httpx.Response]


STATUS = {
    "container_id": "ctr_1",
    "name": "web",
    "state": "running",
}
BUSY = {"error": "busy", "error_code": "SERVICE_UNAVAILABLE", "request_id": "req_b"}


def scripted(*answers: httpx.Response | Exception) -> tuple[list[httpx.Request], Handler]:
    """A handler giving `answers` in turn (an exception is raised as the transport's)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return seen, handler


def client(handler: Handler, max_retries: int = 2) -> quilt.Quilt:
    """A sync client over a mock transport."""
    transport = httpx.MockTransport(handler)
    return quilt.Quilt("http://quilt.test", transport=transport, max_retries=max_retries)


def test_get_is_retried_on_503_with_retry_after() -> None:
    """A GET answered 503 + Retry-After is sent again and the later success is returned."""
    seen, handler = scripted(
        httpx.Response(503, json=BUSY, headers={"Retry-After": "0"}),
        httpx.Response(200, json=STATUS),
    )
    with client(handler) as q:
        got = q.containers.get("ctr_1")
    assert got.container_id == "ctr_1"
    assert [r.method for r in seen] == ["GET", "GET"]


def test_get_is_retried_on_a_connect_error_then_gives_up() -> None:
    """A GET whose connection fails is tried 1 + max_retries times, then ConnectionError."""
    seen, handler = scripted(httpx.ConnectError("refused"))
    with client(handler, max_retries=1) as q, pytest.raises(quilt.ConnectionError) as caught:
        q.containers.list()
    assert len(seen) == 2
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert isinstance(caught.value, ConnectionError)  # the builtin catches it too
    assert "GET /api/containers" in caught.value.message


def test_post_is_not_retried_on_a_connection_error() -> None:
    """A POST (not idempotent) whose connection fails is sent once and raises ConnectionError."""
    seen, handler = scripted(httpx.ConnectError("refused"), httpx.Response(201, json=STATUS))
    with client(handler, max_retries=5) as q, pytest.raises(quilt.ConnectionError):
        q.containers.create("web")
    assert len(seen) == 1


def test_post_is_not_retried_after_a_read_error() -> None:
    """A POST whose answer was lost after sending is not sent again (it may have run)."""
    seen, handler = scripted(httpx.ReadError("reset"), httpx.Response(200, json=STATUS))
    with client(handler) as q, pytest.raises(quilt.ConnectionError):
        q.containers.stop("ctr_1")
    assert len(seen) == 1


def test_post_is_retried_on_503_that_says_when() -> None:
    """A POST answered 503 with `retry_after` in the body (no work done) is sent again."""
    busy = httpx.Response(503, json={**BUSY, "details": {"retry_after": 0}})
    seen, handler = scripted(busy, httpx.Response(201, json=STATUS))
    with client(handler) as q:
        assert q.containers.create("web").name == "web"
    assert len(seen) == 2
    assert seen[0].content == seen[1].content


def test_post_is_not_retried_on_a_bare_503() -> None:
    """A POST answered 503 without a retry hint raises ServiceUnavailable after one attempt."""
    seen, handler = scripted(httpx.Response(503, json=BUSY), httpx.Response(201, json=STATUS))
    with client(handler) as q, pytest.raises(quilt.ServiceUnavailable) as caught:
        q.containers.create("web")
    assert len(seen) == 1
    assert caught.value.request_id == "req_b"


def test_retries_stop_at_max_retries() -> None:
    """With max_retries=2 a GET is sent three times, then the last error is raised."""
    seen, handler = scripted(httpx.Response(503, json=BUSY, headers={"Retry-After": "0"}))
    with client(handler, max_retries=2) as q, pytest.raises(quilt.ServiceUnavailable) as caught:
        q.system.info()
    assert len(seen) == 3
    assert caught.value.retry_after == 0


def test_a_long_retry_after_is_left_to_the_caller() -> None:
    """A Retry-After beyond a minute is not slept through: the error is raised at once."""
    seen, handler = scripted(httpx.Response(503, json=BUSY, headers={"Retry-After": "3600"}))
    with client(handler) as q, pytest.raises(quilt.ServiceUnavailable) as caught:
        q.system.info()
    assert len(seen) == 1
    assert caught.value.retry_after == 3600


def test_client_errors_are_never_retried() -> None:
    """A 404 on a GET is final: one attempt."""
    seen, handler = scripted(
        httpx.Response(404, json={"error": "no", "error_code": "NOT_FOUND", "request_id": "r"})
    )
    with client(handler) as q, pytest.raises(quilt.NotFound):
        q.containers.get("ctr_x")
    assert len(seen) == 1


def test_the_retry_schedule_backs_off_and_honours_hints() -> None:
    """Backoff grows per attempt within its bounds; a 503's own hint is used as the delay."""
    retries = core.Retries(ContainerCalls.list(), max_retries=3, jitter=lambda: 1.0)
    error = httpx.ConnectError("refused")
    assert [retries.after_error(error) for _ in range(4)] == [0.25, 0.5, 1.0, None]
    hinted = core.Retries(ContainerCalls.create("web"), max_retries=2)
    busy = httpx.Response(503, json=BUSY, headers={"Retry-After": "1.5"})
    assert hinted.after_response(busy) == 1.5
    assert hinted.after_error(error) is None


@pytest.mark.anyio
async def test_async_client_retries_like_the_sync_one() -> None:
    """AsyncQuilt retries a GET on 503 + Retry-After and never a POST on a connect error."""
    seen, handler = scripted(
        httpx.Response(503, json=BUSY, headers={"Retry-After": "0"}),
        httpx.Response(200, json=STATUS),
    )
    transport = httpx.MockTransport(handler)
    async with quilt.AsyncQuilt("http://quilt.test", transport=transport) as q:
        assert (await q.containers.get("ctr_1")).state == "running"
    assert len(seen) == 2
    seen, handler = scripted(httpx.ConnectError("refused"))
    transport = httpx.MockTransport(handler)
    async with quilt.AsyncQuilt("http://quilt.test", transport=transport) as q:
        with pytest.raises(quilt.ConnectionError):
            await q.containers.create("web")
    assert len(seen) == 1
