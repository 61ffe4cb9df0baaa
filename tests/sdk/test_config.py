"""Configuration: arguments, then QUILT_* variables, then defaults; the key goes in X-Api-Key."""

from __future__ import annotations

import httpx
import pytest

import quilt

HEALTHY = {"status": "ok", "snapshots": []}  # fits both /health and the snapshot list


def recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    """A transport that answers every request healthily and keeps it."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=HEALTHY)

    return seen, httpx.MockTransport(handler)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No QUILT_* variable of the machine leaks into these tests."""
    for name in ("QUILT_BASE_URL", "QUILT_URL", "QUILT_API_KEY", "QUILT_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)


def test_environment_configures_url_key_and_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    """QUILT_BASE_URL, QUILT_API_KEY and QUILT_TENANT_ID reach the wire."""
    monkeypatch.setenv("QUILT_BASE_URL", "http://quilt.example:9000/")
    monkeypatch.setenv("QUILT_API_KEY", "quilt_sk_env")
    monkeypatch.setenv("QUILT_TENANT_ID", "ten_env")
    seen, transport = recording()
    with quilt.Quilt(transport=transport) as client:
        assert client.system.health().status == "ok"
        client.snapshots.list()
    assert client.base_url == "http://quilt.example:9000"
    assert str(seen[0].url) == "http://quilt.example:9000/health"
    assert seen[0].headers["X-Api-Key"] == "quilt_sk_env"
    assert seen[1].headers["X-Tenant-Id"] == "ten_env"
    assert seen[0].headers["User-Agent"] == f"quilt-python/{quilt.__version__}"


def test_quilt_url_is_an_alias_and_quilt_base_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """QUILT_URL works alone; with both set, QUILT_BASE_URL is used."""
    monkeypatch.setenv("QUILT_URL", "http://alias.example")
    assert quilt.Quilt().base_url == "http://alias.example"
    monkeypatch.setenv("QUILT_BASE_URL", "http://base.example")
    assert quilt.Quilt().base_url == "http://base.example"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit base_url and api_key replace the environment's."""
    monkeypatch.setenv("QUILT_BASE_URL", "http://env.example")
    monkeypatch.setenv("QUILT_API_KEY", "quilt_sk_env")
    seen, transport = recording()
    with quilt.Quilt("http://arg.example", api_key="quilt_sk_arg", transport=transport) as client:
        client.system.health()
    assert str(seen[0].url) == "http://arg.example/health"
    assert seen[0].headers["X-Api-Key"] == "quilt_sk_arg"


def test_defaults_without_configuration() -> None:
    """With nothing configured: the local default server, no key header, 2 retries."""
    seen, transport = recording()
    with quilt.Quilt(transport=transport) as client:
        client.system.health()
    assert client.base_url == "http://127.0.0.1:8787"
    assert client.config.max_retries == 2
    assert "X-Api-Key" not in seen[0].headers


def test_the_tenant_is_learnt_once_when_not_configured() -> None:
    """Snapshot calls need X-Tenant-Id: the client asks /api/system/info once and reuses it."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/system/info":
            return httpx.Response(200, json={"name": "quilt", "tenant_id": "ten_learnt"})
        return httpx.Response(200, json={"snapshots": []})

    with quilt.Quilt("http://quilt.test", transport=httpx.MockTransport(handler)) as client:
        assert client.snapshots.list() == []
        assert client.snapshots.list(container_id="ctr_1") == []
    assert [r.url.path for r in seen] == ["/api/system/info", "/api/snapshots", "/api/snapshots"]
    assert {r.headers["X-Tenant-Id"] for r in seen[1:]} == {"ten_learnt"}
    assert "X-Tenant-Id" not in seen[0].headers


def test_close_closes_and_context_manager_closes() -> None:
    """`close()` and leaving the `with` block close the client; using it after fails."""
    client = quilt.Quilt()
    client.close()
    assert client.is_closed
    with quilt.Quilt() as other:
        pass
    assert other.is_closed
    with pytest.raises(RuntimeError):
        other.system.health()


@pytest.mark.anyio
async def test_async_client_reads_the_same_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """AsyncQuilt is configured the same way and closes with `async with`."""
    monkeypatch.setenv("QUILT_URL", "http://async.example")
    monkeypatch.setenv("QUILT_API_KEY", "quilt_sk_async")
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=HEALTHY)

    async with quilt.AsyncQuilt(transport=httpx.MockTransport(handler)) as client:
        assert (await client.system.health()).status == "ok"
    assert client.is_closed
    assert str(seen[0].url) == "http://async.example/health"
    assert seen[0].headers["X-Api-Key"] == "quilt_sk_async"


def test_negative_max_retries_is_refused() -> None:
    """max_retries below zero is a configuration error, raised at construction."""
    with pytest.raises(ValueError, match="max_retries"):
        quilt.Quilt(max_retries=-1)
