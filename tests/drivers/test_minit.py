"""minit on the host, driven through MinitClient: exec, main command, logs, signals, exit.

minit runs as an ordinary child of the test (a child subreaper, not PID 1), with its fds laid
out as minit/PROTOCOL.md says. Each test kills minit and everything under it when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from quilt.drivers.runtime import console
from quilt.drivers.runtime.minit import (
    Exited,
    Frame,
    FrameDecoder,
    MinitClient,
    MinitInfo,
    MinitUnavailable,
    Output,
    Started,
    Terminal,
    encode_frame,
)
from quilt.errors import HostError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from quilt.drivers.runtime.minit import ExecOutcome

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
# Every process these tests start carries the tag, so teardown can find the ones that
# outlive their minit (on the host no kernel ends them when minit exits, as it would in a
# container).
TAG = ("QUILT_MINIT_TEST", secrets.token_hex(8))
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", TAG[0]: TAG[1]}
LIMIT = 1 << 20
RECORD = re.compile(rb"(\d{13}) ([oe]) (\d+):")


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def minit_binary() -> Path:
    """The minit binary built from this checkout, once a session."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "minit")], check=True)
    return ROOT / "minit" / "minit"


def tree(root: int) -> set[int]:
    """`root` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


def tagged() -> set[int]:
    """Processes whose environment carries this session's tag."""
    marker = f"{TAG[0]}={TAG[1]}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.add(int(entry.name))
    return found - {os.getpid()}


def kill_quietly(pid: int, sig: int) -> None:
    """Signal a process that may already be gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


async def readable(fd: int, timeout: float = 10.0) -> None:
    """Return once `fd` is readable (a pidfd: once its process has exited)."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    loop.add_reader(fd, ready.set)
    try:
        await asyncio.wait_for(ready.wait(), timeout)
    finally:
        loop.remove_reader(fd)


