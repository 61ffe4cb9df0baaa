"""Shared fixtures: a real Quilt server with its own data dir, bridge and subnet.

Everything a server makes on the host (containers, namespaces, mounts, the storage pool,
the bridge) is released by `quilt.node.purge` when the fixture ends, even after failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from helpers import free_subnet
from quilt.settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

API_KEY = "quilt_sk_test_" + secrets.token_hex(8)
OTHER_KEY = "quilt_sk_other_" + secrets.token_hex(8)
ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip host tests with the reason when the machine cannot run containers."""
    del config
    reason = host_reason()
    if reason is None:
        return
    for item in items:
        if "host" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def host_reason() -> str | None:
    """Why this machine cannot run real containers, or None if it can."""
    if os.geteuid() != 0:
        return "needs root (runc, mounts, namespaces)"
    if shutil.which("runc") is None:
        return "runc is not installed (run scripts/setup)"
    return None


def minit_binary() -> Path:
    """Minit built from this checkout's source (make rebuilds it only when it changed)."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "minit")], check=True)
    return ROOT / "minit" / "minit"


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings of a throwaway server: private data dir, bridge and /24 subnet, busybox image."""
    tag = secrets.token_hex(3)
    values: dict[str, Any] = {
        "data_dir": tmp / "data",
        "bridge": f"qt{tag}",
        "subnet": str(free_subnet(range(200, 250))),
        "default_image": "busybox",
        "warm_pool_images": "busybox",
        "warm_pool_size": 0,
        "api_keys": f"{API_KEY}:ten_test,{OTHER_KEY}:ten_other",
        "minit_path": minit_binary(),
        "pool_size_gb": 8,
        "stop_grace_seconds": 2.0,
        "services_probe_seconds": 0.2,
        "cleanup_retry_seconds": 0.3,
    }
    values.update(overrides)
    return Settings(**values)


def purge(settings: Settings) -> None:
    """Release everything the server made on the host."""
    from quilt.node.purge import purge as run  # noqa: PLC0415

    asyncio.run(run(settings))


@pytest.fixture(scope="session")
def anyio_backend() -> tuple[str, dict[str, Any]]:
    """Run async tests and fixtures on asyncio with uvloop, the loop `quilt serve` runs on."""
    import uvloop  # noqa: PLC0415

    return "asyncio", {"loop_factory": uvloop.new_event_loop}


class Server:
    """An in-process server and clients for two tenants."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(
            transport=transport,
            base_url="http://quilt.test",
            headers={"X-Api-Key": API_KEY},
            timeout=60,
        )
        self.other = httpx.AsyncClient(
            transport=transport,
            base_url="http://quilt.test",
            headers={"X-Api-Key": OTHER_KEY},
            timeout=60,
        )
        self.anonymous = httpx.AsyncClient(
            transport=transport, base_url="http://quilt.test", timeout=60
        )

    @property
    def platform(self) -> Any:
        """The engine behind the app."""
        return self.app.state.platform

    async def close(self) -> None:
        """Close the clients."""
        for client in (self.client, self.other, self.anonymous):
            await client.aclose()


@contextlib.asynccontextmanager
async def own_server(settings: Settings) -> AsyncIterator[Server]:
    """A server of a test's own (its own settings); everything it made is purged after."""
    from quilt.api.app import create_app  # noqa: PLC0415
    from quilt.node.purge import purge as purge_async  # noqa: PLC0415

    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            made = Server(app, settings)
            try:
                yield made
            finally:
                await made.close()
    finally:
        await purge_async(settings)


@pytest.fixture(scope="session")
def server_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of the session's shared server; its host resources are purged at the end."""
    if host_reason():
        pytest.skip(host_reason() or "")
    settings = make_settings(tmp_path_factory.mktemp("server"))
    yield settings
    purge(settings)


@pytest.fixture(scope="session")
async def server(server_settings: Settings) -> AsyncIterator[Server]:
    """One real server for the API tests (real LocalNode, runc, overlayfs, netns)."""
    from quilt.api.app import create_app  # noqa: PLC0415

    app = create_app(server_settings)
    async with app.router.lifespan_context(app):
        srv = Server(app, server_settings)
        yield srv
        await srv.close()


@pytest.fixture(scope="session")
async def live(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """The same app behind a real uvicorn socket on loopback: for streamed answers.

    httpx's in-process transport hands a response over only once the app has finished it,
    so endless or live streams (events, /stream) are read through a real connection.
    """
    import uvicorn  # noqa: PLC0415

    from quilt.api.ingress import IngressProtocol  # noqa: PLC0415

    config = uvicorn.Config(
        server.app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        http=IngressProtocol,  # as `quilt serve` runs it: /linx/ on the fast path
    )
    web = uvicorn.Server(config)
    task = asyncio.create_task(web.serve())
    for _ in range(1000):  # at most 10 s
        if web.started:
            break
        await asyncio.sleep(0.01)
    assert web.started, "uvicorn did not start"
    port = web.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": API_KEY}, timeout=30
    ) as client:
        yield client
    web.should_exit = True
    await task


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Server]:
    """The shared server; containers a test leaves behind are deleted after it."""
    yield server
    platform = server.platform
    for record in platform.store.containers.list(None):
        await platform.containers.delete(record.tenant_id, record.container_id)
    for snapshot in platform.store.snapshots.list(None):
        platform.store.snapshots.delete(snapshot.snapshot_id)
        platform.node.drop_layer(platform.node.snapshot_layer(snapshot.snapshot_id))
    for volume in platform.store.volumes.list(None):
        platform.store.volumes.delete(volume.volume_id)
        platform.node.remove_volume(volume.volume_id)


@pytest.fixture
def live_url(api: Server, live: httpx.AsyncClient) -> str:
    """The base URL of the shared server behind a real uvicorn socket (for blocking clients).

    uvicorn runs on the test's event loop, so a test drives `Quilt`, the CLI or curl from a
    worker thread (`anyio.to_thread.run_sync`) while the loop serves them.
    """
    del api  # requested for its cleanup of whatever a test leaves behind
    return str(live.base_url)
