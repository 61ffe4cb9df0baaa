"""The ASGI application: routers, the error envelope, request ids, and the platform's lifespan."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from fastapi import FastAPI

from quilt import __version__
from quilt.api import (
    activity,
    api_keys,
    cleanup,
    containers,
    errors,
    events,
    forks,
    guides,
    network,
    notifications,
    operations,
    services,
    snapshots,
    system,
    terminals,
    volumes,
)
from quilt.api import exec as exec_routes
from quilt.api.execpath import ExecPath
from quilt.api.linx import LinxIngress
from quilt.api.requestid import RequestId
from quilt.engine.platform import Platform

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from quilt.settings import Settings


def create_app(settings: Settings, *, on_ready: object = None) -> FastAPI:
    """Build the app for one server; the platform starts with the app's lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        platform = Platform(settings)
        app.state.platform = platform
        try:
            await platform.start()
            if callable(on_ready):
                on_ready(platform)
            yield
        finally:
            for name in ("linx_pool", "linx_upstreams"):  # the ingress's idle app connections
                pool = getattr(app.state, name, None)
                if pool is not None:
                    pool.close()
            await platform.close()

    app = FastAPI(title="Quilt", version=__version__, lifespan=lifespan)
    errors.install(app)
    app.add_middleware(ExecPath)  # inside RequestId: its answers carry the request id too
    app.add_middleware(RequestId)
    app.add_middleware(LinxIngress)  # outermost: /linx/… never reaches the API's routing
    # Guides first: /api/containers/help must not be read as a container id.
    modules = (
        system,
        guides,
        containers,
        exec_routes,
        snapshots,
        forks,
        volumes,
        network,
        services,
        activity,
        notifications,
        cleanup,
        operations,
        events,
        terminals,
        api_keys,
    )
    routers = [m.router for m in modules]
    for router in routers:
        app.include_router(router)
    app.state.routers = routers
    return app
