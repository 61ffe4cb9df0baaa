"""Attached terminals: the `/ws/terminal/attach` WebSocket, for the blocking and async clients.

A connection yields the terminal's output as `bytes` and the server's control messages
(`ready`, `pong`, `exit`, `error`) as dicts; it sends keystrokes, resizes and signals.
WebSockets do not go through httpx, so an attach always uses a real socket, whatever
`transport=` the client was given; the async connection needs asyncio.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from quilt.sdk._exceptions import ConnectionError as QuiltConnectionError
from quilt.sdk._exceptions import QuiltError, from_response

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import TracebackType

    from websockets.asyncio.client import ClientConnection as AsyncClientConnection
    from websockets.sync.client import ClientConnection

    from quilt.sdk._config import Config

ATTACH_PATH = "/ws/terminal/attach"
SUBPROTOCOL = "terminal"

Frame = bytes | dict[str, Any]
"""Terminal output (`bytes`) or a control message (`{"type": "exit", "code": 0, ...}`)."""


def attach_url(
    base_url: str,
    *,
    container_id: str | None,
    session_id: str | None,
    cols: int | None,
    rows: int | None,
    shell: str | None,
) -> str:
    """The WebSocket URL that attaches to a session, or to a new one in a container."""
    if (container_id is None) == (session_id is None):
        raise ValueError("attach to a container_id or to a session_id (one of them)")
    params = {
        "session_id": session_id,
        "container_id": container_id,
        "cols": cols,
        "rows": rows,
        "shell": shell,
    }
    query = urlencode({k: v for k, v in params.items() if v is not None})
    scheme, sep, rest = base_url.partition("://")
    ws = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    return f"{ws}{sep}{rest.rstrip('/')}{ATTACH_PATH}?{query}"


def decode(message: str | bytes) -> Frame:
    """One WebSocket message as a frame: binary is output, text is a JSON control message."""
    if isinstance(message, bytes):
        return message
    found: dict[str, Any] = json.loads(message)
    return found


def refused(exc: InvalidStatus) -> QuiltError:
    """The SDK's error for a refused handshake, from the server's error body."""
    answer = exc.response
    response = httpx.Response(
        answer.status_code,
        headers=list(answer.headers.raw_items()),
        content=bytes(answer.body or b""),
    )
    return from_response(response)


def unreachable(url: str, exc: OSError) -> QuiltConnectionError:
    """The SDK's error for a server that could not be reached."""
    return QuiltConnectionError(f"cannot attach at {url}: {exc}")


def _options(config: Config) -> dict[str, Any]:
    """How both connections open: the terminal subprotocol, the key, no frame size limit."""
    return {
        "subprotocols": [SUBPROTOCOL],
        "additional_headers": {"X-Api-Key": config.api_key} if config.api_key else {},
        "max_size": None,
        "open_timeout": config.timeout.connect,
    }


class TerminalConnection:
    """An attached terminal (blocking): iterate for output and control, send keystrokes."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    @classmethod
    def open(cls, config: Config, url: str) -> TerminalConnection:
        """Connect to `url` with the client's key; raise the SDK's error if refused."""
        try:
            # Entered at once: this object closes it, as `with connect(...)` would.
            ws = connect(url, **_options(config)).__enter__()
        except InvalidStatus as exc:
            raise refused(exc) from exc
        except OSError as exc:
            raise unreachable(url, exc) from exc
        return cls(ws)

    def __iter__(self) -> Iterator[Frame]:
        """Frames until the server closes the connection."""
        try:
            for message in self._ws:
                yield decode(message)
        except ConnectionClosed:
            return

    def send(self, data: bytes | str) -> None:
        """Type into the terminal."""
        self._ws.send(data.encode() if isinstance(data, str) else data)

    def resize(self, cols: int, rows: int) -> None:
        """Give the terminal a new size."""
        self._ws.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    def signal(self, name: str) -> None:
        """Send `SIGINT`, `SIGTERM` or `SIGHUP` to the terminal's foreground process group."""
        self._ws.send(json.dumps({"type": "signal", "signal": name}))

    def close(self) -> None:
        """Detach; the session goes on until it exits or idles out."""
        self._ws.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncTerminalConnection:
    """An attached terminal (asyncio): `async for` output and control, send keystrokes."""

    def __init__(self, ws: AsyncClientConnection) -> None:
        self._ws = ws

    @classmethod
    async def open(cls, config: Config, url: str) -> AsyncTerminalConnection:
        """Connect to `url` with the client's key; raise the SDK's error if refused."""
        try:
            ws = await async_connect(url, **_options(config))
        except InvalidStatus as exc:
            raise refused(exc) from exc
        except OSError as exc:
            raise unreachable(url, exc) from exc
        return cls(ws)

    async def __aiter__(self) -> AsyncIterator[Frame]:
        """Frames until the server closes the connection."""
        try:
            async for message in self._ws:
                yield decode(message)
        except ConnectionClosed:
            return

    async def send(self, data: bytes | str) -> None:
        """Type into the terminal."""
        await self._ws.send(data.encode() if isinstance(data, str) else data)

    async def resize(self, cols: int, rows: int) -> None:
        """Give the terminal a new size."""
        await self._ws.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    async def signal(self, name: str) -> None:
        """Send `SIGINT`, `SIGTERM` or `SIGHUP` to the terminal's foreground process group."""
        await self._ws.send(json.dumps({"type": "signal", "signal": name}))

    async def close(self) -> None:
        """Detach; the session goes on until it exits or idles out."""
        await self._ws.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
