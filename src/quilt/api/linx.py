"""Linx: the ingress that carries `/linx/<service_id>/<rest>` to a container's published port.

Pure ASGI in front of the API routes, so a proxied request pays for no routing, no models and
no database query. HTTP goes over a small HTTP/1.1 client of its own (keep-alive connections
per target, httptools to parse answers): bodies stream both ways chunk by chunk and are never
held whole, so a 1 GB download costs no more memory than a small one. WebSocket upgrades are
bridged frame by frame when the service allows them.

The app sees `/<rest>` with the method, headers, query (minus `linx_token`) and body intact,
plus `X-Forwarded-For`, `-Proto`, `-Host` and `-Prefix`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict, deque
from typing import TYPE_CHECKING, Final

import httptools
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from quilt.api import errors
from quilt.domain import forwarding, linx
from quilt.domain.forwarding import HOP, PREFIX, Framing
from quilt.errors import BadGateway, NotFound, QuiltError, ServiceUnavailable

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from quilt.engine.services import Services, Target

READ_SIZE: Final = 256 * 1024
IDLE_PER_TARGET: Final = 32  # keep-alive connections kept per container port
CONNECT_TIMEOUT: Final = 5.0


class LinxIngress:
    """ASGI middleware: `/linx/…` goes to the ingress, everything else to the API."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pool = Pool()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one connection."""
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        state.linx_pool = self.pool  # closed by the app's lifespan when the server stops
        services: Services = state.platform.services
        service_id, slash, rest = scope["path"][len(PREFIX) :].partition("/")
        try:
            if not slash and scope["type"] == "http":
                if services.target(service_id) is None:
                    raise NotFound(f"service {service_id} does not exist")
                await redirect(scope, send, f"{PREFIX}{service_id}/")  # for relative links
                return
            token, set_cookie = credential(scope, service_id)
            target = services.admit(service_id, token, websocket=scope["type"] == "websocket")
            if target.service.auth_mode != "service_token":
                set_cookie = None
            if scope["type"] == "websocket":
                await bridge_websocket(scope, receive, send, target, "/" + rest, set_cookie)
            else:
                await self.proxy(scope, receive, send, target, "/" + rest, set_cookie)
        except QuiltError as refused:
            await refuse(scope, receive, send, refused)

    async def proxy(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: Target,
        rest: str,
        set_cookie: bytes | None,
    ) -> None:
        """One HTTP exchange with the app, streamed both ways."""
        assert target.address is not None  # noqa: S101 - admit() checked
        key = (target.address, target.service.target_port)
        head = request_head(scope, rest, target.service.service_id)
        framing = forwarding.request_framing(scope["headers"])
        has_body = framing is not Framing.NONE
        for attempt in range(2):
            conn = await self.pool.acquire(key, fresh=attempt > 0)
            try:
                reused = await exchange(conn, head, framing, scope, receive, send, set_cookie)
            except StaleConnection:
                conn.close()
                if has_body or attempt:
                    raise BadGateway("the app closed the connection") from None
                continue
            except BaseException:
                conn.close()
                raise
            if reused:
                self.pool.release(key, conn)
            else:
                conn.close()
            return


# -- admission ---------------------------------------------------------------------------------


def credential(scope: Scope, service_id: str) -> tuple[str | None, bytes | None]:
    """The token a request presents (query, else cookie), taken out of the app's query.

    A token from the query is handed back as a cookie scoped to the service's path.
    """
    token, query = linx.split_query(scope.get("query_string", b"").decode("latin-1"))
    scope["query_string"] = query.encode("latin-1")
    if token is None:
        return forwarding.token_from_cookies(scope["headers"], service_id), None
    secure = scope.get("scheme") in ("https", "wss")
    return token, forwarding.token_cookie(service_id, token, secure=secure)


