"""The error contract: every failure answers with the one envelope and a request id."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.host]

CASES = [
    # Each case: which client, method, path, body, expected status and error code.
    ("anonymous", "GET", "/api/containers", None, 401, "UNAUTHORIZED"),
    ("bad", "GET", "/api/containers", None, 401, "UNAUTHORIZED"),
    ("client", "GET", "/api/containers/ctr_0000000000000000", None, 404, "NOT_FOUND"),
    ("client", "GET", "/api/operations/op_0000000000000000", None, 404, "NOT_FOUND"),
    ("client", "GET", "/api/no-such-route", None, 404, "NOT_FOUND"),
    ("client", "PUT", "/api/containers", {}, 405, "METHOD_NOT_ALLOWED"),
    ("client", "POST", "/api/containers", {}, 422, "UNPROCESSABLE_ENTITY"),
    ("client", "POST", "/api/containers", {"name": 5}, 422, "UNPROCESSABLE_ENTITY"),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "command": "echo hi"},
        422,
        "UNPROCESSABLE_ENTITY",
    ),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "memory_limit_mb": "lots"},
        422,
        "UNPROCESSABLE_ENTITY",
    ),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "async_mode": True},
        422,
        "UNPROCESSABLE_ENTITY",
    ),
    ("client", "POST", "/api/containers", "not json", 422, "UNPROCESSABLE_ENTITY"),
    ("client", "POST", "/api/containers", {"name": "bad name!"}, 400, "BAD_REQUEST"),
    ("client", "POST", "/api/containers", {"name": "x", "command": []}, 400, "BAD_REQUEST"),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "working_directory": "relative"},
        400,
        "BAD_REQUEST",
    ),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "environment": {"A=B": "1"}},
        400,
        "BAD_REQUEST",
    ),
    ("client", "POST", "/api/containers", {"name": "x", "memory_limit_mb": 1}, 400, "BAD_REQUEST"),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "cpu_limit_percent": 0.1},
        400,
        "BAD_REQUEST",
    ),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "gpu_count": 1, "gpu_ids": ["a", "b"]},
        400,
        "BAD_REQUEST",
    ),
    ("client", "POST", "/api/containers", {"name": "x", "gpu_count": -1}, 400, "BAD_REQUEST"),
    ("client", "POST", "/api/containers", {"name": "x", "gpu_count": 1}, 503, "CAPACITY_FULL"),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "image": "prod-gui", "command": ["sh"]},
        400,
        "BAD_REQUEST",
    ),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "oci": True, "image": "alpine"},
        400,
        "BAD_REQUEST",
    ),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "volumes": ["nocolon"]},
        400,
        "BAD_REQUEST",
    ),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "volumes": ["/etc:/etc"]},
        400,
        "BAD_REQUEST",
    ),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "volumes": ["data:/proc/x"]},
        400,
        "BAD_REQUEST",
    ),
    (
        "client",
        "POST",
        "/api/containers",
        {"name": "x", "volumes": ["data:/workspace"]},
        404,
        "NOT_FOUND",
    ),
    ("client", "POST", "/api/containers", {"name": "x", "image": "nonexistent"}, 404, "NOT_FOUND"),
    ("client", "POST", "/api/containers/batch", {"items": []}, 422, "UNPROCESSABLE_ENTITY"),
    (
        "client",
        "POST",
        "/api/containers/batch",
        {"items": [{"name": "a"}, {"name": "a"}]},
        400,
        "BAD_REQUEST",
    ),
    (
        "client",
        "POST",
        "/api/containers/ctr_0000000000000000/exec",
        {"command": ["true"]},
        404,
        "NOT_FOUND",
    ),
    (
        "client",
        "POST",
        "/api/containers/ctr_0000000000000000/exec",
        {"command": "true"},
        422,
        "UNPROCESSABLE_ENTITY",
    ),
    (
        "client",
        "GET",
        "/api/containers/ctr_0000000000000000/logs?limit=0",
        None,
        422,
        "UNPROCESSABLE_ENTITY",
    ),
    ("client", "DELETE", "/api/api-keys/key_missing", None, 404, "NOT_FOUND"),
    ("client", "GET", "/api/nothing/help", None, 404, "NOT_FOUND"),
    ("client", "GET", "/api/containers?execution=sometimes", None, 200, None),
]


@pytest.mark.parametrize(("who", "method", "path", "body", "status", "code"), CASES)
async def test_error_paths_answer_with_the_envelope(
    api: Any, who: str, method: str, path: str, body: Any, status: int, code: str | None
) -> None:
    """Each bad request gets its status and code in the one envelope, with X-Request-ID."""
    client = {"client": api.client, "anonymous": api.anonymous, "bad": api.anonymous}[who]
    headers = {"X-Api-Key": "quilt_sk_wrong"} if who == "bad" else {}
    before = api.platform.node.hosted()
    kwargs: dict[str, Any] = {"headers": headers}
    if isinstance(body, str):
        kwargs["content"] = body
        headers["content-type"] = "application/json"
    elif body is not None:
        kwargs["json"] = body
    response = await client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"].startswith("req_")
    if code is None:
        return
    payload = response.json()
    assert payload["error_code"] == code
    assert isinstance(payload["error"], str)
    assert payload["error"]
    assert payload["request_id"] == response.headers["x-request-id"]
    assert set(payload) <= {"error", "error_code", "request_id", "details", "hint", "retry_after"}
    if code == "CAPACITY_FULL":
        assert payload["hint"]
    assert api.platform.node.hosted() == before, "a refused request left something on the host"


async def test_bearer_and_query_token_authenticate(api: Any) -> None:
    """Authorization: Bearer and ?token= carry the same credential as X-Api-Key."""
    key = api.client.headers["X-Api-Key"]
    bearer = await api.anonymous.get("/api/containers", headers={"Authorization": f"Bearer {key}"})
    token = await api.anonymous.get("/api/containers", params={"token": key})
    assert bearer.status_code == token.status_code == 200


async def test_health_needs_no_auth(api: Any) -> None:
    """GET /health answers {"status": "ok"} without a credential."""
    response = await api.anonymous.get("/health")
    assert response.json() == {"status": "ok"}