async def gone(pid: int, timeout: float = 5.0) -> None:
    """Return once process `pid` has exited; fail the test if it outlives `timeout`."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        await readable(fd, timeout)
    finally:
        os.close(fd)


class Minit:
    """One minit started on the host with the protocol's fd layout."""

    def __init__(self, binary: Path, where: Path, args: Sequence[str], env: dict[str, str]) -> None:
        self.socket_path = where / "minit.sock"
        self.log_path = where / "console.log"
        self.status_path = where / "status"
        self.reaped = False
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        fds: list[int] = []
        try:
            listener.bind(str(self.socket_path))
            listener.listen(128)
            fds.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            fds.append(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
            fds.append(os.open(self.status_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            devnull, log, status = fds
            self.pid = os.posix_spawn(
                binary,
                [str(binary), *args],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                    (os.POSIX_SPAWN_DUP2, listener.fileno(), 3),
                    (os.POSIX_SPAWN_DUP2, status, 4),
                ],
            )
        finally:
            listener.close()
            for fd in fds:
                os.close(fd)
        self.client = MinitClient(self.socket_path)

    async def exec(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: str = "/",
        *,
        timeout_ms: int | None = None,
        output_limit: int = LIMIT,
    ) -> ExecOutcome:
        """Run a command through the client."""
        return await self.client.exec(
            argv, ENV if env is None else env, cwd, timeout_ms=timeout_ms, output_limit=output_limit
        )

    async def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for minit to exit on its own; its exit code."""
        fd = os.pidfd_open(self.pid)
        try:
            await readable(fd, timeout)
        finally:
            os.close(fd)
        _, status = os.waitpid(self.pid, os.WNOHANG)  # noqa: ASYNC222 - it has exited already
        self.reaped = True
        return os.waitstatus_to_exitcode(status)

    def records(self) -> list[tuple[str, bytes]]:
        """The log records, each checked against the exact `<ms> <o|e> <len>:<bytes>` format."""
        raw = self.log_path.read_bytes()
        found: list[tuple[str, bytes]] = []
        pos = 0
        while pos < len(raw):
            match = RECORD.match(raw, pos)
            assert match, f"not a record at byte {pos}: {raw[pos : pos + 40]!r}"
            end = match.end() + int(match.group(3))
            assert raw[end : end + 1] == b"\n", "a record ends with a newline"
            found.append((match.group(2).decode(), raw[match.end() : end]))
            pos = end + 1
        parsed = [("o" if r.stream == "stdout" else "e", r.data) for r in console.parse(raw)]
        assert parsed == found, "the console reader sees the same records"
        return found

    def stop(self) -> None:
        """Kill minit and everything under it, reap minit, then kill any tagged leftover."""
        if not self.reaped:
            # Freeze the tree first so nothing forks away between listing and killing it.
            frozen: set[int] = set()
            while pids := tree(self.pid) - frozen:
                for pid in pids:
                    kill_quietly(pid, signal.SIGSTOP)
                frozen |= pids
            for pid in frozen:
                kill_quietly(pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.reaped = True
        for pid in tagged():
            kill_quietly(pid, signal.SIGKILL)


@pytest.fixture
def spawn_minit(minit_binary: Path, tmp_path: Path) -> Iterator[Callable[..., Minit]]:
    """Start minits (with extra arguments or environment); all are killed after the test."""
    started: list[Minit] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Minit:
        where = tmp_path / f"minit{len(started)}"
        where.mkdir()
        started.append(Minit(minit_binary, where, args, ENV if env is None else env))
        return started[-1]

    yield start
    for m in started:
        m.stop()


@pytest.fixture
def minit(spawn_minit: Callable[..., Minit]) -> Minit:
    """An idle minit (no main command)."""
    return spawn_minit()


async def exchange(path: Path, request: bytes) -> list[Frame]:
    """Send raw request bytes, half-close, and decode every frame until minit hangs up."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK) as sock:
        await loop.sock_connect(sock, str(path))
        await loop.sock_sendall(sock, request)
        sock.shutdown(socket.SHUT_WR)
        decoder, frames = FrameDecoder(), list[Frame]()
        async with asyncio.timeout(10):
            while data := await loop.sock_recv(sock, 65536):
                frames += decoder.feed(data)
        assert decoder.pending == 0
        return frames


# -- exec ------------------------------------------------------------------------------------


async def test_ping_idle(minit: Minit) -> None:
    """A fresh minit answers ping with protocol version 1 and no main command."""
    assert await minit.client.ping() == MinitInfo(protocol_version=1, main_pid=0)


async def test_exec_echo(minit: Minit) -> None:
    """`echo hi` returns its line on stdout, exit code 0 and the pid it ran as."""
    out = await minit.exec(["echo", "hi"])
    assert (out.stdout, out.stderr, out.exit_code, out.term_signal) == (b"hi\n", b"", 0, 0)
    assert (out.timed_out, out.stdout_truncated, out.stderr_truncated) == (False, False, False)
    assert out.pid > 0
    assert out.duration_ms > 0


@pytest.mark.parametrize("code", [0, 1, 42, 255])
async def test_exit_codes(minit: Minit, code: int) -> None:
    """The command's exit code comes back unchanged."""
    out = await minit.exec(["sh", "-c", f"exit {code}"])
    assert (out.exit_code, out.term_signal) == (code, 0)


async def test_killed_by_signal(minit: Minit) -> None:
    """A command killed by signal N reports exit code 128 + N and term_signal N."""
    out = await minit.exec(["sh", "-c", "kill -TERM $$"])
    assert (out.exit_code, out.term_signal, out.timed_out) == (143, 15, False)


async def test_stderr_apart_from_stdout(minit: Minit) -> None:
    """What the command writes to stderr comes back as stderr, apart from stdout."""
    out = await minit.exec(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (out.stdout, out.stderr, out.exit_code) == (b"out\n", b"err\n", 3)


async def test_non_utf8_bytes(minit: Minit) -> None:
    """Bytes that are not UTF-8 (and NULs) come back byte for byte."""
    out = await minit.exec(["printf", r"\377\376\000\200x"])
    assert out.stdout == b"\xff\xfe\x00\x80x"


async def test_stdio_and_no_fd_leaks(minit: Minit) -> None:
    """A command gets /dev/null as stdin, pipes as stdout/stderr, and no other fd of minit's."""
    out = await minit.exec(["sh", "-c", "exec ls -l /proc/self/fd"])
    links = dict(re.findall(r" (\d+) -> (.*)", out.stdout.decode()))
    assert set(links) == {"0", "1", "2", "3"}  # 3 is the directory ls is reading
    assert links["0"] == "/dev/null"
    assert links["1"].startswith("pipe:")
    assert links["2"].startswith("pipe:")


async def test_default_signal_state(minit: Minit) -> None:
    """A command starts with no signal blocked or ignored, whatever minit inherited."""
    out = await minit.exec(["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])
    assert out.stdout.decode().split() == ["SigBlk:", "0" * 16, "SigIgn:", "0" * 16]


async def test_large_output_complete(minit: Minit) -> None:
    """About 10 MB of output arrives complete and in order when it fits the limit."""
    out = await minit.exec(["seq", "1500000"], output_limit=20_000_000)
    expected = "".join(f"{i}\n" for i in range(1, 1_500_001)).encode()
    assert len(out.stdout) == len(expected) > 10_000_000
    assert out.stdout == expected
    assert not out.stdout_truncated


async def test_large_output_truncated(minit: Minit) -> None:
    """Past output_limit output is dropped and flagged, yet the command runs to its end."""
    out = await minit.exec(
        ["sh", "-c", "head -c 10000000 /dev/zero; echo done >&2"], output_limit=1000
    )
    assert out.stdout == b"\0" * 1000
    assert out.stdout_truncated
    assert (out.stderr, out.stderr_truncated, out.exit_code) == (b"done\n", False, 0)


async def test_timeout_kills_process_group(minit: Minit) -> None:
    """On timeout minit SIGKILLs the whole process group, background children included."""
    started = time.monotonic()
    out = await minit.exec(
        ["sh", "-c", "sleep 100 & echo $!; sleep 100 & echo $!; wait"], timeout_ms=300
    )
    elapsed = time.monotonic() - started
    assert (out.exit_code, out.term_signal, out.timed_out) == (137, 9, True)
    assert 0.3 <= elapsed < 5
    sleeps = [int(pid) for pid in out.stdout.split()]
    assert len(sleeps) == 2
    for pid in [out.pid, *sleeps]:
        await gone(pid)


async def test_missing_binary(minit: Minit) -> None:
    """A command that is not on PATH exits 127 with minit's message on stderr."""
    out = await minit.exec(["no-such-command-q7"])
    assert out.exit_code == 127
    assert out.stderr == b"minit: exec no-such-command-q7: No such file or directory\n"
    assert out.pid > 0


async def test_bad_cwd(minit: Minit) -> None:
    """A working directory that does not exist gives exit 126 and a chdir message."""
    out = await minit.exec(["true"], cwd="/no/such/dir")
    assert out.exit_code == 126
    assert out.stderr == b"minit: chdir /no/such/dir: No such file or directory\n"


async def test_not_executable(minit: Minit, tmp_path: Path) -> None:
    """A file without execute permission gives exit 126 (EACCES from execve)."""
    script = tmp_path / "plain"
    script.write_text("#!/bin/sh\necho never\n")
    out = await minit.exec([str(script)])
    assert out.exit_code == 126
    assert out.stderr == f"minit: exec {script}: Permission denied\n".encode()


async def test_env_and_cwd(minit: Minit, tmp_path: Path) -> None:
    """The command sees exactly the request's environment and runs in the request's cwd."""
    env = {"PATH": "/usr/bin:/bin", "GREETING": "hello world", "EMPTY": ""}
    out = await minit.exec(["env"], env, str(tmp_path))
    assert sorted(out.stdout.decode().splitlines()) == sorted(f"{k}={v}" for k, v in env.items())
    out = await minit.exec(["pwd"], env, str(tmp_path))
    assert out.stdout == f"{tmp_path}\n".encode()


async def test_request_larger_than_the_socket_buffer(minit: Minit) -> None:
    """A request too big to send at once still reaches minit whole."""
    big = {f"BIG{i}": "x" * (100 * 1024) for i in range(8)}  # execve takes 128 KiB a string
    out = await minit.exec(["sh", "-c", 'printf %s "${#BIG7}"'], {**ENV, **big})
    assert (out.stdout, out.exit_code) == (b"102400", 0)


async def test_path_lookup_uses_request_path(minit: Minit, tmp_path: Path) -> None:
    """A bare argv[0] is looked up in the request's PATH, not in minit's own."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "quilt-greet"
    tool.write_text('#!/bin/sh\necho "greet $1"\n')
    tool.chmod(0o755)
    out = await minit.exec(["quilt-greet", "x"], {"PATH": f"/nowhere:{bin_dir}:/bin"})
    assert (out.stdout, out.exit_code) == (b"greet x\n", 0)
    out = await minit.exec(["quilt-greet"])
    assert out.exit_code == 127


async def test_concurrent_execs(minit: Minit) -> None:
    """Twenty execs at once each get their own output and exit code."""
    outs = await asyncio.gather(
        *(minit.exec(["sh", "-c", 'echo "$0"; exit $(($0 % 7))', str(i)]) for i in range(20))
    )
    assert [(o.stdout, o.exit_code) for o in outs] == [
        (f"{i}\n".encode(), i % 7) for i in range(20)
    ]
    assert len({o.pid for o in outs}) == 20


async def test_stream_events(minit: Minit) -> None:
    """A stream yields Started first, then the output, then Exited."""
    events = [
        e
        async for e in minit.client.stream(
            ["sh", "-c", "echo a; echo b >&2; exit 3"], ENV, "/", timeout_ms=None
        )
    ]
    assert isinstance(events[0], Started)
    assert events[-1] == Exited(exit_code=3, term_signal=0, timed_out=False)
    outputs = [e for e in events[1:-1] if isinstance(e, Output)]
    assert len(outputs) == len(events) - 2
    assert b"".join(e.data for e in outputs if e.stream == "stdout") == b"a\n"
    assert b"".join(e.data for e in outputs if e.stream == "stderr") == b"b\n"


async def test_disconnect_kills_process_group(minit: Minit) -> None:
    """Hanging up mid-stream makes minit kill the command's whole process group."""
    events = minit.client.stream(
        ["sh", "-c", "sleep 100 & echo $!; wait"], ENV, "/", timeout_ms=None
    )
    async with contextlib.aclosing(events):
        started = await anext(events)
        output = await anext(events)
    assert isinstance(started, Started)
    assert isinstance(output, Output)
    background = int(output.data)
    for pid in (started.pid, background):
        await gone(pid)


async def test_background_child_does_not_block(minit: Minit) -> None:
    """A background child that keeps the pipes open does not hold back the exit reply."""
    async with asyncio.timeout(10):
        out = await minit.exec(["sh", "-c", "sleep 100 & echo $!"])
    background = int(out.stdout)
    assert out.exit_code == 0
    os.kill(background, 0)  # still running, and still holding the pipes
    assert await minit.client.signal(background, signal.SIGKILL) == 0
    await gone(background)


async def test_signal(minit: Minit) -> None:
    """The K op signals a process by pid and reports errno, refusing groups and broadcasts."""
    events = minit.client.stream(["sleep", "100"], ENV, "/", timeout_ms=None)
    async with contextlib.aclosing(events):
        started = await anext(events)
        assert isinstance(started, Started)
        assert await minit.client.signal(started.pid, signal.SIGTERM) == 0
        assert [e async for e in events] == [Exited(143, 15, timed_out=False)]
    assert await minit.client.signal(0, signal.SIGTERM) == errno.ESRCH  # no main command
    assert await minit.client.signal(0x7FFF_FFF0, signal.SIGTERM) == errno.ESRCH
    assert await minit.client.signal(-0x7FFF_FFF0, signal.SIGTERM) == errno.EINVAL


# -- the main command --------------------------------------------------------------------------


async def test_main_logs_status_and_exit(spawn_minit: Callable[..., Minit]) -> None:
    """The main command's output becomes log records, `exited N` goes to fd 4, minit exits N."""
    m = spawn_minit()
    before = time.time() * 1000
    script = "printf 'one\\ntwo\\n'; echo err >&2; head -c 10000 /dev/zero | tr '\\0' x; exit 7"
    pid = await m.client.start_main(["sh", "-c", script], ENV, "/")
    assert pid > 0
    assert await m.wait_exit() == 7
    assert m.status_path.read_text() == "exited 7\n"
    records = m.records()
    assert [r for r in records if r[0] == "o"] == [
        ("o", b"one\n"),
        ("o", b"two\n"),
        ("o", b"x" * 4096),
        ("o", b"x" * 4096),
        ("o", b"x" * 1808),
    ]
    assert [r for r in records if r[0] == "e"] == [("e", b"err\n")]
    stamps = [r.unix_ms for r in console.parse(m.log_path.read_bytes())]
    assert all(before - 1 <= stamp <= time.time() * 1000 + 1 for stamp in stamps)


async def test_sigterm_forwarded_to_main(spawn_minit: Callable[..., Minit], tmp_path: Path) -> None:
    """SIGTERM to minit reaches the main command, and minit exits with the main's code."""
    gate = tmp_path / "ready"
    os.mkfifo(gate)
    gate_fd = os.open(gate, os.O_RDONLY | os.O_NONBLOCK)
    try:
        m = spawn_minit()
        script = 'trap "echo got TERM; exit 3" TERM; sleep 100 & echo ready > "$0"; wait'
        pid = await m.client.start_main(["sh", "-c", script, str(gate)], ENV, "/")
        await readable(gate_fd)
        assert os.read(gate_fd, 100) == b"ready\n"
    finally:
        os.close(gate_fd)
    assert await m.client.ping() == MinitInfo(protocol_version=1, main_pid=pid)
    os.kill(m.pid, signal.SIGTERM)
    assert await m.wait_exit() == 3
    assert m.status_path.read_text() == "exited 3\n"
    assert ("o", b"got TERM\n") in m.records()


async def test_sigterm_without_main(minit: Minit) -> None:
    """Without a main command, SIGTERM makes minit write `stopped 15` and exit 143."""
    await minit.client.ping()  # it is up and has its signals blocked
    os.kill(minit.pid, signal.SIGTERM)
    assert await minit.wait_exit() == 143
    assert minit.status_path.read_text() == "stopped 15\n"


async def test_main_from_argv(spawn_minit: Callable[..., Minit], tmp_path: Path) -> None:
    """`minit --cwd DIR -- ARGV` creates DIR and runs ARGV there with minit's environment."""
    workdir = tmp_path / "new" / "dir"
    m = spawn_minit(
        "--cwd",
        str(workdir),
        "--",
        "sh",
        "-c",
        'pwd; echo "$QUILT_MARK"; exit 5',
        env={**ENV, "QUILT_MARK": "from-minit"},
    )
    assert await m.wait_exit() == 5
    assert workdir.is_dir()
    assert m.status_path.read_text() == "exited 5\n"
    assert m.records() == [("o", f"{workdir}\n".encode()), ("o", b"from-minit\n")]


async def test_main_from_argv_missing(spawn_minit: Callable[..., Minit]) -> None:
    """`minit -- missing` logs why as a minit record and exits 127."""
    m = spawn_minit("--", "no-such-command-q7")
    assert await m.wait_exit() == 127
    assert m.status_path.read_text() == "exited 127\n"
    assert m.records() == [("e", b"minit: exec no-such-command-q7: No such file or directory\n")]


async def test_start_main_twice(minit: Minit) -> None:
    """A second start_main is refused while the first main command keeps running."""
    pid = await minit.client.start_main(["sleep", "100"], ENV, "/")
    with pytest.raises(HostError, match="already started"):
        await minit.client.start_main(["sleep", "100"], ENV, "/")
    assert (await minit.client.ping()).main_pid == pid
    os.kill(pid, 0)


async def test_start_main_failure(minit: Minit) -> None:
    """A main command that cannot start raises HostError with the reason; minit stays idle."""
    with pytest.raises(HostError, match="exec no-such-command-q7: No such file"):
        await minit.client.start_main(["no-such-command-q7"], ENV, "/")
    with pytest.raises(HostError, match="chdir /no/such/dir"):
        await minit.client.start_main(["true"], ENV, "/no/such/dir")
    assert (await minit.client.ping()).main_pid == 0


# -- the socket ---------------------------------------------------------------------------------


async def test_unknown_op(minit: Minit) -> None:
    """An unknown op gets one F frame, then minit closes the connection."""
    frames = await exchange(minit.socket_path, b"Z")
    assert [(f.kind, f.payload) for f in frames] == [("F", b"unknown op 0x5a")]


async def test_truncated_request(minit: Minit) -> None:
    """A request cut short gets an F frame, and minit goes on serving."""
    frames = await exchange(minit.socket_path, b"X\x01\x00\x00\x00\x05\x00\x00\x00ec")
    assert [(f.kind, f.payload) for f in frames] == [("F", b"malformed request")]
    assert (await minit.client.ping()).protocol_version == 1


async def test_silent_client_does_not_stall(minit: Minit) -> None:
    """A client that connects and sends nothing is dropped after the receive timeout."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK) as sock:
        await loop.sock_connect(sock, str(minit.socket_path))
        async with asyncio.timeout(10):
            assert await loop.sock_recv(sock, 16) == b""
    assert (await minit.client.ping()).main_pid == 0


async def test_frames_match_encoder(minit: Minit) -> None:
    """The ping reply is byte for byte what encode_frame makes."""
    frames = await exchange(minit.socket_path, b"P")
    assert [encode_frame(f.kind, f.payload) for f in frames] == [
        b"P\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
    ]


async def test_unavailable_when_missing(tmp_path: Path) -> None:
    """A socket path with nothing there raises MinitUnavailable."""
    with pytest.raises(MinitUnavailable):
        await MinitClient(tmp_path / "absent.sock").ping()


async def test_unavailable_when_refused(tmp_path: Path) -> None:
    """A socket nobody listens on raises MinitUnavailable."""
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
        with pytest.raises(MinitUnavailable):
            await MinitClient(path).exec(["true"], ENV, "/", timeout_ms=None, output_limit=10)


async def test_unavailable_when_silent(tmp_path: Path) -> None:
    """A listener that never answers raises MinitUnavailable once the timeout passes."""
    path = tmp_path / "mute.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
        sock.listen(1)
        started = time.monotonic()
        with pytest.raises(MinitUnavailable):
            await MinitClient(path).ping(timeout=0.2)
        assert time.monotonic() - started < 2


# -- terminals -------------------------------------------------------------------------------


async def read_until(terminal: Terminal, events: Any, needle: bytes) -> bytes:
    """Terminal output up to and including `needle` (10 s at most)."""
    seen = b""
    async with asyncio.timeout(10):
        async for event in events:
            if isinstance(event, Output):
                seen += event.data
                if needle in seen:
                    return seen
            elif isinstance(event, Exited):
                break
    raise AssertionError(f"{needle!r} never came; the terminal said {seen!r}")


async def test_terminal_is_a_real_tty_with_a_size(minit: Minit) -> None:
    """A program on a terminal sees a tty of the asked size; a resize reaches it."""
    terminal = await minit.client.terminal(["sh"], ENV, "/", cols=101, rows=33)
    try:
        events = terminal.events()
        await terminal.write(b"tty; stty size\n")
        seen = await read_until(terminal, events, b"33 101")
        assert b"/dev/pts/" in seen
        await terminal.resize(120, 40)
        await terminal.write(b"stty size\n")
        await read_until(terminal, events, b"40 120")
        await terminal.write(b"exit 3\n")
        async with asyncio.timeout(10):
            ended = [e async for e in events if isinstance(e, Exited)]
        assert ended == [Exited(exit_code=3, term_signal=0, timed_out=False)]
    finally:
        terminal.close()


async def test_terminal_signal_and_ctrl_c_reach_the_foreground_job(minit: Minit) -> None:
    """Ctrl-C typed, or a signal sent, ends the foreground job and the shell carries on."""
    terminal = await minit.client.terminal(["sh", "-i"], ENV, "/", cols=80, rows=24)
    try:
        events = terminal.events()
        await terminal.write(b"sleep 1000\n")
        await asyncio.sleep(0.3)
        await terminal.write(b"\x03")  # Ctrl-C, through the terminal's line discipline
        await terminal.write(b"echo after-$?\n")
        await read_until(terminal, events, b"after-130")
        await terminal.write(b"sleep 1000; echo again-$?\n")
        await asyncio.sleep(0.3)
        await terminal.signal(signal.SIGTERM)
        await read_until(terminal, events, b"again-143")
    finally:
        terminal.close()


async def test_terminal_hang_up_ends_the_session(minit: Minit) -> None:
    """Closing the connection sends the session SIGHUP (then SIGKILL): nothing is left."""
    terminal = await minit.client.terminal(
        ["sh", "-c", "trap '' HUP; sleep 1000"], ENV, "/", cols=80, rows=24
    )
    pid_before = tree(minit.pid) - {minit.pid}
    assert pid_before
    terminal.close()
    for pid in pid_before:
        await gone(pid)
