"""The HTTP protocol `quilt serve` runs: `/linx/…` proxied at the transport, the rest to uvicorn.

Each connection is sniffed at its first request line: anything but `/linx/` goes at once to
uvicorn's own protocol, so the API pays one `find`. On a Linx connection heads are framed here
and parsed by httptools, and each admitted request is carried by a `Relay`: no ASGI cycle, no
middleware, no task. Whatever the fast path does not take (a refused or missing token, a
WebSocket upgrade, a redirect, a malformed head, an API request later on the connection) is
handed over with the connection to uvicorn, where the ASGI ingress (`quilt.api.linx`) answers
it in full. One exchange at a time per connection, so pipelined answers keep their order.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, cast

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from quilt.api.relays import Relay
from quilt.api.upstreams import Upstreams
from quilt.domain import forwarding, linx
from quilt.domain.forwarding import Framing
from quilt.errors import QuiltError

if TYPE_CHECKING:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from quilt.domain.forwarding import Headers
    from quilt.engine.services import Services

PREFIX: Final = forwarding.PREFIX.encode()
MAX_HEAD: Final = 64 * 1024  # a longer head goes to uvicorn, which refuses it properly
METHOD_ROOM: Final = 24  # the request target starts within this many bytes


class Phase(StrEnum):
    """Where a Linx connection is."""

    HEAD = "head"  # between requests, or reading a head
    BODY = "body"  # streaming a request body to the app
    ANSWER = "answer"  # the request is read; its answer is under way
    CLOSED = "closed"  # lost, closing, or handed over to uvicorn


def linx_line(data: bytes) -> bool | None:
    """Whether a request (maybe only its first bytes) asks for `/linx/`; None if not yet known."""
    space = data.find(b" ", 0, METHOD_ROOM)
    if space < 0:
        return None if len(data) < METHOD_ROOM else False
    asked = data[space + 1 : space + 1 + len(PREFIX)]
    if len(asked) < len(PREFIX):
        return None if PREFIX.startswith(asked) else False
    return asked == PREFIX


class IngressProtocol(asyncio.Protocol):
    """One client connection: the Linx fast path, or uvicorn's protocol once handed over."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config, self.server_state, self.app_state = config, server_state, app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.services, self.pool = _shared(config.app)
        self.transport: asyncio.Transport | None = None
        self.client_host = ""
        self.scheme = "http"
        self.phase = Phase.HEAD
        self.parser = httptools.HttpRequestParser(self)
        self.buffer = b""  # the start of a head not yet complete
        self.pending = bytearray()  # bytes that came while they could not be taken
        self.holds: set[str] = set()  # why the client is not being read
        self.relay: Relay | None = None
        self.idle: asyncio.TimerHandle | None = None  # one timer per connection, re-armed
        self.active = False  # bytes came since the timer last looked
        self.closing = False  # the server is stopping
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: Headers = []
        self.head_done = False
        self.request_complete = False
        self.keep_alive = True
        self.http10 = False
        self.framing = Framing.NONE
        self.body_left = 0  # Content-Length bytes still to come
        self.tail = b""  # the last bytes of a chunked body fed so far

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport and who is on the other end."""
        self.transport = cast("asyncio.Transport", transport)  # a stream server's (uvloop's too)
        self.server_state.connections.add(self)  # type: ignore[arg-type] # shutdown() is all it needs
        peer = transport.get_extra_info("peername")
        self.client_host = str(peer[0]) if isinstance(peer, tuple) else ""
        self.scheme = "https" if transport.get_extra_info("sslcontext") else "http"
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        """Take bytes in, unless an answer or a connection to the app is awaited."""
        self.active = True
        if self.pending or self._waiting():
            self.pending += data
            if self.phase is Phase.ANSWER:
                self.reading("answer", on=False)
            return
        self._consume(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the exchange under way, and its connection to the app."""
        del exc
        self.server_state.connections.discard(self)
        self.phase = Phase.CLOSED
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
        relay, self.relay = self.relay, None
        if relay is not None:
            relay.abort()

    def eof_received(self) -> None:
        """The client stopped sending: the transport closes once its answer is written."""

    def pause_writing(self) -> None:
        """The client is not keeping up: stop reading the app."""
        if self.relay is not None:
            self.relay.client_writable(writable=False)

    def resume_writing(self) -> None:
        """The client caught up."""
        if self.relay is not None:
            self.relay.client_writable(writable=True)

    def shutdown(self) -> None:
        """The server is stopping: close now if idle, else after the answer under way."""
        self.closing = True
        if self.phase is Phase.HEAD and not self.buffer and self.relay is None:
            self._close()

    # -- reading requests --------------------------------------------------------------------

    def _waiting(self) -> bool:
        return self.phase is Phase.ANSWER or (
            self.phase is Phase.BODY and (self.relay is None or not self.relay.ready)
        )

    def _consume(self, data: bytes) -> None:
        while data:
            if self.phase is Phase.HEAD:
                data = self._head(data)
            elif self._waiting():
                self.pending += data
                if self.phase is Phase.ANSWER:
                    self.reading("answer", on=False)
                return
            elif self.phase is Phase.BODY:
                data = self._body(data)
            else:
                return

    def _head(self, data: bytes) -> bytes:
        """Read one head; start its relay, or hand the connection over. Returns what follows."""
        if self.buffer:
            data, self.buffer = self.buffer + data, b""
        sniffed = linx_line(data)
        if sniffed is None:
            self.buffer = data
            return b""
        end = data.find(b"\r\n\r\n") if sniffed else -1
        if end < 0:
            if sniffed and len(data) <= MAX_HEAD:
                self.buffer = data
            else:
                self._hand_off(data)
            return b""
        head, rest = data[: end + 4], data[end + 4 :]
        self._reset()
        try:
            self.parser.feed_data(head)
        except httptools.HttpParserUpgrade:  # a WebSocket: the ASGI ingress bridges it
            self._hand_off(data)
            return b""
        except httptools.HttpParserError:  # uvicorn answers malformed requests
            self._hand_off(data)
            return b""
        relay = self._admit() if self.head_done else None
        if relay is None:
            self._hand_off(data)
            return b""
        self.relay = relay
        self.server_state.total_requests += 1
        self.phase = Phase.ANSWER if self.request_complete else Phase.BODY
        relay.begin()
        return rest

    def _body(self, data: bytes) -> bytes:
        """Feed the body exactly up to its end, so what follows is the next head."""
        if self.framing is Framing.LENGTH:
            piece, rest = data[: self.body_left], data[self.body_left :]
            self.body_left -= len(piece)
        else:  # a chunked body ends right after a blank line: split there, then ask the parser
            joined = self.tail + data
            at = joined.find(b"\r\n\r\n")
            cut = len(data) if at < 0 else at + 4 - len(self.tail)
            piece, rest = data[:cut], data[cut:]
            self.tail = (self.tail + piece)[-3:]
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserError:
            self.abort()
            return b""
        return rest

    def _admit(self) -> Relay | None:
        """The relay for this request, if the fast path takes it."""
        if self.services is None or self.pool is None or self.closing:
            return None
        path, _, query = self.url.partition(b"?")
        sid, slash, rest = path[len(PREFIX) :].partition(b"/")
        if not slash:  # /linx/<id>: the ASGI ingress redirects
            return None
        service_id = sid.decode("latin-1")
        token, kept = linx.split_query(query.decode("latin-1"))
        set_cookie = None
        if token is None:
            token = forwarding.token_from_cookies(self.headers, service_id)
        else:
            set_cookie = forwarding.token_cookie(service_id, token, secure=self.scheme == "https")
        try:
            target = self.services.admit(service_id, token, websocket=False)
        except QuiltError:  # the ASGI ingress answers with the error envelope
            return None
        if target.address is None:
            return None
        if target.service.auth_mode != "service_token":
            set_cookie = None
        self.framing = forwarding.request_framing(self.headers)
        if self.framing is Framing.LENGTH:
            self.body_left = int(next(v for k, v in self.headers if k == b"content-length"))
        method = self.parser.get_method()
        app_target = b"/" + rest + (b"?" + kept.encode("latin-1") if kept else b"")
        head = forwarding.upstream_head(
            method,
            app_target,
            self.headers,
            service_id=service_id,
            client=self.client_host,
            scheme=self.scheme,
            framing=self.framing,
        )
        return Relay(
            self,
            self.pool,
            (target.address, target.service.target_port),
            head,
            self.framing,
            set_cookie=set_cookie,
            head_request=method == b"HEAD",
            keep_alive=self.keep_alive,
            http10=self.http10,
        )

    # -- httptools callbacks -----------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        """The request target, as the client wrote it."""
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header, its name in lower case (as ASGI has them)."""
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        """Keep-alive is asked now: once the message is complete the parser has reset."""
        self.head_done = True
        self.keep_alive = bool(self.parser.should_keep_alive())
        self.http10 = self.parser.get_http_version() == "1.0"

    def on_body(self, body: bytes) -> None:
        """Pass a piece of the request body on."""
        if self.relay is not None:
            self.relay.request_body(body)

    def on_message_complete(self) -> None:
        """The whole request is read."""
        self.request_complete = True
        if self.relay is not None:
            self.relay.request_done()
            if self.phase is Phase.BODY:
                self.phase = Phase.ANSWER

    # -- relays.Client -------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Write to the client."""
        if self.transport is not None:
            self.transport.write(data)

    def reading(self, reason: str, *, on: bool) -> None:
        """Pause reading the client for `reason`; resume once no reason is left."""
        if self.transport is None or self.phase is Phase.CLOSED:
            return
        if not on:
            if not self.holds:
                self.transport.pause_reading()
            self.holds.add(reason)
            return
        if reason not in self.holds:
            return
        self.holds.discard(reason)
        if not self.holds:
            self.transport.resume_reading()
            if self.pending:  # off the current call stack: this may run inside a parser
                self.loop.call_soon(self._drain)

    def relay_ended(self, *, keep_alive: bool) -> None:
        """Ready for the next request, or close."""
        self.relay = None
        if self.phase is Phase.CLOSED:
            return
        if not keep_alive or self.closing or not self.request_complete:
            self._close()
            return
        self.phase = Phase.HEAD
        if self.holds and self.transport is not None:  # every hold was for this exchange
            self.holds.clear()
            self.transport.resume_reading()
        if self.pending:  # off the current call stack: this runs inside the app's parser
            self.loop.call_soon(self._drain)

    def abort(self) -> None:
        """Close after what has been written; the client sees the answer cut short."""
        self._close()

    # -- the rest ----------------------------------------------------------------------------

    def _drain(self) -> None:
        if self.phase is Phase.CLOSED or self._waiting():
            return
        data = bytes(self.pending)
        self.pending.clear()
        self._consume(data)

    def _hand_off(self, data: bytes) -> None:
        """Give the connection, from this request on, to uvicorn's own HTTP protocol."""
        transport = self.transport
        if transport is None or self.closing:
            self._close()
            return
        self.server_state.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
        if self.holds:
            self.holds.clear()
            transport.resume_reading()
        self.phase = Phase.CLOSED
        self.transport = None
        protocol = HttpToolsProtocol(
            config=self.config,
            server_state=self.server_state,
            app_state=self.app_state,
            _loop=self.loop,
        )
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    def _arm_idle(self) -> None:
        if self.transport is not None:
            self.idle = self.loop.call_later(self.config.timeout_keep_alive, self._idle_out)

    def _idle_out(self) -> None:
        """Close a connection that sent nothing for a keep-alive timeout between requests.

        One timer per connection that looks back at whether bytes came, rather than a timer
        set and cancelled per request: an idle connection closes after one to two timeouts.
        """
        self.idle = None
        idle = not self.active and self.phase is Phase.HEAD and not self.buffer
        self.active = False
        if idle and self.relay is None:
            self._close()
        else:
            self._arm_idle()

    def _close(self) -> None:
        self.phase = Phase.CLOSED
        if self.transport is not None:
            self.transport.close()


def _shared(app: object) -> tuple[Services | None, Upstreams | None]:
    """The platform's services and the app-wide pool of connections to apps (made once)."""
    state = getattr(app, "state", None)
    platform = getattr(state, "platform", None)
    if state is None or platform is None:
        return None, None
    pool = getattr(state, "linx_upstreams", None)
    if pool is None:
        pool = state.linx_upstreams = Upstreams()  # closed by the app's lifespan
    return platform.services, pool
