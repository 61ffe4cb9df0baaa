"""`quilt shell`: an interactive terminal in a container, attached through the SDK.

The local terminal goes into raw mode, so every key (Ctrl-C included) reaches the remote
shell; window size changes follow (SIGWINCH → resize); the exit code of the remote shell
becomes this command's. Without a local terminal (a pipe), input is sent as it comes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import termios
import threading
import tty
from typing import TYPE_CHECKING

import click
from websockets.exceptions import ConnectionClosed

from quilt.cli.common import Failed, Session, option, pass_session

if TYPE_CHECKING:
    from collections.abc import Iterator

    from quilt.sdk import TerminalConnection


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


def _pump_input(terminal: TerminalConnection, fd: int) -> None:
    """Send local input until it ends (a pipe's EOF); the remote side decides when to stop."""
    with contextlib.suppress(OSError, ConnectionClosed):
        while data := os.read(fd, 4096):
            terminal.send(data)


def relay(terminal: TerminalConnection) -> int:
    """Write the terminal's bytes to stdout until the shell exits; its exit code."""
    out = sys.stdout.buffer
    for frame in terminal:
        if isinstance(frame, bytes):
            out.write(frame)
            out.flush()
        elif frame["type"] == "exit":
            code, sig = frame.get("code"), frame.get("signal")
            return int(code) if code is not None else 128 + int(sig or 1)
        elif frame["type"] == "error":
            raise Failed(str(frame["message"]), str(frame["code"]))
    raise Failed("the connection closed before the shell exited", "CONNECTION_ERROR")


@click.command("shell")
@click.argument("container")
@option("--shell", "program", help="The shell to run [bash, or sh on busybox].")
@pass_session
def shell(session: Session, container: str, program: str | None) -> None:
    """Open an interactive terminal in CONTAINER (an id or a name); exit with its code."""
    cols, rows = shutil.get_terminal_size()
    attached = session.client.terminals.attach(container, cols=cols, rows=rows, shell=program)
    with attached as terminal, raw_terminal(sys.stdin.fileno()) as interactive:
        if interactive:
            signal.signal(
                signal.SIGWINCH,
                lambda *_: terminal.resize(*shutil.get_terminal_size()),
            )
        threading.Thread(
            target=_pump_input, args=(terminal, sys.stdin.fileno()), daemon=True
        ).start()
        code = relay(terminal)
    sys.exit(code)
