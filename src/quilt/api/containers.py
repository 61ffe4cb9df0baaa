"""Routes of the containers concern (quilt-api §3.1, §3.4). Thin: parse, call the engine, render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from quilt.api import views
from quilt.api.auth import Caller, platform
from quilt.domain.records import rfc3339
from quilt.errors import BadRequest
from quilt.wire.common import ARCHIVE_BODY, Receipt
from quilt.wire.containers import (
    BatchCreate,
    ByName,
    ContainerList,
    ContainerStatus,
    CreateContainer,
    Deleted,
    LogEntry,
    Logs,
    Metrics,
    Readiness,
    Rename,
    Renamed,
)
from quilt.wire.exec import Environment, EnvironmentUpdate

router = APIRouter(prefix="/api/containers", tags=["containers"])
Execution = Annotated[
    Literal["sync", "async"] | None,
    Query(description="`async` answers 202 with an operation receipt instead of the result"),
]


def _in_background(
    request: Request,
    caller: Any,
    kind: str,
    run: Callable[[], Awaitable[dict[str, Any]]],
    *,
    target_id: str | None = None,
) -> JSONResponse:
    """Answer `?execution=async`: run the direct route's work as an operation, 202 + receipt.

    Callers check the request first (validation, existence) so bad input never gets a receipt.
    """

    async def work(_ctx: Any) -> dict[str, Any]:
        return await run()

    op = platform(request).operations.submit(
        caller.tenant_id, f"containers.{kind}", work, target_type="container", target_id=target_id
    )
    return views.accepted(op)


async def _status(request: Request, tenant: Any, container_id: str) -> ContainerStatus:
    engine = platform(request).containers
    record = engine.get(tenant, container_id)
    return views.container(record, await engine.readiness(record))


@router.post(
    "", status_code=201, response_model=ContainerStatus, summary="Create and start a container"
)
async def create(
    request: Request, body: CreateContainer, caller: Caller, execution: Execution = None
) -> Any:
    """Create and start a container; 201 with the full status once readiness is probed."""
    p = platform(request)
    if execution == "async":
        p.containers.validate(caller.tenant_id, body)

        async def create_now() -> dict[str, Any]:
            record, _, _ = await p.containers.create(caller.tenant_id, body)
            return {"container_id": record.container_id, "name": record.name}

        return _in_background(request, caller, "create", create_now)
    record, readiness, _ = await p.containers.create(caller.tenant_id, body)
    return views.container(record, readiness)


@router.get("", response_model=ContainerList, summary="List containers")
async def list_containers(
    request: Request, caller: Caller, state: str | None = None
) -> ContainerList:
    """The caller's containers, optionally filtered by `?state=`."""
    engine = platform(request).containers
    records = engine.search(caller.tenant_id, state)
    return ContainerList(
        containers=[views.container(r, await engine.readiness(r)) for r in records]
    )


@router.post("/batch", status_code=202, response_model=Receipt, summary="Create several containers")
async def batch(request: Request, body: BatchCreate, caller: Caller) -> Any:
    """Create every item in one operation; per-item results land in the operation's `items`."""
    op = platform(request).containers.submit_batch(caller.tenant_id, body.items)
    return views.accepted(op)


@router.get("/by-name/{name}", response_model=ByName, summary="Resolve a name to an id")
async def by_name(request: Request, name: str, caller: Caller) -> ByName:
    """The id of the caller's container with this name."""
    record = platform(request).containers.by_name(caller.tenant_id, name)
    return ByName(container_id=record.container_id)


@router.get("/{container_id}", response_model=ContainerStatus, summary="Container status")
async def detail(request: Request, container_id: str, caller: Caller) -> ContainerStatus:
    """Runtime status and readiness (not the create spec)."""
    return await _status(request, caller.tenant_id, container_id)


@router.get("/{container_id}/ready", response_model=Readiness, summary="Readiness checks")
async def ready(request: Request, container_id: str, caller: Caller) -> Readiness:
    """Probe the container for real: running, minit answering, network, image contract."""
    engine = platform(request).containers
    record = engine.get(caller.tenant_id, container_id)
    return views.ready(record, await engine.readiness(record))


@router.get("/{container_id}/metrics", response_model=Metrics, summary="Resource usage")
async def metrics(request: Request, container_id: str, caller: Caller) -> Metrics:
    """CPU, memory and pids as the container's cgroups account them."""
    record, usage = platform(request).containers.usage(caller.tenant_id, container_id)
    return Metrics(
        container_id=record.container_id,
        state=record.state.value,
        timestamp=rfc3339(datetime.now(UTC)) or "",
        cpu_limit_percent=record.cpu_limit_percent,
        **usage.__dict__,
    )


@router.get("/{container_id}/logs", response_model=Logs, summary="Main command output")
async def container_logs(
    request: Request,
    container_id: str,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
) -> Logs:
    """The newest `limit` lines the main command wrote (stdout and stderr)."""
    containers = platform(request).containers
    container_id = containers.resolve(caller.tenant_id, container_id)
    lines = containers.logs(caller.tenant_id, container_id, limit)
    return Logs(
        container_id=container_id,
        logs=[
            LogEntry(
                timestamp=rfc3339(line.timestamp) or "", stream=line.stream, message=line.message
            )
            for line in lines
        ],
    )


