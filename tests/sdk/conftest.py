"""SDK fixtures: an async client of the shared real server, in process.

`tests/sdk` is a package so this module is `sdk.conftest` and `from conftest import ...`
still finds the shared `tests/conftest.py` (which also has `live_url`, for the sync client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
