"""Terminal sessions: a shell on a terminal inside a container, owned by the server.

The server holds each session's terminal and reads it all the time into a bounded
scrollback, whether or not anyone is attached. Clients (WebSockets) attach and detach
freely: each gets the scrollback first, then the live bytes, and several may watch one
session at once. A session ends when its shell exits, when it is deleted, when nobody has
been attached for the idle timeout, or at its TTL; the reaper enforces the last two.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from quilt import logs
from quilt.domain import terminals as rules
from quilt.domain.ids import SessionId, TenantId, new_session_id
from quilt.domain.records import now
from quilt.domain.terminals import ENDED, SessionState
from quilt.drivers.runtime.minit import Exited, MinitUnavailable, Output
from quilt.errors import BadRequest, LimitReached, NotFound

if TYPE_CHECKING:
    from quilt.drivers.runtime.minit import Terminal
    from quilt.engine.containers import Containers
    from quilt.engine.tasks import Tasks
    from quilt.settings import Settings

log = logs.get(__name__)

CLIENT_BACKLOG: Final = 1024  # messages a client may fall behind before it is dropped
REAP_EVERY: Final = 1.0
KEEP_ENDED: Final = 60.0  # seconds an ended session stays visible (its exit code readable)
TERM: Final = "xterm-256color"

Message = bytes | dict[str, Any] | None  # bytes to show, a control message, or None: closed


@dataclass(eq=False)
class Client:
    """One attached viewer: what it has yet to be sent."""

    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(CLIENT_BACKLOG))

    def offer(self, message: Message) -> bool:
        """Queue a message; False if the client is too far behind (it is then closed)."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait({"type": "error", "code": "TOO_SLOW", "message": "fell behind"})
            self.queue.put_nowait(None)
            return False
        return True


@dataclass(eq=False)
class Session:
    """One terminal session and everything attached to it."""

    session_id: SessionId
    tenant_id: TenantId
    container_id: str
    target: str
    shell: str
    cols: int
    rows: int
    pid: int
    created_at: datetime
    expires_at: datetime
    idle_timeout: float
    terminal: Terminal
    scrollback_limit: int
    state: SessionState = SessionState.READY
    exit_code: int | None = None
    exit_signal: int | None = None
    ended_at: float | None = None
    quiet_since: float = field(default_factory=time.monotonic)
    scrollback: bytearray = field(default_factory=bytearray)
    clients: set[Client] = field(default_factory=set)
    pump: asyncio.Task[None] | None = None

    def record(self, data: bytes) -> None:
        """Keep the newest `scrollback_limit` bytes of output."""
        self.scrollback += data
        excess = len(self.scrollback) - self.scrollback_limit
        if excess > 0:
            del self.scrollback[:excess]

    def broadcast(self, message: Message) -> None:
        """Send to every attached client; clients too far behind are dropped."""
        for client in list(self.clients):
            if not client.offer(message):
                self.clients.discard(client)


