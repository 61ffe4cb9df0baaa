"""Liveness and system information."""

from __future__ import annotations

import platform as host_platform
import time
from typing import Any

from fastapi import APIRouter, Request

from quilt import __version__
from quilt.api.auth import Caller, platform

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    """The server is up (says nothing about capacity: ask a concern's health for that)."""
    return {"status": "ok"}


@router.get("/api/system/info", summary="System information")
async def info(request: Request, caller: Caller) -> dict[str, Any]:
    """Version, host, runtime, storage and network facts of this server."""
    p = platform(request)
    s = p.settings
    return {
        "name": "quilt",
        "version": __version__,
        "tenant_id": caller.tenant_id,
        "uptime_seconds": round(time.time() - p.started, 1),
        "host": {
            "kernel": host_platform.release(),
            "cpus": p.containers.host.cpus,
            "memory_mb": p.containers.host.memory_mb,
            "gpus": list(p.containers.host.gpus),
        },
        "runtime": p.node.runtime.name,
        "storage_backend": p.node.storage.backend,
        "database": p.store.engine.dialect.name,
        "network": {"bridge": s.bridge, "subnet": s.subnet},
        "images": p.node.images.names(),
        "default_image": s.default_image,
        "warm_pool": {"size": s.warm_pool_size, "images": list(s.pool_images)},
    }
