"""docs/sdk.md runs: every Python block, against a real server, printing what it promises."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from conftest import API_KEY

pytestmark = [pytest.mark.anyio, pytest.mark.host]

PAGE = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
PROMISE = re.compile(r"#\s*->\s*(.*)$")


def blocks() -> list[str]:
    """The page's Python blocks, in order."""
    return BLOCK.findall(PAGE.read_text())


def promised(code: str) -> list[str]:
    """The output a block promises, from its `# -> …` comments."""
    return [m.group(1).strip() for line in code.splitlines() if (m := PROMISE.search(line))]


def run(code: str) -> list[str]:
    """Run one block in a fresh namespace and return the lines it printed."""
    printed: list[str] = []

    def capture(*args: Any, **_: Any) -> None:
        printed.append(" ".join(str(a) for a in args).strip())

    exec(compile(code, str(PAGE), "exec"), {"print": capture, "__name__": "__docs__"})  # noqa: S102 - the page's own examples
    return printed


def test_the_page_has_examples_of_each_kind() -> None:
    """The page shows sync, async, wait, errors and testing examples, each with output."""
    found = blocks()
    assert len(found) >= 5
    assert all(promised(code) for code in found)
    assert any("AsyncQuilt" in code for code in found)
    assert any("MockTransport" in code for code in found)


@pytest.mark.parametrize("index", range(len(blocks())))
async def test_each_example_prints_what_it_promises(
    index: int, live_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block runs against the live server (configured by environment) and prints its promise."""
    monkeypatch.setenv("QUILT_BASE_URL", live_url)
    monkeypatch.setenv("QUILT_API_KEY", API_KEY)
    monkeypatch.delenv("QUILT_URL", raising=False)
    monkeypatch.delenv("QUILT_TENANT_ID", raising=False)
    code = blocks()[index]
    assert await anyio.to_thread.run_sync(run, code) == promised(code)
