"""Async client of minit, the init inside every container (wire contract: minit/PROTOCOL.md).

Pure encoders and a frame decoder come first; `MinitClient` does the socket I/O on top of them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

from quilt.errors import HostError, ServiceUnavailable

if TYPE_CHECKING:
    import pathlib
    from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence

PROTOCOL_VERSION: Final = 1
DATA_FRAME_MAX: Final = 64 * 1024  # minit sends at most this much output in one frame
HEADER: Final = struct.Struct("<BI")
U32_MAX: Final = 0xFFFF_FFFF
U16_MAX: Final = 0xFFFF
# Payload size of each frame type: an exact size, or (for data and messages) a maximum.
EXACT_SIZES: Final = {"S": 4, "X": 9, "P": 8, "K": 4}
MAX_SIZES: Final = {"O": DATA_FRAME_MAX, "E": DATA_FRAME_MAX, "F": DATA_FRAME_MAX}
RECV_SIZE: Final = 1024 * 1024
FIRST_RECV_SIZE: Final = 64 * 1024 + HEADER.size  # grows to RECV_SIZE while reads fill it
COALESCE_MAX: Final = 1024 * 1024  # output joined into one event, at most
CONNECT_TIMEOUT: Final = 5.0  # connect and send a request
REPLY_TIMEOUT: Final = 5.0  # P, M and K are answered at once by minit itself
EXEC_GRACE: Final = 10.0  # past an exec's own timeout, minit is considered stuck


class MinitUnavailable(ServiceUnavailable):
    """minit's socket is missing, refuses connections, or does not answer in time."""


class MinitProtocolError(HostError):
    """minit sent something the wire contract does not allow."""


@dataclass(frozen=True)
class MinitInfo:
    """minit's answer to a ping."""

    protocol_version: int
    main_pid: int  # 0: no main command yet, -1: it has exited


@dataclass(frozen=True)
class ExecOutcome:
    """How a command run to completion ended, with (at most `output_limit` of) its output."""

    pid: int
    exit_code: int
    term_signal: int
    timed_out: bool
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    duration_ms: float


@dataclass(frozen=True)
class Frame:
    """One reply frame: its type letter and raw payload."""

    kind: str
    payload: bytes


@dataclass(frozen=True)
class Started:
    """The command runs as `pid` (in the container's pid namespace)."""

    pid: int


@dataclass(frozen=True)
class Output:
    """Bytes the command wrote to one of its streams."""

    stream: Literal["stdout", "stderr"]
    data: bytes


@dataclass(frozen=True)
class Exited:
    """The command ended; `exit_code` is 128 + N when signal N ended it."""

    exit_code: int
    term_signal: int
    timed_out: bool


@dataclass(frozen=True)
class Failed:
    """minit could not run the command at all (no process was made)."""

    message: str


Event: TypeAlias = Started | Output | Exited | Failed


# -- encoding --------------------------------------------------------------------------------


def _bytes(value: str | bytes) -> bytes:
    data = os.fsencode(value)
    if b"\0" in data:
        raise ValueError(f"{value!r} contains a NUL byte")
    return data


def _string(value: str | bytes) -> bytes:
    data = _bytes(value)
    return struct.pack("<I", len(data)) + data


def _list(values: Iterable[str | bytes]) -> bytes:
    items = [_string(v) for v in values]
    return struct.pack("<I", len(items)) + b"".join(items)


def _env(env: Mapping[str, str]) -> list[str]:
    for key in env:
        if not key or "=" in key:
            raise ValueError(f"invalid environment variable name {key!r}")
    return [f"{key}={value}" for key, value in env.items()]


