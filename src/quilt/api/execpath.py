"""A pure-ASGI path for `POST /api/containers/<id>/exec`, the route agents call in a loop.

It answers the common case (a valid key, a JSON body the route's model accepts) without
FastAPI's routing, dependency solving and body parsing, which cost more than the exec itself.
Anything else goes on to the route with the body already read, so every other answer,
error or not, is still the route's own. No business rules here: both share `execute`.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

from pydantic import ValidationError
from starlette.requests import HTTPConnection

from quilt.api.auth import credential, platform
from quilt.api.errors import failure
from quilt.api.exec import execute
from quilt.errors import QuiltError
from quilt.wire.exec import ExecRequest

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX: Final = "/api/containers/"
SUFFIX: Final = "/exec"
BODY_MAX: Final = 1024 * 1024  # a larger request body is left to the route
JSON: Final = b"application/json"


def container_id(scope: Scope) -> str | None:
    """The `<id>` of a `POST /api/containers/<id>/exec` request, else None."""
    if scope["type"] != "http":
        return None  # lifespan and websocket scopes have no method
    path: str = scope["path"]
    if (
        scope["method"] != "POST"
        or scope.get("root_path")
        or not path.startswith(PREFIX)
        or not path.endswith(SUFFIX)
    ):
        return None
    found = path[len(PREFIX) : -len(SUFFIX)]
    return found if found and "/" not in found else None  # as the route's `{container_id}`


def is_json(scope: Scope) -> bool:
    """Whether the request says its body is JSON (`application/json`, parameters aside)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"content-type":
            return value.partition(b";")[0].strip().lower() == JSON
    return False


async def read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages read, and the whole body (None if it is too large or never came)."""
    messages: list[Message] = []
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk: bytes = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        if size > BODY_MAX:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(parts)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that hands out `messages` again before anything new."""
    pending = deque(messages)

    async def replayed() -> Message:
        return pending.popleft() if pending else await receive()

    return replayed


class ExecPath:
    """ASGI middleware: answers a well-formed exec itself; passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        target = container_id(scope)
        if target is None or not is_json(scope):
            await self.app(scope, receive, send)
            return
        messages, raw = await read_body(receive)
        body = _parse(raw)
        connection = HTTPConnection(scope)
        p = platform(connection)
        try:
            caller = p.api_keys.authenticate(credential(connection))
        except QuiltError:
            body = None
        if body is None:  # the route gives the answer it always gave
            await self.app(scope, replay(messages, receive), send)
            return
        try:
            content = await execute(p, caller.tenant_id, target, body)
        except QuiltError as exc:
            await failure(connection, exc)(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(content)).encode()),
                    (b"content-type", JSON),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _parse(raw: bytes | None) -> ExecRequest | None:
    if raw is None:
        return None
    try:
        return ExecRequest.model_validate_json(raw)
    except ValidationError:
        return None
