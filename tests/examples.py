"""The runner of the docs pages' examples: Python blocks, and shell blocks in one bash per page.

Python blocks run in a fresh namespace and must print exactly their `# -> …` lines. Shell
blocks run in order in one bash (`set -euo pipefail`), so variables carry from block to
block as in a reader's terminal; a line's trailing `# -> text` promises that `text`
appears in the block's output, after the previous promise. Blocks fenced ```` ```sh no-run ````
(installs, `quilt serve`, interactive shells) are shown, not run.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
PROMISE = re.compile(r"\s#\s*->\s*(.*)$")
RUNS = {"python", "sh"}
BLOCK_SECONDS = 120.0


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: its language, fence words, code and first line."""

    language: str
    words: tuple[str, ...]
    code: str
    line: int

    @property
    def runs(self) -> bool:
        """Whether the runner executes this block."""
        return self.language in RUNS and "no-run" not in self.words

    @property
    def promises(self) -> list[str]:
        """What the block promises to print, from its `# -> …` comments, in order."""
        return [
            m.group(1).strip() for line in self.code.splitlines() if (m := PROMISE.search(line))
        ]

    def where(self, page: Path) -> str:
        """`docs/page.md:line` of the block, for failure messages."""
        return f"{page.parent.name}/{page.name}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of the page, in order."""
    text = page.read_text()
    return [
        Block(
            language=m.group(1),
            words=tuple(m.group(2).split()),
            code=m.group(3),
            line=text.count("\n", 0, m.start()) + 1,
        )
        for m in FENCE.finditer(text)
    ]


def run_python(code: str, filename: str, first_line: int = 1) -> list[str]:
    """Run one block in a fresh namespace and return the lines it printed.

    The code is compiled at `first_line` of `filename`, so tracebacks point into the page.
    """
    printed: list[str] = []

    def capture(*args: Any, **_: Any) -> None:
        printed.append(" ".join(str(a) for a in args).strip())

    padded = "\n" * (first_line - 1) + code
    exec(compile(padded, filename, "exec"), {"print": capture, "__name__": "__docs__"})  # noqa: S102 - the page's own examples
    return printed


def in_order(output: str, promises: list[str]) -> str | None:
    """The first promise not found in `output` after the previous one, or None if all are."""
    at = 0
    for text in promises:
        found = output.find(text, at)
        if found < 0:
            return text
        at = found + len(text)
    return None


class Shell:
    """One bash for a page's shell blocks, in a scratch directory, with the server's variables."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="quilt-docs-"))
        bindir = str(Path(sys.executable).parent)
        env = {
            "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.dir),
            "LANG": "C.UTF-8",
            "QUILT_URL": base_url,
            "QUILT_API_KEY": api_key,
            "Q": base_url,
            "H": f"X-Api-Key: {api_key}",
            "COLUMNS": "200",
        }
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            env=env,
            text=True,
            start_new_session=True,  # its own process group, so a hung block can be ended
        )
        self.count = 0
        self.send("set -euo pipefail")

    def send(self, line: str) -> None:
        """Write one line of shell to the bash."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def run(self, code: str) -> tuple[bool, str]:
        """Run a block in the page's bash; (whether it succeeded, its stdout and stderr)."""
        self.count += 1
        script = self.dir / f".block-{self.count}.sh"
        output = self.dir / f".block-{self.count}.out"
        script.write_text(code)
        marker = f"__block_{self.count}_done__"
        # A failing command exits this bash (set -e): no marker, and the output file says why.
        self.send(f"source {script} </dev/null >{output} 2>&1; echo {marker}")
        assert self.process.stdout is not None
        done = False
        while True:
            ready, _, _ = select.select([self.process.stdout], [], [], BLOCK_SECONDS)
            if not ready:
                break
            line = self.process.stdout.readline()
            if not line or line.strip() == marker:
                done = bool(line)
                break
        return done, output.read_text() if output.exists() else ""

    def close(self) -> None:
        """End the bash (it is done, or it died with a block) and remove its directory."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a block hung: end it and what it started
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_page(page: Path, base_url: str, api_key: str) -> list[str]:
    """Run every block of the page in order; the failures, as messages (none if it holds)."""
    failures: list[str] = []
    shell = Shell(base_url, api_key)
    try:
        for block in blocks(page):
            if not block.runs:
                continue
            if block.language == "python":
                printed = run_python(block.code, str(page), block.line + 1)
                if printed != block.promises:
                    failures.append(
                        f"{block.where(page)} printed {printed!r}, promised {block.promises!r}"
                    )
                continue
            ok, output = shell.run(block.code)
            if not ok:
                failures.append(f"{block.where(page)} failed:\n{output}")
                break  # the page's bash is gone with it
            if (missing := in_order(output, block.promises)) is not None:
                failures.append(
                    f"{block.where(page)} did not print {missing!r} (in order):\n{output}"
                )
    finally:
        shell.close()
    return failures
