"""`quilt shell`: an interactive terminal in a container, over the terminal WebSocket.

The local terminal goes into raw mode, so every key (Ctrl-C included) reaches the remote
shell; window size changes follow (SIGWINCH → resize); the exit code of the remote shell
becomes this command's. Without a local terminal (a pipe), input is sent as it comes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import termios
import threading
import tty
from typing import TYPE_CHECKING, Any

import click
import httpx
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

if TYPE_CHECKING:
    from collections.abc import Iterator

    from websockets.sync.client import ClientConnection


class ShellError(click.ClickException):
    """A failure shown as `Error: <message> [CODE]` with exit code 1."""


def _error(body: bytes | bytearray | str, status: int) -> ShellError:
    try:
        data = json.loads(body)
        return ShellError(f"{data['error']} [{data['error_code']}]")
    except (ValueError, KeyError, TypeError):
        return ShellError(f"the server answered {status}")


def resolve(client: httpx.Client, target: str) -> str:
    """A container id from an id or a name."""
    if target.startswith("ctr_"):
        return target
    response = client.get(f"/api/containers/by-name/{target}")
    if not response.is_success:
        raise _error(response.content, response.status_code)
    return str(response.json()["container_id"])


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[bool]:
    """Put the local terminal in raw mode for the duration (yields whether it is one)."""
    if not os.isatty(fd):
        yield False
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _pump_input(ws: ClientConnection, fd: int) -> None:
    """Send local input until it ends (a pipe's EOF); the remote side decides when to stop."""
    with contextlib.suppress(OSError, ConnectionClosed):
        while data := os.read(fd, 4096):
            ws.send(data)


def session(url: str, key: str, container_id: str, shell: str | None) -> int:
    """Attach to a new terminal in the container; return the remote shell's exit code."""
    cols, rows = shutil.get_terminal_size()
    ws_url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/")
    query = f"container_id={container_id}&cols={cols}&rows={rows}"
    if shell:
        query += f"&shell={shell}"
    try:
        ws = connect(
            f"{ws_url}/ws/terminal/attach?{query}",
            subprotocols=["terminal"],  # type: ignore[list-item]
            additional_headers={"X-Api-Key": key},
            max_size=None,
        )
    except InvalidStatus as exc:
        raise _error(exc.response.body, exc.response.status_code) from exc
    except OSError as exc:
        raise ShellError(f"cannot reach {url}: {exc}") from exc
    with ws, raw_terminal(sys.stdin.fileno()) as interactive:
        if interactive:
            signal.signal(
                signal.SIGWINCH,
                lambda *_: ws.send(json.dumps({"type": "resize", **_size()})),
            )
        threading.Thread(target=_pump_input, args=(ws, sys.stdin.fileno()), daemon=True).start()
        return _pump_output(ws)


def _size() -> dict[str, int]:
    cols, rows = shutil.get_terminal_size()
    return {"cols": cols, "rows": rows}


def _pump_output(ws: ClientConnection) -> int:
    """Write the terminal's bytes to stdout until the shell exits; its exit code."""
    out = sys.stdout.buffer
    try:
        for message in ws:
            if isinstance(message, bytes):
                out.write(message)
                out.flush()
                continue
            control: dict[str, Any] = json.loads(message)
            if control["type"] == "exit":
                code, sig = control.get("code"), control.get("signal")
                return int(code) if code is not None else 128 + int(sig or 1)
            if control["type"] == "error":
                raise ShellError(f"{control['message']} [{control['code']}]")
    except ConnectionClosed:
        pass
    raise ShellError("the connection closed before the shell exited")


@click.command("shell")
@click.argument("container")
@click.option("--url", envvar="QUILT_URL", default="http://127.0.0.1:8787", show_default=True)
@click.option("--api-key", envvar="QUILT_API_KEY", required=True, help="or QUILT_API_KEY")
@click.option("--shell", "program", help="the shell to run [bash, or sh on busybox]")
def shell(container: str, url: str, api_key: str, program: str | None) -> None:
    """Open an interactive terminal in CONTAINER (an id or a name)."""
    with httpx.Client(base_url=url, headers={"X-Api-Key": api_key}, timeout=30) as client:
        try:
            container_id = resolve(client, container)
        except httpx.HTTPError as exc:
            raise ShellError(f"cannot reach {url}: {exc}") from exc
    sys.exit(session(url, api_key, container_id, program))
