"""`AsyncQuilt`, the async client: `_client` with `await`, on an `httpx.AsyncClient`.

It decides nothing: retries, waiting, parsing and errors are the core's. Sleeps go through
anyio, so it runs under asyncio and trio alike.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio
import httpx

from quilt import __version__
from quilt.sdk import _core as core
from quilt.sdk._account_calls import (
    SystemCalls,
)
from quilt.sdk._async_resources import (
    AsyncActivity,
    AsyncApiKeys,
    AsyncCleanup,
    AsyncContainers,
    AsyncEvents,
    AsyncForks,
    AsyncGuides,
    AsyncNetwork,
    AsyncNotifications,
    AsyncOperations,
    AsyncServices,
    AsyncSnapshots,
    AsyncSystem,
    AsyncTerminals,
    AsyncVolumes,
)
from quilt.sdk._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Config, configure
from quilt.sdk._exceptions import QuiltError, from_response

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping
    from types import TracebackType

    from quilt.sdk._core import Call, Decoder, StreamCall

T = TypeVar("T")


class AsyncWire:
    """Sends calls over one `httpx.AsyncClient`, retrying as `core.Retries` decides."""

    def __init__(self, http: httpx.AsyncClient, config: Config) -> None:
        self.http = http
        self.config = config
        self.tenant_id = config.tenant_id

    async def send(self, call: Call[T]) -> T:
        """Send `call` (again, while the core says so) and return its result or raise."""
        request = self.http.build_request(**core.request_args(call, await self._tenant(call)))
        retries = core.Retries(call, self.config.max_retries)
        while True:
            try:
                response = await self.http.send(request)
            except httpx.TransportError as exc:
                delay = retries.after_error(exc)
                if delay is None:
                    raise core.connection_error(call, exc) from exc
            else:
                delay = retries.after_response(response)
                if delay is None:
                    return core.outcome(call, response)
            await anyio.sleep(delay)

    @contextlib.asynccontextmanager
    async def stream(self, streaming: StreamCall[T]) -> AsyncIterator[AsyncIterator[T]]:
        """Open a streamed answer; its items arrive while the block runs, and it closes after."""
        call = streaming.call
        request = self.http.build_request(**core.request_args(call, await self._tenant(call)))
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise core.connection_error(call, exc) from exc
        try:
            if not response.is_success:
                await response.aread()
                raise from_response(response)
            yield _items(call, response, streaming.decoder())
        finally:
            await response.aclose()

    async def _tenant(self, call: Call[Any]) -> str | None:
        """The tenant id for X-Tenant-Id, learnt from the server once if not configured."""
        if not call.tenant_scoped or self.tenant_id:
            return self.tenant_id
        info = await self.send(SystemCalls.info())
        if not info.tenant_id:
            raise QuiltError("the server did not say which tenant this key belongs to")
        self.tenant_id = info.tenant_id
        return self.tenant_id


async def _items(
    call: Call[Any], response: httpx.Response, decoder: Decoder[T]
) -> AsyncIterator[T]:
    try:
        async for line in response.aiter_lines():
            if (item := decoder.feed(line)) is not None:
                yield item
    except httpx.TransportError as exc:
        raise core.connection_error(call, exc) from exc


class AsyncQuilt:
    """An async client of one Quilt server; the same collections as `Quilt`, awaited.

    Configured by arguments, else `QUILT_BASE_URL` (or `QUILT_URL`), `QUILT_API_KEY` and
    `QUILT_TENANT_ID`, else `http://127.0.0.1:8787`. `transport=` takes any async httpx
    transport (`httpx.ASGITransport(app=...)` serves an app in process). Use it with
    `async with`, or call `aclose()`.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        tenant_id: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = configure(
            base_url=base_url,
            api_key=api_key,
            tenant_id=tenant_id,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
        )
        http = httpx.AsyncClient(
            base_url=self.config.base_url,
            headers=self.config.default_headers(__version__),
            timeout=self.config.timeout,
            transport=transport,
        )
        wire = AsyncWire(http, self.config)
        self._wire = wire
        self.containers = AsyncContainers(wire)
        self.operations = AsyncOperations(wire)
        self.snapshots = AsyncSnapshots(wire)
        self.forks = AsyncForks(wire)
        self.volumes = AsyncVolumes(wire)
        self.network = AsyncNetwork(wire)
        self.services = AsyncServices(wire)
        self.terminals = AsyncTerminals(wire)
        self.events = AsyncEvents(wire)
        self.activity = AsyncActivity(wire)
        self.notifications = AsyncNotifications(wire)
        self.cleanup = AsyncCleanup(wire)
        self.api_keys = AsyncApiKeys(wire)
        self.system = AsyncSystem(wire)
        self.guides = AsyncGuides(wire)

    @property
    def base_url(self) -> str:
        """The server this client talks to."""
        return self.config.base_url

    @property
    def is_closed(self) -> bool:
        """Whether `aclose()` has run."""
        return self._wire.http.is_closed

    async def aclose(self) -> None:
        """Close the connections."""
        await self._wire.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncQuilt(base_url={self.base_url!r})"
