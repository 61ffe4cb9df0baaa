"""One proxied exchange of the Linx fast path: a request carried to an app, its answer back.

A `Relay` sits between the client's connection (the `Client` interface, kept by
`quilt.api.ingress`) and a pooled `Upstream`: it writes the request head and body upstream,
re-frames the answer for the client as it arrives, and applies backpressure both ways, so
bodies of any size stream through in bounded memory. It never parses the client's bytes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from quilt.api import errors
from quilt.domain import forwarding
from quilt.domain.forwarding import Framing
from quilt.errors import BadGateway, QuiltError, ServiceUnavailable

if TYPE_CHECKING:
    from quilt.api.upstreams import Key, Upstream, Upstreams
    from quilt.domain.forwarding import Headers

NO_BODY_STATUSES = frozenset({204, 304})


class Client(Protocol):
    """The client's side of a relay (the connection that asked)."""

    request_complete: bool  # the whole request (head and body) has been read

    def send(self, data: bytes) -> None:
        """Write to the client."""

    def reading(self, reason: str, *, on: bool) -> None:
        """Stop reading the client for `reason`, or resume once no reason is left."""

    def relay_ended(self, *, keep_alive: bool) -> None:
        """The answer is complete; the connection stays open for the next request or closes."""

    def abort(self) -> None:
        """Drop the connection: an answer already under way cannot be finished."""