@router.post("/{container_id}/rename", response_model=Renamed, summary="Rename a container")
async def rename(request: Request, container_id: str, body: Rename, caller: Caller) -> Renamed:
    """Give the container a new name (`new_name`, or `name` as some clients send)."""
    new_name = body.new_name or body.name
    if not new_name:
        raise BadRequest(
            "rename needs `new_name`",
            details={
                "expected": ["new_name"],
                "received": "nothing",
                "example": '{"new_name": "web-2"}',
            },
        )
    containers = platform(request).containers
    container_id = containers.resolve(caller.tenant_id, container_id)
    old, new = containers.rename(caller.tenant_id, container_id, new_name)
    return Renamed(container_id=container_id, old_name=old, new_name=new, dns_updated=True)


async def _end(
    request: Request, container_id: str, caller: Any, execution: str | None, *, graceful: bool
) -> Any:
    p = platform(request)
    engine = p.containers
    action = engine.stop if graceful else engine.kill
    if execution == "async":
        engine.get(caller.tenant_id, container_id)

        async def end_now() -> dict[str, Any]:
            record = await action(caller.tenant_id, container_id)
            return {"container_id": record.container_id, "state": record.state.value}

        kind = "stop" if graceful else "kill"
        return _in_background(request, caller, kind, end_now, target_id=container_id)
    record = await action(caller.tenant_id, container_id)
    return views.container(record, await engine.readiness(record))


@router.post("/{container_id}/stop", response_model=ContainerStatus, summary="Stop gracefully")
async def stop(
    request: Request, container_id: str, caller: Caller, execution: Execution = None
) -> Any:
    """SIGTERM, a grace period, then SIGKILL; 200 once the container is stopped."""
    return await _end(request, container_id, caller, execution, graceful=True)


@router.post("/{container_id}/kill", response_model=ContainerStatus, summary="Kill at once")
async def kill(
    request: Request, container_id: str, caller: Caller, execution: Execution = None
) -> Any:
    """SIGKILL; 200 once the container is stopped."""
    return await _end(request, container_id, caller, execution, graceful=False)


@router.post(
    "/{container_id}/start", status_code=202, response_model=Receipt, summary="Start again"
)
async def start(request: Request, container_id: str, caller: Caller) -> Any:
    """Run a stopped container again on its kept filesystem (an operation)."""
    op = platform(request).containers.submit_start(caller.tenant_id, container_id, "start")
    return views.accepted(op)


@router.post("/{container_id}/resume", status_code=202, response_model=Receipt, summary="Resume")
async def resume(request: Request, container_id: str, caller: Caller) -> Any:
    """Like start; memory is not checkpointed on this host, so the main command starts afresh."""
    op = platform(request).containers.submit_start(caller.tenant_id, container_id, "resume")
    return views.accepted(op)


@router.delete("/{container_id}", response_model=Deleted, summary="Delete a container")
async def delete(
    request: Request, container_id: str, caller: Caller, execution: Execution = None
) -> Any:
    """Tear down everything of the container; 200 once nothing of it is left on the host."""
    p = platform(request)
    container_id = p.containers.get(caller.tenant_id, container_id).container_id
    if execution == "async":

        async def delete_now() -> dict[str, Any]:
            tasks = await p.containers.delete(caller.tenant_id, container_id)
            return views.deleted(container_id, tasks).model_dump()

        return _in_background(request, caller, "delete", delete_now, target_id=container_id)
    tasks = await p.containers.delete(caller.tenant_id, container_id)
    return views.deleted(container_id, tasks)


@router.get("/{container_id}/env", response_model=Environment, summary="Environment")
async def get_env(request: Request, container_id: str, caller: Caller) -> Environment:
    """The environment new execs receive."""
    return Environment(
        environment=platform(request).containers.environment(caller.tenant_id, container_id)
    )


@router.put("/{container_id}/env", summary="Replace the environment")
async def put_env(
    request: Request, container_id: str, body: EnvironmentUpdate, caller: Caller
) -> dict[str, Any]:
    """Replace the whole environment (keys not given are removed)."""
    env = platform(request).containers.set_environment(
        caller.tenant_id, container_id, body.environment, merge=False
    )
    return {"success": True, "environment": env}


@router.patch("/{container_id}/env", summary="Merge into the environment")
async def patch_env(
    request: Request, container_id: str, body: EnvironmentUpdate, caller: Caller
) -> dict[str, Any]:
    """Add or update keys, keeping the others."""
    env = platform(request).containers.set_environment(
        caller.tenant_id, container_id, body.environment, merge=True
    )
    return {"success": True, "environment": env}


@router.post(
    "/{container_id}/archive",
    status_code=202,
    response_model=Receipt,
    summary="Extract an archive into a running container",
    openapi_extra=ARCHIVE_BODY,
)
async def archive(
    request: Request,
    container_id: str,
    caller: Caller,
    path: str | None = None,
    strip_components: int | None = None,
) -> Any:
    """Extract a tar or tar.gz body under `path` (default /) as the container sees its files.

    The normal way to sync a codebase in; `strip_components` drops leading path parts.
    """
    p = platform(request)
    record = p.containers.running(caller.tenant_id, container_id, "extract an archive into")
    operation = await p.archives.into_container(
        caller.tenant_id,
        record.container_id,
        request.stream(),
        request.headers.get("content-type"),
        path=path,
        strip_components=strip_components,
    )
    return views.accepted(operation)