async def redirect(scope: Scope, send: Send, location: str) -> None:
    """A 308 to `location`, keeping the query."""
    query = scope.get("query_string", b"")
    target = location.encode() + (b"?" + query if query else b"")
    headers = [(b"location", target), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 308, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def refuse(scope: Scope, receive: Receive, send: Send, refused: QuiltError) -> None:
    """Answer with the error envelope (a WebSocket gets it as a denial response)."""
    if scope["type"] == "websocket":
        websocket = WebSocket(scope, receive, send)
        await websocket.send_denial_response(errors.envelope(websocket, refused))
        return
    await errors.envelope(HTTPConnection(scope), refused)(scope, receive, send)


# -- HTTP --------------------------------------------------------------------------------------


class StaleConnection(Exception):
    """A kept-alive connection the app had closed before anything came back."""


class Connection:
    """One HTTP/1.1 connection to an app."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.reused = False

    def close(self) -> None:
        """Drop it."""
        self.writer.close()


class Pool:
    """Idle keep-alive connections per (address, port)."""

    def __init__(self) -> None:
        self._idle: defaultdict[tuple[str, int], deque[Connection]] = defaultdict(deque)

    async def acquire(self, key: tuple[str, int], *, fresh: bool = False) -> Connection:
        """An idle connection to `key`, or a new one (503 if the port refuses)."""
        idle = self._idle[key]
        while idle and not fresh:
            conn = idle.pop()
            if not conn.writer.is_closing() and not conn.reader.at_eof():
                conn.reused = True
                return conn
            conn.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*key, limit=READ_SIZE), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            raise ServiceUnavailable(
                f"nothing accepts connections on port {key[1]} of the container ({exc})",
                hint="start the app listening on 0.0.0.0:<target_port> inside the container",
            ) from exc
        return Connection(reader, writer)

    def close(self) -> None:
        """Drop every idle connection (the server is stopping)."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()

    def release(self, key: tuple[str, int], conn: Connection) -> None:
        """Keep a connection whose exchange ended cleanly."""
        idle = self._idle[key]
        if len(idle) >= IDLE_PER_TARGET:
            conn.close()
        else:
            idle.append(conn)


def request_head(scope: Scope, rest: str, service_id: str) -> bytes:
    """The request line and headers the app receives."""
    query = scope.get("query_string", b"")
    target = rest.encode() + (b"?" + query if query else b"")
    raw = scope.get("raw_path")
    if raw:  # keep the client's own encoding of the path (%2F stays %2F)
        target = raw[len(PREFIX) + len(service_id) :] + (b"?" + query if query else b"")
        if not target.startswith(b"/"):
            target = b"/" + target
    client = scope.get("client")
    return forwarding.upstream_head(
        scope["method"].encode(),
        target,
        scope["headers"],
        service_id=service_id,
        client=client[0] if client else "",
        scheme=scope.get("scheme", "http"),
        framing=forwarding.request_framing(scope["headers"]),
    )


class _Answer:
    """httptools callbacks, collected for the exchange loop."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.head_done = False
        self.done = False
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.head_done = True
        # Asked now: once the message is complete, the parser has reset and says False.
        self.keep_alive = bool(self.parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


async def exchange(
    conn: Connection,
    head: bytes,
    framing: Framing,
    scope: Scope,
    receive: Receive,
    send: Send,
    set_cookie: bytes | None,
) -> bool:
    """Send the request, stream the answer back; True if the connection may be kept."""
    if not await send_request(conn, head, framing, receive):
        return False
    return await relay_answer(conn, scope, send, set_cookie)


async def send_request(
    conn: Connection,
    head: bytes,
    framing: Framing,
    receive: Receive,
) -> bool:
    """Write the head and stream the body (chunked if the client gave no length)."""
    has_body = framing is not Framing.NONE
    chunked = framing is Framing.CHUNKED
    conn.writer.write(head)
    while has_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        body = message.get("body", b"")
        if body:
            conn.writer.write(forwarding.chunk(body) if chunked else body)
            await conn.writer.drain()
        has_body = message.get("more_body", False)
        if chunked and not has_body:
            conn.writer.write(forwarding.LAST_CHUNK)
    await conn.writer.drain()
    return True


async def relay_answer(
    conn: Connection, scope: Scope, send: Send, set_cookie: bytes | None
) -> bool:
    """Parse the app's answer and pass it on as it arrives; True if the connection may be kept."""
    answer = _Answer()
    parser = answer.parser
    started = False
    while True:
        try:
            data = await conn.reader.read(READ_SIZE)
        except OSError:
            data = b""
        if not data:
            await _ended(conn, send, started=started)
            return False
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not started:
                raise BadGateway(f"the app answered malformed HTTP: {exc}") from exc
            return False
        if answer.head_done and not started:
            started = True
            await _start(send, parser.get_status_code(), answer.headers, set_cookie)
            if scope["method"] == "HEAD":  # no body follows, whatever Content-Length says
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return False
        chunks, answer.body = answer.body, []
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if answer.done:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return answer.keep_alive


async def _ended(conn: Connection, send: Send, *, started: bool) -> None:
    """The app closed the connection: before answering (stale, or a failure) or mid-body."""
    if not started:
        if conn.reused:
            raise StaleConnection
        raise BadGateway("the app closed the connection")
    # A body delimited by the connection's end (or cut short): end it here.
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _start(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], set_cookie: bytes | None
) -> None:
    kept = [(k, v) for k, v in headers if k not in HOP]
    if set_cookie:
        kept.append((b"set-cookie", set_cookie))
    await send({"type": "http.response.start", "status": status, "headers": kept})


# -- WebSocket ---------------------------------------------------------------------------------


async def bridge_websocket(
    scope: Scope,
    receive: Receive,
    send: Send,
    target: Target,
    rest: str,
    set_cookie: bytes | None,
) -> None:
    """Open the app's WebSocket, accept the client's with the same subprotocol, relay both ways."""
    query = scope.get("query_string", b"").decode("latin-1")
    uri = f"ws://{target.address}:{target.service.target_port}{rest}" + (
        f"?{query}" if query else ""
    )
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in scope["headers"]
        if k not in HOP and k != b"host" and not k.startswith(b"sec-websocket-")
    ]
    headers.append(("X-Forwarded-Prefix", f"{PREFIX}{target.service.service_id}"))
    try:
        upstream = await ws_connect(
            uri,
            subprotocols=scope.get("subprotocols") or None,
            additional_headers=headers,
            max_size=None,
            compression=None,
            open_timeout=CONNECT_TIMEOUT,
        )
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        status = exc.response.status_code if isinstance(exc, InvalidStatus) else None
        raise ServiceUnavailable(f"the app did not accept the WebSocket ({status or exc})") from exc
    async with upstream:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        accept: Message = {"type": "websocket.accept", "subprotocol": upstream.subprotocol}
        if set_cookie:
            accept["headers"] = [(b"set-cookie", set_cookie)]
        await send(accept)

        async def client_to_app() -> None:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    await upstream.close(message.get("code", 1000))
                    return
                data = message.get("bytes")
                await upstream.send(data if data is not None else message.get("text", ""))

        async def app_to_client() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for data in upstream:
                    key = "bytes" if isinstance(data, bytes) else "text"
                    await send({"type": "websocket.send", key: data})
            code = upstream.close_code or 1000
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": code})

        tasks = [asyncio.ensure_future(client_to_app()), asyncio.ensure_future(app_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
