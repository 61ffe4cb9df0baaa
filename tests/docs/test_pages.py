"""docs/ runs: every page's Python and shell examples, against a real server, in page order."""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING

import anyio.to_thread
import pytest

from conftest import API_KEY
from examples import DOCS, blocks, run_page
from quilt.cli.main import main

if TYPE_CHECKING:
    from conftest import Server

# Pages with examples to run, in the order docs/README.md lists them.
RUN = [
    "cli.md",
    "sdk.md",
    "containers.md",
    "exec.md",
    "operations.md",
    "snapshots.md",
    "volumes.md",
    "network.md",
    "services.md",
    "terminals.md",
    "events.md",
    "activity.md",
    "notifications.md",
    "cleanup.md",
    "api-keys.md",
]
# One page per concern, each with Python, `quilt` and `curl` examples.
CONCERNS = RUN[2:]
KINDS = ("python", "quilt", "curl")
# A page without one kind of example says why in a `<!-- no-KIND: reason -->` comment.
EXCUSED = re.compile(r"<!--\s*no-(python|quilt|curl):\s*\S.*?-->")


def kinds(page: str) -> set[str]:
    """The kinds of runnable example a page has: python, quilt (CLI) and curl."""
    found = set()
    for block in blocks(DOCS / page):
        if not block.runs:
            continue
        if block.language == "python":
            found.add("python")
        elif re.search(r"(^|[\s$(|])quilt\s", block.code):
            found.add("quilt")
        if block.language == "sh" and re.search(r"(^|[\s$(|])curl\s", block.code):
            found.add("curl")
    return found


def tools_missing() -> str | None:
    """Why the shell examples cannot run here (curl or jq missing), or None."""
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    return f"the shell examples need {', '.join(missing)}" if missing else None


def test_every_concern_page_shows_python_cli_and_curl() -> None:
    """Each concern page exists and runs Python, `quilt` and `curl` examples, or says why not."""
    for page in CONCERNS:
        text = (DOCS / page).read_text()
        excused = set(EXCUSED.findall(text))
        assert set(KINDS) - excused <= kinds(page), page


def test_the_sdk_page_has_examples_of_each_kind() -> None:
    """sdk.md shows sync, async, wait, errors and testing examples, each with output."""
    found = [b for b in blocks(DOCS / "sdk.md") if b.language == "python"]
    assert len(found) >= 5
    assert all(block.promises for block in found)
    assert any("AsyncQuilt" in block.code for block in found)
    assert any("operations.wait" in block.code for block in found)
    assert any("MockTransport" in block.code for block in found)


def test_every_cli_group_is_in_the_cli_page() -> None:
    """docs/cli.md mentions every `quilt` command group."""
    text = (DOCS / "cli.md").read_text()
    missing = [name for name in main.commands if f"`quilt {name}`" not in text]
    assert not missing


def test_the_index_lists_every_page() -> None:
    """docs/README.md links every page of docs/, and every page it runs has examples."""
    index = (DOCS / "README.md").read_text()
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    assert [p for p in pages if f"]({p})" not in index] == []
    assert set(RUN) <= set(pages)
    assert all(any(b.runs and b.promises for b in blocks(DOCS / p)) for p in RUN)


@pytest.mark.host
@pytest.mark.anyio
@pytest.mark.parametrize("page", RUN)
async def test_the_page_examples_do_what_they_promise(
    page: str, api: Server, live_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's blocks run in order, print their promises, and leave nothing behind."""
    if reason := tools_missing():
        pytest.skip(reason)
    monkeypatch.setenv("QUILT_BASE_URL", live_url)
    monkeypatch.setenv("QUILT_API_KEY", API_KEY)
    monkeypatch.delenv("QUILT_URL", raising=False)
    monkeypatch.delenv("QUILT_TENANT_ID", raising=False)
    keys = (await api.client.get("/api/api-keys")).json()["api_keys"]

    failures = await anyio.to_thread.run_sync(run_page, DOCS / page, live_url, API_KEY)

    assert not failures, "\n\n".join(failures)
    store = api.platform.store
    left = {
        "containers": [c.name for c in store.containers.list(None)],
        "volumes": [v.name for v in store.volumes.list(None)],
        "snapshots": [s.snapshot_id for s in store.snapshots.list(None)],
        "api keys": [
            k["name"]
            for k in (await api.client.get("/api/api-keys")).json()["api_keys"]
            if k not in keys
        ],
    }
    assert left == {"containers": [], "volumes": [], "snapshots": [], "api keys": []}