def _command(op: bytes, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> bytes:
    if not argv:
        raise ValueError("argv must not be empty")
    return op + _list(argv) + _list(_env(env)) + _string(cwd)


def encode_ping() -> bytes:
    """A `P` request."""
    return b"P"


def encode_start_main(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> bytes:
    """An `M` request: start the main command."""
    return _command(b"M", argv, env, cwd)


def encode_exec_request(
    argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout_ms: int | None = None
) -> bytes:
    """An `X` request: run a command; `None` or 0 means no timeout."""
    timeout = timeout_ms or 0
    if not 0 <= timeout <= U32_MAX:
        raise ValueError(f"timeout_ms out of range: {timeout_ms}")
    return _command(b"X", argv, env, cwd) + struct.pack("<II", timeout, 0)


def encode_terminal_request(
    argv: Sequence[str], env: Mapping[str, str], cwd: str, cols: int, rows: int
) -> bytes:
    """A `T` request: run a program on a new terminal of `cols` x `rows`."""
    for value in (cols, rows):
        if not 0 < value <= U16_MAX:
            raise ValueError(f"terminal size out of range: {cols}x{rows}")
    return _command(b"T", argv, env, cwd) + struct.pack("<II", cols, rows)


def encode_input(data: bytes) -> bytes:
    """An `I` client frame: bytes typed into a terminal."""
    return encode_frame("I", data)


def encode_resize(cols: int, rows: int) -> bytes:
    """An `R` client frame: the terminal's new size."""
    return encode_frame("R", struct.pack("<II", cols, rows))


def encode_terminal_signal(sig: int) -> bytes:
    """A `G` client frame: a signal for the terminal's foreground process group."""
    return encode_frame("G", struct.pack("<I", sig))


def encode_signal(pid: int, sig: int) -> bytes:
    """A `K` request: send `sig` to `pid` (0: the main command)."""
    return b"K" + struct.pack("<iI", pid, sig)


def encode_frame(kind: str, payload: bytes) -> bytes:
    """A reply frame as minit sends it."""
    return HEADER.pack(ord(kind), len(payload)) + payload


# -- decoding --------------------------------------------------------------------------------


class FrameDecoder:
    """Turns the reply byte stream into frames; feed it chunks split at any boundary."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held of a frame that has not fully arrived (non-zero at EOF: cut short)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Add `data`; return the frames it completes, in order."""
        buffer: bytes | bytearray = data
        if self._buffer:
            self._buffer += data
            buffer = self._buffer
        frames: list[Frame] = []
        pos = 0
        with memoryview(buffer) as view:  # one copy per payload, not two
            while len(buffer) - pos >= HEADER.size:
                code, length = HEADER.unpack_from(buffer, pos)
                kind = chr(code)
                _check_header(kind, length)
                end = pos + HEADER.size + length
                if end > len(buffer):
                    break
                frames.append(Frame(kind, bytes(view[pos + HEADER.size : end])))
                pos = end
        if buffer is data:
            self._buffer += data[pos:]
        else:
            del self._buffer[:pos]
        return frames


def _check_header(kind: str, length: int) -> None:
    if kind in EXACT_SIZES:
        if length != EXACT_SIZES[kind]:
            raise MinitProtocolError(f"minit sent a {kind!r} frame of {length} bytes")
    elif kind in MAX_SIZES:
        if length > MAX_SIZES[kind]:
            raise MinitProtocolError(f"minit sent a {kind!r} frame of {length} bytes")
    else:
        raise MinitProtocolError(f"minit sent an unknown frame type {kind!r}")


def _unpack(fmt: str, frame: Frame, kind: str) -> tuple[int, ...]:
    if frame.kind != kind:
        raise MinitProtocolError(f"expected a {kind!r} frame from minit, got {frame.kind!r}")
    try:
        return struct.unpack(fmt, frame.payload)
    except struct.error as exc:
        raise MinitProtocolError(f"malformed {kind!r} frame from minit: {exc}") from exc


def decode_ping(frame: Frame) -> MinitInfo:
    """The payload of a `P` frame."""
    version, main_pid = _unpack("<Ii", frame, "P")
    return MinitInfo(protocol_version=version, main_pid=main_pid)


def decode_signal_reply(frame: Frame) -> int:
    """The errno of a `K` frame (0: delivered)."""
    (err,) = _unpack("<i", frame, "K")
    return err


def decode_started(frame: Frame) -> int:
    """The pid of an `S` frame."""
    (pid,) = _unpack("<I", frame, "S")
    return pid


def decode_event(frame: Frame) -> Event:
    """The exec event a frame of an `X` reply stands for."""
    match frame.kind:
        case "S":
            return Started(decode_started(frame))
        case "O" | "E":
            return Output("stdout" if frame.kind == "O" else "stderr", frame.payload)
        case "X":
            code, sig, timed_out = _unpack("<iiB", frame, "X")
            return Exited(exit_code=code, term_signal=sig, timed_out=bool(timed_out))
        case "F":
            return Failed(frame.payload.decode(errors="replace"))
        case _:
            raise MinitProtocolError(f"unexpected {frame.kind!r} frame in an exec reply")


# -- I/O -------------------------------------------------------------------------------------


class _Connection:
    """One request's connection: hands out the reply frames one by one."""

    def __init__(self, sock: socket.socket, where: str) -> None:
        self.sock = sock
        self.where = where
        self._decoder = FrameDecoder()
        self._ready: deque[Frame] = deque()
        # Small replies (most of them) are read into a small buffer: a 1 MiB one costs an
        # mmap and munmap per read. Reads that fill it make it grow.
        self._recv_size = FIRST_RECV_SIZE

    async def frame(self) -> Frame | None:
        """The next frame, or None once minit has closed the connection."""
        loop = asyncio.get_running_loop()
        while not self._ready:
            try:
                data = await loop.sock_recv(self.sock, self._recv_size)
            except OSError as exc:
                raise MinitUnavailable(f"lost minit at {self.where}: {exc}") from exc
            if not data:
                if self._decoder.pending:
                    raise MinitUnavailable(f"minit at {self.where} hung up mid-frame")
                return None
            if len(data) == self._recv_size:
                self._recv_size = min(self._recv_size * 4, RECV_SIZE)
            self._ready.extend(self._decoder.feed(data))
        return self._ready.popleft()

    def more(self, kind: str, data: bytes) -> bytes:
        """`data` joined with the frames of the same kind already received right after it."""
        if not self._ready or self._ready[0].kind != kind:
            return data
        parts = [data]
        size = len(data)
        while self._ready and self._ready[0].kind == kind and size < COALESCE_MAX:
            payload = self._ready.popleft().payload
            parts.append(payload)
            size += len(payload)
        return b"".join(parts)

    def close(self) -> None:
        """Hang up (minit kills a command whose client hangs up)."""
        self.sock.close()


class _Capture:
    """Keeps the first `limit` bytes of a stream and counts what it drops."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 0)
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = self.limit - self.size
        if len(data) > room:
            self.truncated = True
            data = data[:room]
        if data:
            self.parts.append(data)
            self.size += len(data)

    def value(self) -> bytes:
        return b"".join(self.parts)


def _first_event(frame: Frame | None, where: pathlib.Path) -> Started:
    """A terminal's first frame: S, or why there is no terminal."""
    if frame is None:
        raise MinitUnavailable(f"minit at {where} hung up")
    event = decode_event(frame)
    if isinstance(event, Failed):
        raise MinitUnavailable(event.message)
    if not isinstance(event, Started):
        raise MinitProtocolError(f"expected an 'S' frame, got {frame.kind!r}")
    return event


class Terminal:
    """A program on a terminal inside the container: its output events, and ways to steer it.

    `events` yields Output (stdout only: a terminal has one stream) and finally Exited.
    Closing hangs up: minit sends the session SIGHUP, then SIGKILL.
    """

    def __init__(self, conn: _Connection, pid: int) -> None:
        self._conn = conn
        self.pid = pid
        self._lock = asyncio.Lock()

    async def _send(self, data: bytes) -> None:
        async with self._lock:  # frames from several writers must not interleave
            try:
                await asyncio.get_running_loop().sock_sendall(self._conn.sock, data)
            except OSError as exc:
                raise MinitUnavailable(f"lost the terminal at {self._conn.where}: {exc}") from exc

    async def write(self, data: bytes) -> None:
        """Type `data` into the terminal."""
        for start in range(0, len(data), DATA_FRAME_MAX):
            await self._send(encode_input(data[start : start + DATA_FRAME_MAX]))

    async def resize(self, cols: int, rows: int) -> None:
        """Give the terminal a new size (its programs get SIGWINCH)."""
        await self._send(encode_resize(cols, rows))

    async def signal(self, sig: int) -> None:
        """Signal the terminal's foreground process group (what Ctrl-C does, and more)."""
        await self._send(encode_terminal_signal(sig))

    async def events(self) -> AsyncGenerator[Event, None]:
        """Output as the terminal prints it, then Exited."""
        while (frame := await self._conn.frame()) is not None:
            event = decode_event(frame)
            yield event
            if isinstance(event, Exited | Failed):
                return
        raise MinitUnavailable(f"minit at {self._conn.where} hung up before the terminal ended")

    def close(self) -> None:
        """Hang up."""
        self._conn.close()


def _connect_now(sock: socket.socket, where: str, request: bytes) -> tuple[bool, bytes]:
    """Connect and send without waiting: whether it connected, and what is left to send."""
    try:
        sock.connect(where)
    except (BlockingIOError, InterruptedError):
        return False, request
    try:
        sent = sock.send(request)
    except (BlockingIOError, InterruptedError):
        return True, request
    return True, request[sent:]


class MinitClient:
    """Talks to one container's minit over its host-side socket, one connection a request."""

    def __init__(self, socket_path: pathlib.Path) -> None:
        self.socket_path = socket_path

    async def _open(self, request: bytes, timeout: float) -> _Connection:
        where = str(self.socket_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        opened = False
        try:
            # A unix socket connects at once unless minit's backlog is full, and a request
            # usually fits the socket's buffer: then nothing needs to wait on the loop.
            connected, rest = _connect_now(sock, where, request)
            if rest:
                async with asyncio.timeout(timeout):
                    loop = asyncio.get_running_loop()
                    if not connected:
                        await loop.sock_connect(sock, where)
                    await loop.sock_sendall(sock, rest)
            opened = True
        except OSError as exc:
            raise MinitUnavailable(f"cannot reach minit at {where}: {exc}") from exc
        except TimeoutError as exc:
            raise MinitUnavailable(f"minit at {where} did not accept within {timeout}s") from exc
        finally:
            if not opened:
                sock.close()
        return _Connection(sock, where)

    async def _ask(self, request: bytes, timeout: float) -> Frame:
        """Send a request minit answers with one frame; an `F` frame becomes a HostError."""
        try:
            async with asyncio.timeout(timeout):
                conn = await self._open(request, timeout)
                try:
                    frame = await conn.frame()
                finally:
                    conn.close()
        except TimeoutError as exc:
            raise MinitUnavailable(
                f"minit at {self.socket_path} did not answer within {timeout}s"
            ) from exc
        if frame is None:
            raise MinitUnavailable(f"minit at {self.socket_path} hung up without answering")
        if frame.kind == "F":
            raise HostError(f"minit refused the request: {frame.payload.decode(errors='replace')}")
        return frame

    async def ping(self, timeout: float = 1.0) -> MinitInfo:
        """The protocol version and main command pid; proves minit is serving."""
        return decode_ping(await self._ask(encode_ping(), timeout))

    async def start_main(self, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> int:
        """Start the main command; return its pid. HostError if it cannot start."""
        frame = await self._ask(encode_start_main(argv, env, cwd), REPLY_TIMEOUT)
        return decode_started(frame)

    async def signal(self, pid: int, sig: int) -> int:
        """Send `sig` to `pid` (0: the main command); return the errno (0: delivered)."""
        return decode_signal_reply(await self._ask(encode_signal(pid, sig), REPLY_TIMEOUT))

    async def exec(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        timeout_ms: int | None,
        output_limit: int,
    ) -> ExecOutcome:
        """Run a command to completion, keeping at most `output_limit` bytes of each stream.

        Output past the limit is still read (and dropped), so the command never blocks on a
        full pipe.
        """
        started = time.perf_counter()
        request = encode_exec_request(argv, env, cwd, timeout_ms)
        conn = await self._open(request, CONNECT_TIMEOUT)
        streams = {"stdout": _Capture(output_limit), "stderr": _Capture(output_limit)}
        pid = 0
        budget = timeout_ms / 1000 + EXEC_GRACE if timeout_ms else None
        try:
            async with asyncio.timeout(budget):
                while (frame := await conn.frame()) is not None:
                    match decode_event(frame):
                        case Started(pid=pid):
                            pass
                        case Output(stream=stream, data=data):
                            streams[stream].add(data)
                        case Failed(message=message):
                            raise HostError(f"minit cannot run {argv[0]!r}: {message}")
                        case Exited(exit_code=code, term_signal=sig, timed_out=timed_out):
                            out, err = streams["stdout"], streams["stderr"]
                            return ExecOutcome(
                                pid=pid,
                                exit_code=code,
                                term_signal=sig,
                                timed_out=timed_out,
                                stdout=out.value(),
                                stderr=err.value(),
                                stdout_truncated=out.truncated,
                                stderr_truncated=err.truncated,
                                duration_ms=(time.perf_counter() - started) * 1000,
                            )
        except TimeoutError as exc:
            raise MinitUnavailable(
                f"minit at {self.socket_path} did not end {argv[0]!r} within {budget}s"
            ) from exc
        finally:
            conn.close()
        raise MinitUnavailable(f"minit at {self.socket_path} hung up before {argv[0]!r} ended")

    async def terminal(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, *, cols: int, rows: int
    ) -> Terminal:
        """Start a program on a new terminal; Failed from minit is a MinitUnavailable."""
        conn = await self._open(
            encode_terminal_request(argv, env, cwd, cols, rows), CONNECT_TIMEOUT
        )
        try:
            event = _first_event(await conn.frame(), self.socket_path)
        except BaseException:
            conn.close()
            raise
        return Terminal(conn, event.pid)

    async def stream(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        timeout_ms: int | None,
    ) -> AsyncGenerator[Event, None]:
        """Run a command and yield its events as they happen, ending with Exited or Failed.

        Output frames that have already arrived together are joined (up to `COALESCE_MAX`
        bytes of one stream), so a fast writer costs one event per read, not per frame.
        Closing the iterator early hangs up, and minit then kills the command's process group.
        """
        conn = await self._open(encode_exec_request(argv, env, cwd, timeout_ms), CONNECT_TIMEOUT)
        try:
            while (frame := await conn.frame()) is not None:
                event = decode_event(frame)
                if isinstance(event, Output):
                    event = Output(event.stream, conn.more(frame.kind, event.data))
                yield event
                if isinstance(event, Exited | Failed):
                    return
            raise MinitUnavailable(f"minit at {self.socket_path} hung up before {argv[0]!r} ended")
        finally:
            conn.close()
