"""SDK fixtures: clients of the shared real server, in process (async) or over a socket (sync).

`tests/sdk` is a package so this module is `sdk.conftest` and `from conftest import ...`
still finds the shared `tests/conftest.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conftest import API_KEY
from quilt import AsyncQuilt

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from conftest import Server


@pytest.fixture
async def aquilt(api: Server) -> AsyncIterator[AsyncQuilt]:
    """An `AsyncQuilt` of the shared server through `httpx.ASGITransport` (no socket).

    The tenant is not configured, so snapshot and fork calls learn it from the server.
    """
    transport = httpx.ASGITransport(app=api.app)
    async with AsyncQuilt("http://quilt.test", api_key=API_KEY, transport=transport) as client:
        yield client


@pytest.fixture
def live_url(api: Any, live: httpx.AsyncClient) -> str:
    """The base URL of the shared server behind a real uvicorn socket (for the sync client).

    uvicorn runs on the test's event loop, so a test drives `Quilt` from a worker thread
    (`anyio.to_thread.run_sync`) while the loop serves it.
    """
    del api  # requested for its cleanup of whatever a test leaves behind
    return str(live.base_url)