class Terminals:
    """The terminal concern."""

    def __init__(self, settings: Settings, containers: Containers, tasks: Tasks) -> None:
        self.settings = settings
        self.containers = containers
        self.tasks = tasks
        self.sessions: dict[SessionId, Session] = {}

    # -- reading --------------------------------------------------------------------------

    def get(self, tenant_id: TenantId, session_id: str) -> Session:
        """One of the tenant's sessions."""
        session = self.sessions.get(SessionId(session_id))
        if session is None or session.tenant_id != tenant_id:
            raise NotFound(f"terminal session {session_id} does not exist")
        return session

    def all(self, tenant_id: TenantId, target: str | None) -> list[Session]:
        """The tenant's sessions (of one target if given), oldest first."""
        return [
            s
            for s in self.sessions.values()
            if s.tenant_id == tenant_id and (target is None or s.target == target)
        ]

    # -- lifecycle ------------------------------------------------------------------------

    async def create(
        self,
        tenant_id: TenantId,
        container_id: str,
        *,
        cols: int,
        rows: int,
        shell: str | None,
        target: str,
    ) -> Session:
        """Start a shell on a new terminal in the tenant's running container."""
        rules.check_target(target)
        cols, rows = rules.check_size(cols, rows)
        record = self.containers.running(tenant_id, container_id, "open a terminal in")
        program = rules.check_shell(shell or self._default_shell(record.image))
        live = [
            s for s in self.sessions.values() if s.tenant_id == tenant_id and s.state not in ENDED
        ]
        cap = self.settings.terminal_sessions_per_tenant
        if len(live) >= cap:
            raise LimitReached(
                f"your tenant already has {cap} open terminal sessions",
                details={"limit": cap},
                hint="delete sessions you no longer use (DELETE /api/terminal/sessions/<id>)",
            )
        node = self.containers.node
        env = record.environment | {"TERM": TERM}
        cwd = record.working_directory
        found = await node.exec(
            record.container_id,
            ["/bin/sh", "-c", 'command -v "$0" >/dev/null', program],
            env,
            "/",
            timeout_ms=5000,
            output_limit=1024,
        )
        if found.exit_code != 0:
            raise BadRequest(
                f"shell {program!r} does not exist in container {container_id}",
                details={"received": program},
                hint="try /bin/sh",
            )
        terminal = await node.terminal(
            record.container_id, [program], env, cwd, cols=cols, rows=rows
        )
        moment = now()
        session = Session(
            session_id=new_session_id(),
            tenant_id=tenant_id,
            container_id=record.container_id,
            target=target,
            shell=program,
            cols=cols,
            rows=rows,
            pid=terminal.pid,
            created_at=moment,
            expires_at=moment + timedelta(seconds=self.settings.terminal_ttl_seconds),
            idle_timeout=self.settings.terminal_idle_seconds,
            terminal=terminal,
            scrollback_limit=self.settings.terminal_scrollback_bytes,
        )
        self.sessions[session.session_id] = session
        session.pump = self.tasks.spawn(self._pump(session), name=f"terminal {session.session_id}")
        log.info("terminal.created", session_id=session.session_id, container_id=container_id)
        return session

    @staticmethod
    def _default_shell(image: str) -> str:
        return "/bin/sh" if image == "busybox" else "/bin/bash"

    async def _pump(self, session: Session) -> None:
        """Read the terminal until it ends: into the scrollback and out to every client.

        The pump alone closes the terminal, once it no longer reads it: closing a socket
        another task still waits on would leave the event loop watching a reused fd number.
        """
        try:
            async for event in session.terminal.events():
                if isinstance(event, Output):
                    session.record(event.data)
                    session.broadcast(event.data)
                elif isinstance(event, Exited):
                    session.exit_code = event.exit_code
                    session.exit_signal = event.term_signal or None
            self._end(session, SessionState.TERMINATED)
        except MinitUnavailable as exc:
            log.info("terminal.lost", session_id=session.session_id, reason=str(exc))
            self._end(session, SessionState.ERROR, str(exc))
        finally:
            session.terminal.close()  # a hang-up, if the shell still runs

    def _end(self, session: Session, state: SessionState, reason: str | None = None) -> None:
        """Stop the pump (which hangs the terminal up) and tell every client."""
        if session.state in ENDED:
            return
        session.state = state
        session.ended_at = time.monotonic()
        if session.pump is not None and session.pump is not asyncio.current_task():
            session.pump.cancel()
        if state is SessionState.ERROR:
            session.broadcast({"type": "error", "code": "TERMINAL_LOST", "message": reason or ""})
        session.broadcast(
            {"type": "exit", "code": session.exit_code, "signal": session.exit_signal}
        )
        session.broadcast(None)
        session.clients.clear()

    async def delete(self, tenant_id: TenantId, session_id: str) -> Session:
        """End the session (its shell gets SIGHUP) and forget it."""
        session = self.get(tenant_id, session_id)
        self._end(session, SessionState.TERMINATED)
        self.sessions.pop(session.session_id, None)
        return session

    async def resize(self, session: Session, cols: int, rows: int) -> None:
        """Give the session's terminal a new size."""
        session.cols, session.rows = rules.check_size(cols, rows)
        if session.state not in ENDED:
            with contextlib.suppress(MinitUnavailable):
                await session.terminal.resize(cols, rows)

    async def write(self, session: Session, data: bytes) -> None:
        """Type `data` into the session's terminal (dropped if the session has ended)."""
        if session.state not in ENDED:
            with contextlib.suppress(MinitUnavailable):
                await session.terminal.write(data)

    async def signal(self, session: Session, name: str) -> None:
        """Send SIGINT, SIGTERM or SIGHUP to the terminal's foreground job."""
        sig = rules.parse_signal(name)
        if session.state not in ENDED:
            with contextlib.suppress(MinitUnavailable):
                await session.terminal.signal(sig)

    # -- clients --------------------------------------------------------------------------

    def attach(self, session: Session) -> tuple[Client, bytes]:
        """A new client of the session, and the scrollback it is to be shown first."""
        if session.state in ENDED:
            raise BadRequest(
                f"terminal session {session.session_id} has ended",
                details={"state": session.state.value, "exit_code": str(session.exit_code)},
            )
        client = Client()
        session.clients.add(client)
        session.state = SessionState.ACTIVE
        return client, bytes(session.scrollback)

    def detach(self, session: Session, client: Client) -> None:
        """A client left; with nobody left, the idle timeout starts counting."""
        session.clients.discard(client)
        if not session.clients and session.state is SessionState.ACTIVE:
            session.state = SessionState.IDLE
            session.quiet_since = time.monotonic()

    # -- upkeep ---------------------------------------------------------------------------

    def reap(self) -> list[SessionId]:
        """End idle and expired sessions; forget ended ones after a while. Returns the ended."""
        ended = []
        moment, mono = now(), time.monotonic()
        for session in list(self.sessions.values()):
            if session.state in ENDED:
                if session.ended_at is not None and mono - session.ended_at > KEEP_ENDED:
                    self.sessions.pop(session.session_id, None)
                continue
            unattended = session.state in (SessionState.READY, SessionState.IDLE)
            if moment >= session.expires_at or (
                unattended and mono - session.quiet_since >= session.idle_timeout
            ):
                self._end(session, SessionState.TERMINATED)
                ended.append(session.session_id)
        return ended

    async def run_reaper(self) -> None:
        """Reap once a second, for as long as the server runs."""
        while True:
            await asyncio.sleep(REAP_EVERY)
            self.reap()

    def close(self) -> None:
        """End every session (the server is stopping; shells get SIGHUP)."""
        for session in list(self.sessions.values()):
            self._end(session, SessionState.TERMINATED)