class Relay:
    """One request and its answer (implements `upstreams.Listener`)."""

    def __init__(
        self,
        client: Client,
        pool: Upstreams,
        key: Key,
        head: bytes,
        framing: Framing,
        *,
        set_cookie: bytes | None,
        head_request: bool,
        keep_alive: bool,
        http10: bool,
    ) -> None:
        self.client, self.pool, self.key, self.head = client, pool, key, head
        self.framing = framing
        self.set_cookie = set_cookie
        self.head_request, self.keep_alive, self.http10 = head_request, keep_alive, http10
        self.upstream: Upstream | None = None
        self.connecting: asyncio.Task[None] | None = None
        self.body_sent = False  # bytes of the request body went upstream
        self.request_sent = False  # the whole request went upstream
        self.started = False  # the answer's head went to the client
        self.interim = False  # a 1xx head is being passed on
        self.chunked_out = False  # the answer is re-chunked for the client
        self.until_close = False  # the app delimits its answer by closing
        self.keep = keep_alive
        self.out: list[bytes] = []  # answer bytes of the current read, written at its end
        self.upstream_keep = False  # the app lets the connection carry another exchange
        self.ended = False

    # -- the request -------------------------------------------------------------------------

    def begin(self) -> None:
        """Send the request over an idle connection, or open one (the client waits meanwhile)."""
        upstream = self.pool.take(self.key)
        if upstream is not None:
            self._attach(upstream)
        else:
            self._reconnect()

    @property
    def ready(self) -> bool:
        """Whether request body bytes can go upstream now."""
        return self.upstream is not None

    def request_body(self, data: bytes) -> None:
        """Pass a piece of the request body on."""
        if self.upstream is not None and not self.ended:
            self.body_sent = True
            self.upstream.write(forwarding.chunk(data) if self.framing is Framing.CHUNKED else data)

    def request_done(self) -> None:
        """The client's request is complete."""
        if self.upstream is not None and not self.request_sent:
            self.request_sent = True
            if self.framing is Framing.CHUNKED:
                self.upstream.write(forwarding.LAST_CHUNK)

    def client_writable(self, *, writable: bool) -> None:
        """The client fell behind (False) or caught up (True): hold the app's answer."""
        if self.upstream is not None:
            self.upstream.hold(reading=writable)

    def abort(self) -> None:
        """The client went away: drop the exchange and its connection to the app."""
        self.ended = True
        if self.connecting is not None:
            self.connecting.cancel()
            self.connecting = None
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None

    def _attach(self, upstream: Upstream) -> None:
        self.upstream = upstream
        upstream.serve(self, self.head)
        if self.client.request_complete:
            self.request_done()

    def _reconnect(self) -> None:
        self.client.reading("connecting", on=False)
        self.connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        try:
            upstream = await self.pool.open(self.key)
        except ServiceUnavailable as refused:
            self.connecting = None
            self.client.reading("connecting", on=True)
            self._refuse(refused)
            return
        self.connecting = None
        if self.ended:
            upstream.close()
            return
        self._attach(upstream)
        self.client.reading("connecting", on=True)

    # -- the answer (upstreams.Listener) ---------------------------------------------------

    def answer_head(
        self, status: int, reason: bytes, headers: Headers, *, keep_alive: bool
    ) -> None:
        """Pass the head on, framed for the client's hop."""
        if status < 200:  # noqa: PLR2004 - 1xx: interim, the real answer follows
            self.interim = True
            self.out.append(forwarding.response_head(status, reason, headers, set_cookie=None))
            return
        self.upstream_keep = keep_alive
        extra: list[tuple[bytes, bytes]] = []
        if not (self.head_request or status in NO_BODY_STATUSES):
            length, chunked = _framing_of(headers)
            if not length:
                self.until_close = not chunked
                self.chunked_out = not self.http10
                if self.chunked_out:
                    extra.append((b"transfer-encoding", b"chunked"))
        self.keep = (
            self.keep_alive
            and self.client.request_complete
            and (self.chunked_out or not self.until_close)
        )
        if not self.keep:
            extra.append((b"connection", b"close"))
        elif self.http10:
            extra.append((b"connection", b"keep-alive"))
        head = forwarding.response_head(
            status, reason, headers, set_cookie=self.set_cookie, extra=extra
        )
        self.out.append(head)
        self.started = True
        if self.head_request:  # no body follows, whatever Content-Length says
            self._end(reuse=False)

    def answer_body(self, data: bytes) -> None:
        """Pass a piece of the body on."""
        if not self.ended:
            self.out.append(forwarding.chunk(data) if self.chunked_out else data)

    def answer_done(self) -> None:
        """End the answer; the connection to the app is kept if both sides allow it."""
        if self.interim:
            self.interim = False
            return
        if self.ended:
            return
        if self.chunked_out:
            self.out.append(forwarding.LAST_CHUNK)
        self._end(reuse=self.upstream_keep and self.request_sent)

    def answer_flush(self) -> None:
        """Write what this read of the app's answer produced, in one go (one syscall)."""
        if self.out:
            out, self.out = self.out, []
            self.client.send(out[0] if len(out) == 1 else b"".join(out))

    def upstream_lost(self, reason: str) -> None:
        """The app closed the connection (or broke HTTP) before the answer was done."""
        upstream, self.upstream = self.upstream, None
        if self.ended:
            return
        if not self.started:
            stale = upstream is not None and upstream.reused and not upstream.answering
            if stale and not self.body_sent and self.framing is Framing.NONE:
                self.request_sent = False  # a kept-alive connection the app had closed: again
                self._reconnect()
                return
            self._refuse(BadGateway(reason))
        elif self.until_close:  # the close is how this answer ends
            if self.chunked_out:
                self.out.append(forwarding.LAST_CHUNK)
            self._end(reuse=False)
        else:  # cut short: only dropping the connection tells the client
            self.ended = True
            self.answer_flush()
            self.client.abort()

    def upstream_writable(self, *, writable: bool) -> None:
        """Hold the client's body while the app's side is full."""
        self.client.reading("upstream", on=writable)

    # -- ending ------------------------------------------------------------------------------

    def _refuse(self, error: QuiltError) -> None:
        if self.started:
            self.ended = True
            self.answer_flush()
            self.client.abort()
            return
        self.keep = self.keep_alive and self.client.request_complete
        self.out.append(errors.raw_response(error, close=not self.keep))
        self._end(reuse=False)

    def _end(self, *, reuse: bool) -> None:
        self.ended = True
        self.answer_flush()
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            if reuse:
                self.pool.keep(upstream)
            else:
                upstream.close()
        self.client.relay_ended(keep_alive=self.keep)


def _framing_of(headers: Headers) -> tuple[bool, bool]:
    """Whether the app's answer has a Content-Length, and a Transfer-Encoding."""
    length = chunked = False
    for key, _ in headers:
        name = key.lower()
        if name == b"content-length":
            length = True
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked
