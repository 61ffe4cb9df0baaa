"""The sans-IO core shared by `Quilt` and `AsyncQuilt`: calls, answers, retries, waiting.

A `Call` describes one request (method, path, params, body, headers, whether it may be
retried) and how its answer becomes a result. The clients only send what this module
describes and sleep for as long as it says; they make no decision of their own.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar
from urllib.parse import quote

import httpx

from quilt.sdk._exceptions import (
    ConnectionError,  # noqa: A004 - the SDK's own, a builtins.ConnectionError subclass
    QuiltError,
    WaitTimeout,
    from_operation,
    from_response,
    retry_after,
)
from quilt.sdk._models import Model, Operation, Receipt

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
M = TypeVar("M", bound=Model)

SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
# Answers worth asking again for a safe call: a proxy or the server is briefly unable.
RETRY_STATUSES: Final = frozenset({502, 503, 504})
MAX_RETRY_AFTER: Final = 60.0  # a longer wait than this is the caller's decision, not ours
BACKOFF_BASE: Final = 0.25
BACKOFF_MAX: Final = 4.0
POLL_FIRST: Final = 0.05
POLL_MAX: Final = 1.0
POLL_GROWTH: Final = 1.5
CONTAINERS: Final = "/api/containers"
# Streams wait for output as long as it takes; connecting still has a limit.
ENDLESS: Final = httpx.Timeout(60.0, read=None)


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request, described: what to send and how its successful answer becomes a `T`."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    tenant_scoped: bool = False  # needs X-Tenant-Id (snapshot and fork routes)
    timeout: httpx.Timeout | None = None  # None: the client's timeout

    @property
    def safe(self) -> bool:
        """Whether sending it twice is harmless, so a failure may be retried blindly."""
        return self.method in SAFE_METHODS


class Decoder(Protocol[T_co]):
    """Turns the lines of a streamed answer into items (None while an item is incomplete)."""

    def feed(self, line: str) -> T_co | None:
        """Take one line; return an item when one is complete."""
        ...


@dataclass(frozen=True, slots=True)
class StreamCall(Generic[T]):
    """A request whose answer is read line by line as it arrives (NDJSON, server-sent events)."""

    call: Call[None]
    decoder: Callable[[], Decoder[T]]


def segment(value: str) -> str:
    """One path segment, percent-encoded (a `/` or `?` in a name cannot escape it)."""
    return quote(value, safe="")


def container_path(container_id: str, *rest: str) -> str:
    """`/api/containers/<id>[/rest…]`, the id encoded."""
    return "/".join((CONTAINERS, segment(container_id), *rest))


def tail(path: str) -> str:
    """A wildcard path tail (a file inside a volume): each segment encoded, slashes kept."""
    return quote(path.lstrip("/"), safe="/")


def argv(command: Sequence[str]) -> list[str]:
    """A command as the argv list the server wants; a lone string is refused before sending."""
    if isinstance(command, str):
        raise TypeError("command is an argv list, not a shell string: use ['/bin/sh', '-c', '...']")
    return list(command)


def request_args(call: Call[Any], tenant_id: str | None = None) -> dict[str, Any]:
    """Keyword arguments for `httpx.Client.build_request` that send `call`."""
    headers = dict(call.headers)
    if call.tenant_scoped and tenant_id:
        headers["X-Tenant-Id"] = tenant_id
    args: dict[str, Any] = {"method": call.method, "url": call.path, "headers": headers}
    if call.params:
        args["params"] = {k: v for k, v in call.params.items() if v is not None}
    if call.json is not None:
        args["json"] = call.json
    if call.content is not None:
        args["content"] = call.content
    if call.timeout is not None:
        args["timeout"] = call.timeout
    return args


def outcome(call: Call[T], response: httpx.Response) -> T:
    """The result of a finished answer, or the error it stands for (raised)."""
    if not response.is_success:
        raise from_response(response)
    try:
        return call.parse(response)
    except (ValueError, LookupError, TypeError, AttributeError) as exc:  # not the promised shape
        raise QuiltError(
            f"unexpected answer to {call.method} {call.path}: {exc}",
            code="UNEXPECTED_RESPONSE",
            status_code=response.status_code,
            request_id=response.headers.get("x-request-id"),
            response=response,
        ) from exc


def connection_error(call: Call[Any], error: httpx.TransportError) -> ConnectionError:
    """The SDK's error for an answer that never came."""
    return ConnectionError(
        f"{call.method} {call.path}: no answer ({type(error).__name__}: {error})"
    )


# -- answers into results ------------------------------------------------------------------


def one(model: type[M]) -> Callable[[httpx.Response], M]:
    """Parse the answer as one `model`."""
    return lambda response: model.model_validate_json(response.content)


def many(model: type[M], key: str) -> Callable[[httpx.Response], list[M]]:
    """Parse `{key: [...]}` as a list of `model`."""

    def parse(response: httpx.Response) -> list[M]:
        return [model.model_validate(item) for item in _object(response)[key]]

    return parse


def inner(model: type[M], key: str) -> Callable[[httpx.Response], M]:
    """Parse `{key: {...}}` as one `model`."""
    return lambda response: model.model_validate(_object(response)[key])


def text(key: str) -> Callable[[httpx.Response], str]:
    """One string field of the answer."""
    return lambda response: str(_object(response)[key])


def mapping(key: str) -> Callable[[httpx.Response], dict[str, str]]:
    """A string-to-string map field of the answer (an environment)."""
    return lambda response: {str(k): str(v) for k, v in _object(response)[key].items()}


def raw(response: httpx.Response) -> bytes:
    """The answer's bytes as they are."""
    return response.content


def nothing(_response: httpx.Response) -> None:
    """For stream calls, whose answer is decoded line by line instead."""


def _object(response: httpx.Response) -> dict[str, Any]:
    body = json.loads(response.content)
    if not isinstance(body, dict):
        raise TypeError(f"expected a JSON object, got {type(body).__name__}")
    return body


# -- retries ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Retries:
    """Decides, after each attempt of one call, whether to try again and after how long.

    Safe calls (GET, HEAD) are retried on a transport error and on 502/503/504. Any call is
    retried on a 503 that says when to come back (`Retry-After` or `retry_after`), because
    the server did no work. A POST whose connection failed is never retried: it may have
    arrived.
    """

    call: Call[Any]
    max_retries: int
    attempt: int = 0
    jitter: Callable[[], float] = random.random

    def after_response(self, response: httpx.Response) -> float | None:
        """Seconds to wait before the next attempt, or None to keep this answer."""
        if self.attempt >= self.max_retries:
            return None
        status = response.status_code
        hint = retry_after(response) if status in RETRY_STATUSES else None
        if hint is not None and hint > MAX_RETRY_AFTER:
            return None
        if status == 503 and hint is not None:  # noqa: PLR2004 - Service Unavailable
            return self._next(hint)
        if self.call.safe and status in RETRY_STATUSES:
            return self._next(self._backoff() if hint is None else hint)
        return None

    def after_error(self, _error: httpx.TransportError) -> float | None:
        """Seconds to wait before the next attempt, or None to raise the error."""
        if self.attempt >= self.max_retries or not self.call.safe:
            return None
        return self._next(self._backoff())

    def _backoff(self) -> float:
        ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2.0**self.attempt)
        return ceiling / 2 + self.jitter() * ceiling / 2

    def _next(self, delay: float) -> float:
        self.attempt += 1
        return delay


# -- waiting for operations ------------------------------------------------------------------


def operation_id(operation: Receipt | Operation | str) -> str:
    """The id of a receipt, an operation, or an id already."""
    return operation if isinstance(operation, str) else operation.operation_id


def settle(operation: Operation) -> Operation | None:
    """The operation if it succeeded, None while it runs; raises the error if it failed."""
    if not operation.done:
        return None
    if operation.succeeded:
        return operation
    raise from_operation(operation)


@dataclass(slots=True)
class Poll:
    """The polling schedule of one `wait()`: short first, growing, never past the deadline."""

    timeout: float
    started: float
    interval: float = POLL_FIRST

    def delay(self, operation: Operation, now: float) -> float:
        """Seconds until the next look; raises `WaitTimeout` once the deadline has passed."""
        remaining = self.started + self.timeout - now
        if remaining <= 0:
            raise WaitTimeout(
                f"operation {operation.operation_id} is still {operation.status} "
                f"after {self.timeout:g} s",
                operation=operation,
            )
        delay = min(self.interval, remaining)
        self.interval = min(self.interval * POLL_GROWTH, POLL_MAX)
        return delay
