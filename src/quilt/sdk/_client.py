"""`Quilt`, the blocking client: a thin shell that sends what `_core` and `_calls` describe.

It decides nothing: retries, waiting, parsing and errors are the core's. It only sends with
an `httpx.Client` and sleeps for as long as the core says.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx

from quilt import __version__
from quilt.sdk import _core as core
from quilt.sdk._account_calls import (
    SystemCalls,
)
from quilt.sdk._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Config, configure
from quilt.sdk._exceptions import QuiltError, from_response
from quilt.sdk._resources import (
    Activity,
    ApiKeys,
    Cleanup,
    Containers,
    Events,
    Forks,
    Guides,
    Network,
    Notifications,
    Operations,
    Services,
    Snapshots,
    System,
    Terminals,
    Volumes,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from types import TracebackType

    from quilt.sdk._core import Call, Decoder, StreamCall

T = TypeVar("T")


class Wire:
    """Sends calls over one `httpx.Client`, retrying as `core.Retries` decides."""

    def __init__(self, http: httpx.Client, config: Config) -> None:
        self.http = http
        self.config = config
        self.tenant_id = config.tenant_id

    def send(self, call: Call[T]) -> T:
        """Send `call` (again, while the core says so) and return its result or raise."""
        request = self.http.build_request(**core.request_args(call, self._tenant(call)))
        retries = core.Retries(call, self.config.max_retries)
        while True:
            try:
                response = self.http.send(request)
            except httpx.TransportError as exc:
                delay = retries.after_error(exc)
                if delay is None:
                    raise core.connection_error(call, exc) from exc
            else:
                delay = retries.after_response(response)
                if delay is None:
                    return core.outcome(call, response)
            time.sleep(delay)

    @contextlib.contextmanager
    def stream(self, streaming: StreamCall[T]) -> Iterator[Iterator[T]]:
        """Open a streamed answer; its items arrive while the block runs, and it closes after."""
        call = streaming.call
        request = self.http.build_request(**core.request_args(call, self._tenant(call)))
        try:
            response = self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise core.connection_error(call, exc) from exc
        try:
            if not response.is_success:
                response.read()
                raise from_response(response)
            yield _items(call, response, streaming.decoder())
        finally:
            response.close()

    def _tenant(self, call: Call[Any]) -> str | None:
        """The tenant id for X-Tenant-Id, learnt from the server once if not configured."""
        if not call.tenant_scoped or self.tenant_id:
            return self.tenant_id
        info = self.send(SystemCalls.info())
        if not info.tenant_id:
            raise QuiltError("the server did not say which tenant this key belongs to")
        self.tenant_id = info.tenant_id
        return self.tenant_id


def _items(call: Call[Any], response: httpx.Response, decoder: Decoder[T]) -> Iterator[T]:
    try:
        for line in response.iter_lines():
            if (item := decoder.feed(line)) is not None:
                yield item
    except httpx.TransportError as exc:
        raise core.connection_error(call, exc) from exc


class Quilt:
    """A blocking client of one Quilt server.

    Configured by arguments, else `QUILT_BASE_URL` (or `QUILT_URL`), `QUILT_API_KEY` and
    `QUILT_TENANT_ID`, else `http://127.0.0.1:8787`. `transport=` takes any httpx transport
    (`httpx.MockTransport` in tests). Use it as a context manager, or call `close()`.
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = configure(
            base_url=base_url,
            api_key=api_key,
            tenant_id=tenant_id,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
        )
        http = httpx.Client(
            base_url=self.config.base_url,
            headers=self.config.default_headers(__version__),
            timeout=self.config.timeout,
            transport=transport,
        )
        wire = Wire(http, self.config)
        self._wire = wire
        self.containers = Containers(wire)
        self.operations = Operations(wire)
        self.snapshots = Snapshots(wire)
        self.forks = Forks(wire)
        self.volumes = Volumes(wire)
        self.network = Network(wire)
        self.services = Services(wire)
        self.terminals = Terminals(wire)
        self.events = Events(wire)
        self.activity = Activity(wire)
        self.notifications = Notifications(wire)
        self.cleanup = Cleanup(wire)
        self.api_keys = ApiKeys(wire)
        self.system = System(wire)
        self.guides = Guides(wire)

    @property
    def base_url(self) -> str:
        """The server this client talks to."""
        return self.config.base_url

    @property
    def is_closed(self) -> bool:
        """Whether `close()` has run."""
        return self._wire.http.is_closed

    def close(self) -> None:
        """Close the connections."""
        self._wire.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Quilt(base_url={self.base_url!r})"
