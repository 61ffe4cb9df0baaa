"""Terminal sessions (quilt-api §3.9): REST routes, and the `/ws/terminal/attach` WebSocket.

Attach protocol: subprotocol `terminal`; binary frames carry raw bytes both ways; text
frames carry JSON control. Client → server: `{"type":"resize","cols","rows"}`,
`{"type":"ping","ts"}`, `{"type":"signal","signal":"SIGINT"}` (SIGINT, SIGTERM, SIGHUP),
`{"type":"input","data":"…"}` (text input, for clients that cannot send binary). Server →
client: `ready` first, then the scrollback and live bytes, `pong`, `exit` {code, signal},
`error` {code, message}. A refused upgrade is an HTTP error with the JSON error body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect

from quilt.api import errors, views
from quilt.api.auth import Caller, credential, platform
from quilt.errors import BadRequest, QuiltError
from quilt.wire.common import Success
from quilt.wire.terminals import CreateSession, Resize, Session, SessionList

if TYPE_CHECKING:
    from quilt.engine.terminals import Client, Terminals
    from quilt.engine.terminals import Session as LiveSession

router = APIRouter(tags=["terminals"])

SUBPROTOCOL = "terminal"


@router.post(
    "/api/terminal/sessions", status_code=201, response_model=Session, summary="Open a terminal"
)
async def create(request: Request, body: CreateSession, caller: Caller) -> Session:
    """A shell on a new terminal in a running container; attach to it at `attach_url`."""
    session = await platform(request).terminals.create(
        caller.tenant_id,
        body.container_id,
        cols=body.cols,
        rows=body.rows,
        shell=body.shell,
        target=body.target,
    )
    return views.terminal_session(request, session)


@router.get("/api/terminal/sessions", response_model=SessionList, summary="List terminals")
async def list_sessions(request: Request, caller: Caller, target: str | None = None) -> SessionList:
    """Your sessions (`?target=container`), ended ones for a minute after they end."""
    found = platform(request).terminals.all(caller.tenant_id, target)
    return SessionList(sessions=[views.terminal_session(request, s) for s in found])


@router.get("/api/terminal/sessions/{session_id}", response_model=Session, summary="Terminal")
async def detail(request: Request, session_id: str, caller: Caller) -> Session:
    """One session: its state, size, shell pid and attached clients."""
    return views.terminal_session(
        request, platform(request).terminals.get(caller.tenant_id, session_id)
    )


@router.delete(
    "/api/terminal/sessions/{session_id}", response_model=Success, summary="Close a terminal"
)
async def delete(request: Request, session_id: str, caller: Caller) -> Success:
    """End the session: its shell gets SIGHUP, attached clients get `exit`."""
    await platform(request).terminals.delete(caller.tenant_id, session_id)
    return Success()


@router.post(
    "/api/terminal/sessions/{session_id}/resize",
    response_model=Success,
    summary="Resize a terminal",
)
async def resize(request: Request, session_id: str, body: Resize, caller: Caller) -> Success:
    """Give the terminal a new size (its programs get SIGWINCH)."""
    terminals = platform(request).terminals
    await terminals.resize(terminals.get(caller.tenant_id, session_id), body.cols, body.rows)
    return Success()


# -- the WebSocket -----------------------------------------------------------------------


async def _open(websocket: WebSocket) -> LiveSession:
    """The session to attach to: named by `session_id`, or made now from `container_id`."""
    if SUBPROTOCOL not in websocket.scope.get("subprotocols", []):
        raise BadRequest(
            "the terminal WebSocket needs the subprotocol 'terminal'",
            hint="e.g. new WebSocket(url, ['terminal'])",
        )
    p = platform(websocket)
    caller = p.api_keys.authenticate(credential(websocket))
    query = websocket.query_params
    if "session_id" in query:
        return p.terminals.get(caller.tenant_id, query["session_id"])
    if "container_id" not in query:
        raise BadRequest("give session_id (attach) or container_id (open and attach)")
    try:
        cols, rows = int(query.get("cols", "80")), int(query.get("rows", "24"))
    except ValueError as exc:
        raise BadRequest("cols and rows must be integers") from exc
    return await p.terminals.create(
        caller.tenant_id,
        query["container_id"],
        cols=cols,
        rows=rows,
        shell=query.get("shell"),
        target=query.get("target", "container"),
    )


@router.websocket(views.ATTACH_PATH)
async def attach(websocket: WebSocket) -> None:
    """Attach to a terminal session: scrollback first, then live bytes both ways."""
    terminals = platform(websocket).terminals
    try:
        session = await _open(websocket)
        client, replay = terminals.attach(session)
    except QuiltError as exc:
        await websocket.send_denial_response(errors.envelope(websocket, exc))
        return
    try:
        await websocket.accept(subprotocol=SUBPROTOCOL)
        await websocket.send_text(json.dumps({"type": "ready", **_ready(session)}))
        if replay:
            await websocket.send_bytes(replay)
        sender = asyncio.create_task(_send(websocket, client))
        try:
            await _receive(websocket, terminals, session, client)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
    except WebSocketDisconnect:
        pass
    finally:
        terminals.detach(session, client)


def _ready(session: LiveSession) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "container_id": session.container_id,
        "shell": session.shell,
        "cols": session.cols,
        "rows": session.rows,
        "pid": session.pid,
    }


async def _send(websocket: WebSocket, client: Client) -> None:
    """Forward the session's bytes and control messages until it closes this client."""
    while (message := await client.queue.get()) is not None:
        if isinstance(message, bytes):
            await websocket.send_bytes(message)
        else:
            await websocket.send_text(json.dumps(message))
    await websocket.close()


async def _receive(
    websocket: WebSocket, terminals: Terminals, session: LiveSession, client: Client
) -> None:
    """Act on what the client sends until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes"):
            await terminals.write(session, message["bytes"])
        elif message.get("text"):
            try:
                await _control(terminals, session, client, json.loads(message["text"]))
            except (QuiltError, ValueError, TypeError, KeyError) as exc:
                text = exc.message if isinstance(exc, QuiltError) else f"bad control message: {exc}"
                client.offer({"type": "error", "code": "BAD_REQUEST", "message": text})


async def _control(
    terminals: Terminals, session: LiveSession, client: Client, control: dict[str, Any]
) -> None:
    kind = control["type"]
    if kind == "resize":
        await terminals.resize(session, int(control["cols"]), int(control["rows"]))
    elif kind == "ping":
        client.offer({"type": "pong", "ts": control.get("ts")})
    elif kind == "signal":
        await terminals.signal(session, str(control["signal"]))
    elif kind == "input":
        await terminals.write(session, str(control["data"]).encode())
    else:
        raise ValueError(f"unknown type {kind!r}")
