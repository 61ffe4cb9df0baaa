"""Keep-alive HTTP/1.1 connections from the Linx fast path to apps, at the transport level.

An `Upstream` parses one answer at a time with httptools and hands each event to the
`Listener` that owns the exchange; `Upstreams` keeps the idle ones per (address, port). This
module knows nothing of clients, tokens or services.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, Protocol, cast

import httptools

from quilt.errors import ServiceUnavailable

if TYPE_CHECKING:
    from quilt.domain.forwarding import Headers

IDLE_PER_TARGET: Final = 32  # keep-alive connections kept per container port
CONNECT_TIMEOUT: Final = 5.0
Key = tuple[str, int]  # (address, port)


class Listener(Protocol):
    """The exchange an upstream connection is serving."""

    def answer_head(
        self, status: int, reason: bytes, headers: Headers, *, keep_alive: bool
    ) -> None:
        """The app's status line and headers have arrived (names as the app spelt them)."""

    def answer_body(self, data: bytes) -> None:
        """A piece of the answer's body (de-chunked)."""

    def answer_done(self) -> None:
        """The answer (or an interim 1xx head) is complete."""

    def answer_flush(self) -> None:
        """One read of the answer has been parsed: write what it produced."""

    def upstream_lost(self, reason: str) -> None:
        """The connection closed, or the app spoke malformed HTTP, before the answer was done."""

    def upstream_writable(self, *, writable: bool) -> None:
        """The connection's write buffer went above (False) or back below (True) its limit."""


class Upstream(asyncio.Protocol):
    """One connection to an app; serves one listener at a time."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.listener: Listener | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.reused = False  # it served an exchange before this one
        self.answering = False  # bytes of the current answer have arrived
        self._reason = b""
        self._headers: Headers = []

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = cast("asyncio.Transport", transport)  # a TCP connection (uvloop's too)

    def data_received(self, data: bytes) -> None:
        """Feed the answer to the parser; bytes nobody asked for end the connection."""
        listener = self.listener
        if listener is None:
            self.close()
            return
        self.answering = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # a 101 to a request that asked for no upgrade
            self._fail("the app switched protocols unasked")
        except httptools.HttpParserError as exc:
            self._fail(f"the app answered malformed HTTP: {exc}")
        listener.answer_flush()

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell the listener, if an exchange was under way."""
        del exc
        self.transport = None
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.upstream_lost("the app closed the connection")

    def pause_writing(self) -> None:
        """Backpressure from the app: stop reading the client's body."""
        if self.listener is not None:
            self.listener.upstream_writable(writable=False)

    def resume_writing(self) -> None:
        """The app caught up."""
        if self.listener is not None:
            self.listener.upstream_writable(writable=True)

    # -- httptools callbacks -----------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        """The reason phrase."""
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header line."""
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        """Hand the head over; keep-alive is asked now, before the parser resets."""
        headers, self._headers = self._headers, []
        reason, self._reason = self._reason, b""
        if self.listener is not None:
            self.listener.answer_head(
                self.parser.get_status_code(),
                reason,
                headers,
                keep_alive=bool(self.parser.should_keep_alive()),
            )

    def on_body(self, body: bytes) -> None:
        """A piece of the body."""
        if self.listener is not None:
            self.listener.answer_body(body)

    def on_message_complete(self) -> None:
        """The answer (or a 1xx) ended."""
        if self.listener is not None:
            self.listener.answer_done()

    # -- the exchange's side -----------------------------------------------------------------

    def serve(self, listener: Listener, head: bytes) -> None:
        """Start an exchange: send the request head."""
        assert self.transport is not None  # noqa: S101 - only open connections are handed out
        self.listener = listener
        self.answering = False
        self.transport.write(head)

    def write(self, data: bytes) -> None:
        """Send part of the request body."""
        if self.transport is not None:
            self.transport.write(data)

    def hold(self, *, reading: bool) -> None:
        """Stop (or resume) reading the answer: the client is not keeping up."""
        if self.transport is not None and not self.transport.is_closing():
            if reading:
                self.transport.resume_reading()
            else:
                self.transport.pause_reading()

    def close(self) -> None:
        """Drop the connection (no listener is told)."""
        self.listener = None
        if self.transport is not None:
            self.transport.abort()
            self.transport = None

    @property
    def open(self) -> bool:
        """Whether it can carry another exchange."""
        return self.transport is not None and not self.transport.is_closing()

    def _fail(self, reason: str) -> None:
        listener = self.listener
        self.close()
        if listener is not None:
            listener.upstream_lost(reason)


class Upstreams:
    """Idle keep-alive connections per (address, port)."""

    def __init__(self) -> None:
        self._idle: dict[Key, list[Upstream]] = {}

    def take(self, key: Key) -> Upstream | None:
        """An idle connection to `key`, if one is still open."""
        idle = self._idle.get(key)
        while idle:
            upstream = idle.pop()
            if upstream.open:
                upstream.reused = True
                return upstream
        return None

    async def open(self, key: Key) -> Upstream:
        """A new connection to `key` (503 if the port refuses or does not answer)."""
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await asyncio.wait_for(
                loop.create_connection(lambda: Upstream(key), *key), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            raise ServiceUnavailable(
                f"nothing accepts connections on port {key[1]} of the container ({exc})",
                hint="start the app listening on 0.0.0.0:<target_port> inside the container",
            ) from exc
        return upstream

    def keep(self, upstream: Upstream) -> None:
        """Keep a connection whose exchange ended cleanly (or drop it if enough are kept)."""
        upstream.listener = None
        idle = self._idle.setdefault(upstream.key, [])
        if len(idle) >= IDLE_PER_TARGET:  # some may have been closed by the app meanwhile
            idle[:] = [u for u in idle if u.open]
        if upstream.open and len(idle) < IDLE_PER_TARGET:
            idle.append(upstream)
        else:
            upstream.close()

    def count(self, key: Key) -> int:
        """How many open idle connections to `key` are kept."""
        return sum(1 for upstream in self._idle.get(key, ()) if upstream.open)

    def close(self) -> None:
        """Drop every idle connection (the server is stopping)."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
