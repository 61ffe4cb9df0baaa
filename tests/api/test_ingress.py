"""The Linx fast path on the wire: raw HTTP/1.1 to the live server, proxied to a real app.

httpx neither pipelines nor splits writes, so these tests speak HTTP over a bare socket: the
bytes a browser, a proxy or a broken client could send, and the answers read back by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from test_services import APP, publish

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = [pytest.mark.anyio, pytest.mark.host]


@dataclass
class Answer:
    """One HTTP response as read off the socket."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class Wire:
    """A raw HTTP/1.1 connection to the live server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        """Write bytes as they are."""
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, *, head: bool = False) -> Answer:
        """Read one response (no body after a HEAD)."""
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        if head or status in (204, 304):
            return Answer(status, headers, b"")
        if "content-length" in headers:
            return Answer(
                status, headers, await self.reader.readexactly(int(headers["content-length"]))
            )
        parts: list[bytes] = []
        while True:  # chunked
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if not size:
                await self.reader.readuntil(b"\r\n")
                return Answer(status, headers, b"".join(parts))
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


@contextlib.asynccontextmanager
async def wire(base_url: httpx.URL) -> AsyncIterator[Wire]:
    """A raw connection to the server (Nagle off, so each write leaves as its own segment)."""
    reader, writer = await asyncio.open_connection(base_url.host, base_url.port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        yield Wire(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def request(method: str, target: str, body: bytes | None = None, *headers: str) -> bytes:
    """A request's bytes (Content-Length when a body is given)."""
    lines = [f"{method} {target} HTTP/1.1", "Host: quilt.test", *headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


@pytest.fixture
async def app_service(api: Any) -> dict[str, Any]:
    """A `prod` container serving the echo app, its port published with a signed URL."""
    created = await api.client.post(
        "/api/containers",
        json={"name": "web", "image": "prod", "command": ["python3", "-c", APP, "7001"]},
    )
    assert created.status_code == 201, created.text
    service = await publish(api, created.json()["container_id"])
    token = parse_qs(urlsplit(service["public_url"]).query)["linx_token"][0]
    return {**service, "token": token, "address": created.json()["ip_address"]}


def app_connections(address: str) -> set[str]:
    """Established connections from this host to the app's port (local address:port)."""
    shown = subprocess.run(
        ["ss", "-Htn", "state", "established", "dst", f"{address}:7001"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split()[2] for line in shown.splitlines() if line.strip()}


async def test_a_kept_alive_connection_carries_request_after_request(
    app_service: dict[str, Any], live: httpx.AsyncClient
) -> None:
    """Each request on one kept-alive connection reaches the app with the forwarded headers."""
    sid, token = app_service["service_id"], app_service["token"]
    async with wire(live.base_url) as w:
        await w.send(request("GET", f"/linx/{sid}/n/0?a=%20b&linx_token={token}"))
        first = await w.answer()
        assert first.status == 200
        assert first.headers["set-cookie"].startswith(f"linx_{sid}={token}; Path=/linx/{sid}/")
        assert first.json()["path"] == "/n/0?a=%20b"
        for i in range(1, 4):
            await w.send(request("GET", f"/linx/{sid}/n/{i}", None, f"Cookie: linx_{sid}={token}"))
            seen = (await w.answer()).json()
            assert seen["path"] == f"/n/{i}"
            assert seen["headers"]["x-forwarded-prefix"] == f"/linx/{sid}"
            assert seen["headers"]["x-forwarded-host"] == "quilt.test"
            assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
            assert "cookie" not in seen["headers"]


async def test_pipelined_requests_are_answered_in_order(
    app_service: dict[str, Any], live: httpx.AsyncClient
) -> None:
    """Requests sent in one write, Linx and API mixed, are answered in order, errors enveloped."""
    sid, token = app_service["service_id"], app_service["token"]
    base = f"/linx/{sid}"
    async with wire(live.base_url) as w:
        await w.send(
            request("GET", f"{base}/a?linx_token={token}")
            + request("POST", f"{base}/b?linx_token={token}", b"posted body")
            + request("GET", f"{base}/c?linx_token=forged.0.abc")
            + request("GET", f"{base}/d?linx_token={token}")
            + request("GET", "/health")
        )
        a, b, forged, d, health = [await w.answer() for _ in range(5)]
    assert a.json()["path"] == "/a"
    assert (b.json()["method"], b.json()["path"], b.json()["body"]) == ("POST", "/b", "posted body")
    assert forged.status == 403
    assert forged.json()["error_code"] == "FORBIDDEN"
    assert forged.headers["x-request-id"] == forged.json()["request_id"]
    assert d.json()["path"] == "/d"
    assert health.json() == {"status": "ok"}


async def test_a_chunked_body_streams_through_and_the_next_request_follows(
    app_service: dict[str, Any], live: httpx.AsyncClient
) -> None:
    """A chunked upload (blank lines inside it) arrives whole; the request after it is answered."""
    sid, token = app_service["service_id"], app_service["token"]
    parts = [b"first\r\n\r\n", b"x" * 70000, b"\r\n\r\nlast"]
    body = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    head = (
        f"POST /linx/{sid}/up?linx_token={token} HTTP/1.1\r\nHost: quilt.test\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    async with wire(live.base_url) as w:
        await w.send(head + body[:7])
        await w.send(body[7:40000])
        await w.send(body[40000:] + request("GET", f"/linx/{sid}/after?linx_token={token}"))
        upload, after = await w.answer(), await w.answer()
    seen = upload.json()
    assert seen["body_length"] == sum(len(p) for p in parts)
    assert seen["body_sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    assert "chunked" in seen["headers"]["transfer-encoding"]
    assert after.json()["path"] == "/after"


async def test_a_head_answer_has_no_body_and_the_connection_goes_on(
    app_service: dict[str, Any], live: httpx.AsyncClient
) -> None:
    """A HEAD gets the app's headers and no body, and the next request on the connection works."""
    sid, token = app_service["service_id"], app_service["token"]
    async with wire(live.base_url) as w:
        await w.send(request("HEAD", f"/linx/{sid}/h?linx_token={token}"))
        head = await w.answer(head=True)
        await w.send(request("GET", f"/linx/{sid}/g?linx_token={token}"))
        get = await w.answer()
    assert head.status == 200
    assert int(head.headers["content-length"]) > 0
    assert get.json()["method"] == "GET"
    assert get.json()["path"] == "/g"


async def test_a_request_split_across_packets_is_put_back_together(
    app_service: dict[str, Any], live: httpx.AsyncClient
) -> None:
    """A head and body written a few bytes at a time reach the app as one request."""
    sid, token = app_service["service_id"], app_service["token"]
    data = request("PUT", f"/linx/{sid}/slow?linx_token={token}", b"0123456789" * 3)
    async with wire(live.base_url) as w:
        for at in range(0, len(data), 3):
            await w.send(data[at : at + 3])
        seen = (await w.answer()).json()
    assert (seen["method"], seen["path"]) == ("PUT", "/slow")
    assert seen["body"] == "0123456789" * 3


async def test_a_large_upload_streams_through(
    app_service: dict[str, Any], live: httpx.AsyncClient
) -> None:
    """A 32 MB body with a Content-Length reaches the app byte for byte."""
    sid, token = app_service["service_id"], app_service["token"]
    body = hashlib.sha256(b"seed").digest() * (1 << 20)
    async with wire(live.base_url) as w:
        await w.send(request("POST", f"/linx/{sid}/big-upload?linx_token={token}", body))
        seen = (await w.answer()).json()
    assert seen["body_length"] == len(body)
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()


async def test_a_client_gone_mid_transfer_leaves_no_connection_behind(
    api: Any, app_service: dict[str, Any], live: httpx.AsyncClient
) -> None:
    """A client that leaves mid-upload or mid-download takes its connection to the app with it."""
    sid, token, address = app_service["service_id"], app_service["token"], app_service["address"]
    before = app_connections(address)
    async with wire(live.base_url) as w:
        upload = request("POST", f"/linx/{sid}/cut?linx_token={token}", b"y" * (8 << 20))
        await w.send(upload[: 1 << 20])
    async with wire(live.base_url) as w:
        await w.send(request("GET", f"/linx/{sid}/big/{512 << 20}?linx_token={token}"))
        await w.reader.readexactly(1 << 20)
    pool = api.app.state.linx_upstreams
    for _ in range(400):
        left = app_connections(address) - before
        if len(left) <= pool.count((address, 7001)):
            break
        await asyncio.sleep(0.05)
    assert len(app_connections(address) - before) <= pool.count((address, 7001))
    async with wire(live.base_url) as w:
        await w.send(request("GET", f"/linx/{sid}/still?linx_token={token}"))
        assert (await w.answer()).json()["path"] == "/still"


async def test_a_refused_port_is_a_503_envelope_on_the_fast_path(
    api: Any, app_service: dict[str, Any], live: httpx.AsyncClient
) -> None:
    """A published port nobody listens on answers 503 in the one error shape, with X-Request-ID."""
    made = await api.client.post(
        f"/api/containers/{app_service['container_id']}/services",
        json={"name": "nothing", "target_port": 7999, "auth_mode": "public"},
    )
    sid = made.json()["service_id"]
    async with wire(live.base_url) as w:
        await w.send(request("GET", f"/linx/{sid}/"))
        refused = await w.answer()
        await w.send(
            request(
                "GET", f"/linx/{app_service['service_id']}/ok?linx_token={app_service['token']}"
            )
        )
        after = await w.answer()
    assert refused.status == 503
    assert refused.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert refused.headers["x-request-id"] == refused.json()["request_id"]
    assert after.json()["path"] == "/ok"


@pytest.fixture
async def asgi_only(server: Any) -> AsyncIterator[httpx.URL]:
    """The same app behind uvicorn's own HTTP protocol: the ASGI ingress carries /linx/."""
    import uvicorn  # noqa: PLC0415

    config = uvicorn.Config(
        server.app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    web = uvicorn.Server(config)
    task = asyncio.create_task(web.serve())
    for _ in range(1000):  # at most 10 s
        if web.started:
            break
        await asyncio.sleep(0.01)
    assert web.started, "uvicorn did not start"
    port = web.servers[0].sockets[0].getsockname()[1]
    yield httpx.URL(f"http://127.0.0.1:{port}")
    web.should_exit = True
    await task


async def test_the_asgi_ingress_proxies_the_same_way(
    app_service: dict[str, Any], asgi_only: httpx.URL
) -> None:
    """Without the fast path, the ASGI ingress carries the same requests to the same effect."""
    sid, token = app_service["service_id"], app_service["token"]
    async with wire(asgi_only) as w:
        await w.send(request("POST", f"/linx/{sid}/p?x=1&linx_token={token}", b"data"))
        posted = await w.answer()
        await w.send(request("GET", f"/linx/{sid}/q", None, f"Cookie: linx_{sid}={token}"))
        cookie = await w.answer()
    assert posted.headers["set-cookie"].startswith(f"linx_{sid}={token}")
    assert (posted.json()["path"], posted.json()["body"]) == ("/p?x=1", "data")
    assert posted.json()["headers"]["x-forwarded-prefix"] == f"/linx/{sid}"
    assert cookie.json()["path"] == "/q"
