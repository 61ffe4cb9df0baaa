"""Published services and the Linx ingress, through a real socket to a real app in a container."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect

from conftest import make_settings, own_server
from quilt.domain import linx

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = [pytest.mark.anyio, pytest.mark.host]

APP = (Path(__file__).parent.parent / "apps" / "echo_app.py").read_text()


@pytest.fixture
async def app_ctr(api: Any) -> str:
    """A `prod` container serving the echo app on port 7001."""
    created = await api.client.post(
        "/api/containers",
        json={"name": "web", "image": "prod", "command": ["python3", "-c", APP, "7001"]},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["container_id"])


@pytest.fixture
async def ingress(live: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live server carrying no API key (a browser, say)."""
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as client:
        yield client


async def publish(api: Any, container_id: str, **body: Any) -> dict[str, Any]:
    """Publish a port and wait until the service is ready."""
    response = await api.client.post(
        f"/api/containers/{container_id}/services",
        json={"name": "amp", "target_port": 7001, **body},
    )
    assert response.status_code == 201, response.text
    service = response.json()
    assert service["status"] == "pending"
    return await wait_status(api, service["service_id"], "ready")


async def wait_status(api: Any, service_id: str, status: str) -> dict[str, Any]:
    """Poll a service until it has `status`."""
    for _ in range(200):
        body = (await api.client.get(f"/api/services/{service_id}")).json()
        if body["status"] == status:
            return dict(body)
        await asyncio.sleep(0.05)
    raise AssertionError(f"service never became {status}: {body}")


def path_of(url: str) -> str:
    """The path and query of a URL the server handed out."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def test_a_published_port_is_reachable_by_its_signed_url(
    api: Any, app_ctr: str, ingress: httpx.AsyncClient
) -> None:
    """The app sees /<rest>, its query minus the token, the body, and the forwarded headers."""
    service = await publish(api, app_ctr)
    token = parse_qs(urlsplit(service["public_url"]).query)["linx_token"][0]
    assert service["websocket_url"].startswith("ws://")
    base = f"/linx/{service['service_id']}"
    got = await ingress.post(
        f"{base}/api/items?x=1&linx_token={token}&y=two",
        content=b"hello",
        headers={"X-Custom": "kept"},
    )
    assert got.status_code == 200, got.text
    seen = got.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/api/items?x=1&y=two"
    assert seen["body"] == "hello"
    assert seen["headers"]["x-custom"] == "kept"
    assert seen["headers"]["x-forwarded-prefix"] == base
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-host"] == ingress.base_url.netloc.decode()
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
        answer = await ingress.request(method, f"{base}/m?linx_token={token}")
        assert answer.json()["method"] == method
    head = await ingress.head(f"{base}/?linx_token={token}")
    assert head.status_code == 200
    assert head.content == b""


async def test_the_first_request_leaves_a_cookie_for_the_rest(
    api: Any, app_ctr: str, ingress: httpx.AsyncClient
) -> None:
    """After one signed request, relative links work on the cookie alone; the app never sees it."""
    service = await publish(api, app_ctr)
    first = await ingress.get(path_of(service["public_url"]))
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert f"Path=/linx/{service['service_id']}/" in cookie
    assert "HttpOnly" in cookie
    later = await ingress.get(f"/linx/{service['service_id']}/assets/app.js")
    assert later.status_code == 200, later.text
    assert later.json()["path"] == "/assets/app.js"
    assert "linx_" not in later.json()["headers"].get("cookie", "")
    bare = await ingress.get(f"/linx/{service['service_id']}", follow_redirects=False)
    assert bare.status_code == 308
    assert bare.headers["location"] == f"/linx/{service['service_id']}/"


async def test_bad_tokens_are_refused_with_the_error_body(
    api: Any, app_ctr: str, live: httpx.AsyncClient
) -> None:
    """Missing → 401; forged, expired or another service's → 403; public mode needs none."""
    service = await publish(api, app_ctr)
    other = await publish(api, app_ctr, name="other")
    sid = service["service_id"]
    secret = api.platform.services.secret
    cases = {
        "": (401, "UNAUTHORIZED"),
        "?linx_token=forged.0.abc": (403, "FORBIDDEN"),
        f"?linx_token={linx.sign(secret, sid, int(time.time()) - 5)}": (403, "FORBIDDEN"),
        f"?linx_token={linx.sign(secret, other['service_id'], int(time.time()) + 60)}": (
            403,
            "FORBIDDEN",
        ),
        f"?linx_token={linx.sign(b'another key', sid, int(time.time()) + 60)}": (
            403,
            "FORBIDDEN",
        ),
    }
    async with httpx.AsyncClient(base_url=live.base_url) as anonymous:  # no cookies kept
        for query, (status, code) in cases.items():
            anonymous.cookies.clear()
            refused = await anonymous.get(f"/linx/{sid}/{query}")
            assert refused.status_code == status, (query, refused.text)
            body = refused.json()
            assert body["error_code"] == code
            assert body["request_id"] == refused.headers["x-request-id"]
        public = await publish(api, app_ctr, name="open", auth_mode="public")
        assert "linx_token" not in public["public_url"]
        opened = await anonymous.get(path_of(public["public_url"]))
        assert opened.status_code == 200


async def test_an_unreachable_target_answers_503(
    api: Any, app_ctr: str, ingress: httpx.AsyncClient
) -> None:
    """A port nobody listens on, or a stopped container, is a 503; the state says so."""
    response = await api.client.post(
        f"/api/containers/{app_ctr}/services",
        json={"name": "nothing", "target_port": 7999, "auth_mode": "public"},
    )
    closed = await wait_status(api, response.json()["service_id"], "target_unreachable")
    refused = await ingress.get(path_of(closed["public_url"]))
    assert refused.status_code == 503
    assert refused.json()["error_code"] == "SERVICE_UNAVAILABLE"
    service = await publish(api, app_ctr, auth_mode="public")
    await api.client.post(f"/api/containers/{app_ctr}/stop")
    stopped = await ingress.get(path_of(service["public_url"]))
    assert stopped.status_code == 503
    await wait_status(api, service["service_id"], "target_unreachable")


async def test_services_end_on_delete_ttl_and_container_delete(
    api: Any, app_ctr: str, ingress: httpx.AsyncClient
) -> None:
    """Deleting the service or its container ends it; a TTL expires it."""
    service = await publish(api, app_ctr, auth_mode="public")
    sid = service["service_id"]
    listed = (await api.client.get(f"/api/containers/{app_ctr}/services")).json()
    assert [s["service_id"] for s in listed["services"]] == [sid]
    assert (await api.client.delete(f"/api/services/{sid}")).status_code == 200
    assert (await ingress.get(f"/linx/{sid}/")).status_code == 404
    assert (await api.client.get(f"/api/services/{sid}")).status_code == 404
    short = await publish(api, app_ctr, auth_mode="public", ttl_secs=1)
    assert short["expires_at"] == short["created_at"] + 1
    await wait_status(api, short["service_id"], "expired")
    assert (await ingress.get(f"/linx/{short['service_id']}/")).status_code == 404
    kept = await publish(api, app_ctr, name="kept", auth_mode="public")
    await api.client.delete(f"/api/containers/{app_ctr}")
    assert (await api.client.get(f"/api/services/{kept['service_id']}")).status_code == 404
    assert (await ingress.get(f"/linx/{kept['service_id']}/")).status_code == 404


async def test_bad_service_requests_are_refused(api: Any, app_ctr: str) -> None:
    """Wrong protocol, port or mode is a 400; another tenant's container or service a 404."""
    url = f"/api/containers/{app_ctr}/services"
    for body in (
        {"name": "x", "target_port": 80, "protocol": "tcp"},
        {"name": "x", "target_port": 0},
        {"name": "x", "target_port": 70000},
        {"name": "x", "target_port": 80, "auth_mode": "open"},
        {"name": "x", "target_port": 80, "ttl_secs": 0},
    ):
        refused = await api.client.post(url, json=body)
        assert refused.status_code == 400, (body, refused.text)
    assert (await api.client.post(url, json={"name": "x"})).status_code == 422
    assert (await api.other.post(url, json={"name": "x", "target_port": 80})).status_code == 404
    service = await publish(api, app_ctr)
    assert (await api.other.get(f"/api/services/{service['service_id']}")).status_code == 404
    assert (await api.other.delete(f"/api/services/{service['service_id']}")).status_code == 404
    await api.client.post(f"/api/containers/{app_ctr}/stop")
    stopped = await api.client.post(url, json={"name": "x", "target_port": 80})
    assert stopped.status_code == 409
    assert stopped.json()["details"]["state"] == "stopped"


async def test_websockets_are_bridged(api: Any, app_ctr: str, live: httpx.AsyncClient) -> None:
    """A WebSocket through the signed URL reaches the app and echoes both ways."""
    service = await publish(api, app_ctr)
    url = service["websocket_url"].replace(
        urlsplit(service["websocket_url"]).netloc, live.base_url.netloc.decode()
    )
    async with connect(url, subprotocols=["chat"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "chat"
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01" * 40000)
        assert await ws.recv() == b"\x00\x01" * 40000
    closed = await publish(api, app_ctr, name="nows", enable_websockets=False)
    assert closed["websocket_url"] is None


async def test_a_large_download_streams_through(
    api: Any, app_ctr: str, ingress: httpx.AsyncClient
) -> None:
    """A 64 MB body arrives whole and in order, chunk by chunk."""
    service = await publish(api, app_ctr, auth_mode="public")
    size = 64 << 20
    digest = hashlib.sha256()
    got = 0
    async with ingress.stream("GET", f"/linx/{service['service_id']}/big/{size}") as response:
        assert response.headers["content-length"] == str(size)
        async for chunk in response.aiter_bytes():
            digest.update(chunk)
            got += len(chunk)
    assert got == size
    assert digest.hexdigest() == hashlib.sha256(b"x" * size).hexdigest()


async def test_a_new_service_is_probed_at_once(tmp_path: Path) -> None:
    """A port already listening makes its new service `ready` long before the next probe round."""
    async with own_server(make_settings(tmp_path, services_probe_seconds=3600)) as server:
        created = await server.client.post(
            "/api/containers",
            json={"name": "httpd", "command": ["busybox", "httpd", "-f", "-p", "7001"]},
        )
        cid = created.json()["container_id"]
        tables = "/proc/net/tcp /proc/net/tcp6"
        listening = ["sh", "-c", f"until grep -q ':1B59 ' {tables}; do sleep 0.01; done"]
        waited = await server.client.post(
            f"/api/containers/{cid}/exec", json={"command": listening, "timeout_ms": 10_000}
        )
        assert waited.json()["exit_code"] == 0, waited.text
        service = await publish(server, cid)  # the probe loop's only round ran at start-up
        assert service["status"] == "ready"
