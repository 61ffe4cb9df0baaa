"""Concern guides: `/api/<concern>/help|examples|health`, JSON or Markdown (`guide_markdown`).

Help is generated from the registered routes and their pydantic models, so it cannot drift
from what the server really accepts. Examples are canonical payloads (a test validates each
against its route's model). Health probes the concern's real dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from quilt.api.auth import Caller, platform
from quilt.api.guide_markdown import (
    BodyField,
    Component,
    Example,
    ExamplesDoc,
    HealthDoc,
    HelpDoc,
    RouteHelp,
    examples_markdown,
    health_markdown,
    help_markdown,
)
from quilt.domain.terminals import ENDED
from quilt.errors import NotFound

if TYPE_CHECKING:
    from fastapi import FastAPI

router = APIRouter(prefix="/api", tags=["guides"])

Doc = TypeVar("Doc", HelpDoc, ExamplesDoc, HealthDoc)

CONCERNS: Final = {
    "containers": "Create, inspect, stop, start, delete containers; readiness, metrics, logs, env.",
    "exec": "Run commands synchronously inside running containers; list and signal processes.",
    "snapshots": "Capture a container's filesystem; list, pin, expire, delete; clone from it.",
    "forks": "Branch a live container into writable copies (files and config, not memory).",
    "volumes": (
        "Named data that outlives containers: create (optionally size-limited), attach at "
        "create, inspect, rename; list, read, write and delete files; extract archives."
    ),
    "terminals": (
        "Shells on real terminals inside containers, attached over WebSocket; sessions "
        "survive a dropped connection and replay their recent output."
    ),
    "network": (
        "Each container's address, routes and names: inspect, re-address, add routes, "
        "diagnose; containers of a tenant reach each other by address and name, no one else."
    ),
    "services": (
        "Publish a container port through the Linx ingress at /linx/<service_id>/: HTTP and "
        "WebSocket, behind a signed URL (service_token) or open (public)."
    ),
    "activity": (
        "What happened to your resources, newest first: containers created, started, stopped, "
        "exited, renamed, deleted; operations finished; services published and ended."
    ),
    "notifications": (
        "What needs your attention (failures, unreachable services, finished work) and your "
        "own notes: list, add, mark read."
    ),
    "cleanup": (
        "What deleting a container released on the host, per resource; failed releases are "
        "retried; force the cleanup of a stopped container."
    ),
    "events": "Follow your tenant's container and operation changes live (server-sent events).",
    "operations": "Follow asynchronous work (start, snapshot, fork, clone, batch) by its receipt.",
    "api-keys": "Mint, list and revoke API keys of your tenant.",
}

EXAMPLES: Final[dict[str, list[Example]]] = {
    "containers": [
        {
            "title": "Create a container that idles, ready for exec",
            "method": "POST",
            "path": "/api/containers",
            "body": {"name": "demo", "image": "prod", "labels": {"team": "qa"}},
        },
        {
            "title": "Create a container with a main command and limits",
            "method": "POST",
            "path": "/api/containers",
            "body": {
                "name": "worker",
                "image": "prod",
                "command": ["/bin/sh", "-lc", "echo hello && sleep 300"],
                "environment": {"FOO": "bar"},
                "working_directory": "/app",
                "memory_limit_mb": 512,
                "cpu_limit_percent": 50,
                "strict": True,
            },
        },
        {
            "title": "Attach a volume at create (append :ro for read-only)",
            "method": "POST",
            "path": "/api/containers",
            "body": {"name": "worker", "volumes": ["data:/data"]},
        },
        {
            "title": "Sync a codebase in: `tar -cz . | curl --data-binary @-` (raw tar.gz)",
            "method": "POST",
            "path": "/api/containers/{container_id}/archive?path=/workspace",
            "body": None,
        },
        {
            "title": "Create several at once (follow the operation)",
            "method": "POST",
            "path": "/api/containers/batch",
            "body": {"items": [{"name": "web-1"}, {"name": "web-2"}]},
        },
        {
            "title": "Rename",
            "method": "POST",
            "path": "/api/containers/{container_id}/rename",
            "body": {"new_name": "renamed"},
        },
        {
            "title": "Merge into the environment",
            "method": "PATCH",
            "path": "/api/containers/{container_id}/env",
            "body": {"environment": {"LOG_LEVEL": "debug"}},
        },
    ],
    "exec": [
        {
            "title": "Stream a long command's output as it is written (NDJSON frames)",
            "method": "POST",
            "path": "/api/containers/{container_id}/stream",
            "body": {"command": ["/bin/sh", "-c", "make test"], "working_directory": "/app"},
        },
        {
            "title": "Run a command through a shell, with a timeout",
            "method": "POST",
            "path": "/api/containers/{container_id}/exec",
            "body": {
                "command": ["/bin/sh", "-lc", "ls / | wc -l"],
                "workdir": "/",
                "timeout_ms": 10000,
            },
        },
    ],
    "snapshots": [
        {
            "title": "Snapshot a running container (send X-Tenant-Id on every snapshot route)",
            "method": "POST",
            "path": "/api/containers/{container_id}/snapshot",
            "body": {"consistency_mode": "app-consistent", "labels": {"step": "deps"}},
        },
        {
            "title": "Snapshot that expires in an hour unless pinned",
            "method": "POST",
            "path": "/api/containers/{container_id}/snapshot",
            "body": {"ttl_seconds": 3600},
        },
        {
            "title": "Clone a snapshot into a new running container",
            "method": "POST",
            "path": "/api/snapshots/{snapshot_id}/clone",
            "body": {"name": "replay-1", "resume_policy": "immediate"},
        },
        {
            "title": "Walk a snapshot's lineage",
            "method": "GET",
            "path": "/api/snapshots/{snapshot_id}/lineage",
            "body": None,
        },
    ],
    "forks": [
        {
            "title": "Fork a live container once",
            "method": "POST",
            "path": "/api/containers/{container_id}/fork",
            "body": {"name": "experiment"},
        },
        {
            "title": "Ten forks from one capture",
            "method": "POST",
            "path": "/api/containers/{container_id}/fork",
            "body": {"name": "trial", "count": 10},
        },
    ],
    "volumes": [
        {
            "title": "Create a volume",
            "method": "POST",
            "path": "/api/volumes",
            "body": {"name": "data", "driver": "local", "labels": {"team": "qa"}},
        },
        {
            "title": "Create a volume capped at 512 MiB (writes past it answer 413)",
            "method": "POST",
            "path": "/api/volumes",
            "body": {"name": "scratch", "size_limit_mb": 512},
        },
        {
            "title": "Write a file (content is base64; mode as octal digits)",
            "method": "POST",
            "path": "/api/volumes/{name}/files",
            "body": {"path": "/config/app.toml", "content": "a2V5ID0gMQo=", "mode": 644},
        },
        {
            "title": "List a directory, 100 entries a page",
            "method": "GET",
            "path": "/api/volumes/{name}/ls?path=/config&page=1&page_size=100",
            "body": None,
        },
        {
            "title": "Read a file: raw bytes, metadata in X-Quilt-File-* headers",
            "method": "GET",
            "path": "/api/volumes/{name}/files/{path}",
            "body": None,
        },
        {
            "title": "Extract a tar.gz (raw body, Content-Type: application/gzip)",
            "method": "POST",
            "path": "/api/volumes/{name}/archive?path=/app&strip_components=1",
            "body": None,
        },
        {
            "title": "Rename it (attachments follow)",
            "method": "POST",
            "path": "/api/volumes/{name}/rename",
            "body": {"new_name": "data-v2"},
        },
    ],
    "terminals": [
        {
            "title": "Open a terminal (then attach to attach_url with subprotocol 'terminal')",
            "method": "POST",
            "path": "/api/terminal/sessions",
            "body": {"container_id": "ctr_…", "cols": 120, "rows": 40, "shell": "/bin/bash"},
        },
        {
            "title": "Resize it",
            "method": "POST",
            "path": "/api/terminal/sessions/{session_id}/resize",
            "body": {"cols": 160, "rows": 50},
        },
    ],
    "network": [
        {
            "title": "Check a container's network (read from its namespace, gateway pinged)",
            "method": "GET",
            "path": "/api/containers/{container_id}/network/diagnostics",
            "body": None,
        },
        {
            "title": "Move it to another free address",
            "method": "PUT",
            "path": "/api/containers/{container_id}/network",
            "body": {"ip_address": "10.203.0.50"},
        },
        {
            "title": "Route a network via the gateway from inside the container",
            "method": "POST",
            "path": "/api/containers/{container_id}/routes",
            "body": {"destination": "192.168.50.0/24"},
        },
        {
            "title": "Rename by name (peers resolve the new name at once)",
            "method": "POST",
            "path": "/api/dns/entries/{current_name}/rename",
            "body": {"new_name": "api-2"},
        },
    ],
    "services": [
        {
            "title": "Publish port 7001 behind a signed URL for an hour",
            "method": "POST",
            "path": "/api/containers/{container_id}/services",
            "body": {
                "name": "amp",
                "target_port": 7001,
                "protocol": "http",
                "enable_websockets": True,
                "auth_mode": "service_token",
                "ttl_secs": 3600,
            },
        },
        {
            "title": "Poll until status is ready, then open public_url as it is",
            "method": "GET",
            "path": "/api/services/{service_id}",
            "body": None,
        },
    ],
    "activity": [
        {
            "title": "The ten newest entries",
            "method": "GET",
            "path": "/api/activity?limit=10",
            "body": None,
        },
    ],
    "notifications": [
        {
            "title": "Unread notifications",
            "method": "GET",
            "path": "/api/notifications?unread_only=true",
            "body": None,
        },
        {
            "title": "Leave a note for your team",
            "method": "POST",
            "path": "/api/notifications",
            "body": {
                "type": "deploy",
                "title": "Staging refreshed",
                "message": "snapshot snap_… is the new base",
                "severity": "info",
            },
        },
        {
            "title": "Mark everything read",
            "method": "POST",
            "path": "/api/notifications/mark-all-read",
            "body": None,
        },
    ],
    "cleanup": [
        {
            "title": "Anything left to release?",
            "method": "GET",
            "path": "/api/cleanup/status",
            "body": None,
        },
        {
            "title": "What deleting a container released",
            "method": "GET",
            "path": "/api/containers/{container_id}/cleanup/tasks",
            "body": None,
        },
        {
            "title": "Force the cleanup of a stopped container and its own volumes",
            "method": "POST",
            "path": "/api/containers/{container_id}/cleanup/force",
            "body": {"confirm": True, "remove_volumes": True},
        },
    ],
    "events": [
        {
            "title": "Watch one container (curl -N; resume with the Last-Event-ID header)",
            "method": "GET",
            "path": "/api/events?container_id={container_id}",
            "body": None,
        },
    ],
    "operations": [
        {
            "title": "Follow an operation until it is terminal",
            "method": "GET",
            "path": "/api/operations/{operation_id}",
            "body": None,
        },
    ],
    "api-keys": [
        {"title": "Mint a key", "method": "POST", "path": "/api/api-keys", "body": {"name": "ci"}},
    ],
}


CONCERN_RULES: Final = {
    **{
        concern: [
            (
                "Send X-Tenant-Id equal to your tenant (GET /api/system/info shows it): "
                "400 without it, 403 with another tenant's."
            )
        ]
        for concern in ("snapshots", "forks")
    },
    "network": [
        "Inspect diagnostics before blaming the app or changing routes or addresses.",
        (
            "Your containers resolve each other by name (/etc/hosts, kept current on create, "
            "rename, re-address and delete); other tenants' containers are unreachable."
        ),
        (
            "Egress (NAT out of the host's uplink) follows QUILT_EGRESS: GET …/egress says "
            "whether it is on and, if not, why."
        ),
    ],
    "services": [
        "Publishing does not start the app: it must already listen on target_port (0.0.0.0).",
        (
            "Use the returned public_url; its linx_token is signed and expires. The first "
            "request sets a cookie scoped to /linx/<service_id>/ so relative links keep working."
        ),
        (
            "States: pending → ready (the port accepts connections) ↔ target_unreachable; "
            "expired after ttl_secs. The ingress answers 503 when the target is not reachable."
        ),
    ],
    "cleanup": [
        (
            "Deleting a container releases its resources in order: container (runtime state), "
            "network, mounts, rootfs (its writable layer), logs (its state directory)."
        ),
        (
            "A resource that could not be released is a failed task, retried every "
            "QUILT_CLEANUP_RETRY_SECONDS up to max_attempts; a notification says so."
        ),
        "Forced cleanup needs confirm: true and a container that is not running (else 409).",
    ],
    "terminals": [
        (
            "Attach: WebSocket GET /ws/terminal/attach?session_id=… (or ?container_id=…&cols=&rows="
            "&shell= to open one), subprotocol 'terminal', key in a header or ?token=."
        ),
        (
            "Binary frames carry raw bytes both ways. Text frames are JSON control: you send "
            "resize {cols, rows}, ping {ts}, signal {signal: SIGINT|SIGTERM|SIGHUP}, input {data}; "
            "the server sends ready (first), pong, exit {code, signal}, error {code, message}."
        ),
        (
            "A dropped connection leaves the shell running until the idle timeout; re-attaching "
            "replays recent output first. Several clients may attach to one session."
        ),
    ],
}


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API route the app serves, read from the routers it was built from."""
    routers: list[APIRouter] = app.state.routers
    return [r for router in routers for r in router.routes if isinstance(r, APIRoute)]


def routes_of(app: FastAPI, concern: str) -> list[APIRoute]:
    """The API routes that belong to a concern (by their tag)."""
    return [r for r in api_routes(app) if concern in (r.tags or [])]


def body_model(route: APIRoute) -> type[BaseModel]:
    """The pydantic model of a route's JSON body."""
    assert route.body_field is not None  # noqa: S101 - callers check
    model = route.body_field.field_info.annotation
    assert isinstance(model, type)  # noqa: S101
    assert issubclass(model, BaseModel)  # noqa: S101
    return model


def _body_fields(route: APIRoute) -> dict[str, BodyField]:
    if route.body_field is None:
        return {}
    schema = body_model(route).model_json_schema()
    required = set(schema.get("required", []))
    fields: dict[str, BodyField] = {}
    for name, prop in schema.get("properties", {}).items():
        if name == "async_mode":
            continue
        field: BodyField = {
            "type": prop.get("type") or [a.get("type") for a in prop.get("anyOf", [])],
            "required": name in required,
        }
        if "description" in prop:
            field["description"] = prop["description"]
        fields[name] = field
    return fields


def describe(app: FastAPI, concern: str) -> HelpDoc:
    """The help document of one concern, read off the live routes."""
    routes: list[RouteHelp] = [
        {
            "method": method,
            "path": route.path_format,
            "summary": route.summary or "",
            "description": (route.description or "").strip(),
            "status": route.status_code or 200,
            "query": [q.name for q in route.dependant.query_params],
            "body": _body_fields(route),
            "response": getattr(route.response_model, "__name__", None),
        }
        for route in routes_of(app, concern)
        for method in sorted(route.methods or ())
    ]
    return {
        "concern": concern,
        "summary": CONCERNS[concern],
        "routes": routes,
        "rules": [
            "Authenticate with X-Api-Key or Authorization: Bearer.",
            "Errors share one shape: {error, error_code, request_id, details?, hint?}.",
            "A 202 answer is a receipt: follow status_url until the operation is terminal.",
            *CONCERN_RULES.get(concern, []),
        ],
    }


def _negotiate(request: Request, data: Doc, markdown: Callable[[Doc], str]) -> Response:
    wants_md = request.query_params.get(
        "format"
    ) == "markdown" or "text/markdown" in request.headers.get("accept", "")
    if wants_md:
        return PlainTextResponse(markdown(data), media_type="text/markdown")
    return JSONResponse(data)


def _concern(name: str) -> str:
    if name not in CONCERNS:
        raise NotFound(
            f"no concern named {name!r}", details={"expected": sorted(CONCERNS), "received": name}
        )
    return name


@router.get("/{concern}/help", summary="Concern help")
async def help_(request: Request, concern: str, _caller: Caller) -> Response:
    """Routes, fields and rules of one concern, generated from the live routes."""
    return _negotiate(request, describe(request.app, _concern(concern)), help_markdown)


@router.get("/{concern}/examples", summary="Concern examples")
async def examples(request: Request, concern: str, _caller: Caller) -> Response:
    """Canonical payloads and flows of one concern."""
    doc: ExamplesDoc = {"concern": _concern(concern), "examples": EXAMPLES[concern]}
    return _negotiate(request, doc, examples_markdown)


@router.get("/{concern}/health", summary="Concern health")
async def health(request: Request, concern: str, caller: Caller) -> Response:
    """Whether the concern can take new work right now, from real probes."""
    p = platform(request)
    _concern(concern)
    components: list[Component] = []
    if concern in ("containers", "exec", "network"):
        wanted = {"exec": ("runtime", "minit"), "network": ("bridge", "firewall", "egress")}
        components = [
            {"name": c.name, "ok": c.ok, "detail": c.detail}
            for c in await p.node.health()
            if concern not in wanted or c.name in wanted[concern]
        ]
    database_ok = p.store.writable()
    components.append(
        {"name": "database", "ok": database_ok, "detail": p.store.engine.dialect.name}
    )
    if concern in ("snapshots", "forks", "volumes"):
        backend = p.node.storage.backend
        components.append(
            {
                "name": "storage",
                "ok": p.node.storage.root.is_dir(),
                "detail": f"{backend}: "
                + ("O(1) copy-on-write captures" if backend == "btrfs" else "captures copy files"),
            }
        )
    if concern in ("snapshots", "forks"):
        components.append(
            {"name": "freezer", "ok": p.node.can_freeze(), "detail": "cgroup freezer"}
        )
    if concern == "terminals":
        open_now = [s for s in p.terminals.sessions.values() if s.state not in ENDED]
        components.append(
            {"name": "sessions", "ok": not p.tasks.closed, "detail": f"{len(open_now)} open"}
        )
    if concern == "services":
        live = [s for s in p.services.all() if s.status not in ("expired", "error")]
        components.append(
            {"name": "ingress", "ok": not p.tasks.closed, "detail": f"{len(live)} published"}
        )
    if concern == "events":
        components.append(
            {"name": "stream", "ok": not p.tasks.closed, "detail": f"last event {p.events.last_id}"}
        )
    if concern == "cleanup":
        failed = p.cleanup.status(caller.tenant_id)["failed"]
        components.append(
            {"name": "tasks", "ok": failed == 0, "detail": f"{failed} failed, retried"}
        )
    if concern == "operations":
        components.append(
            {"name": "tasks", "ok": not p.tasks.closed, "detail": f"{len(p.tasks)} running"}
        )
    body: HealthDoc = {
        "concern": concern,
        "status": "ok" if all(c["ok"] for c in components) else "degraded",
        "components": components,
    }
    if concern == "containers":
        body["runtime"] = p.node.runtime.name
        body["storage_backend"] = p.node.storage.backend
        body["warm_pool"] = {image: len(members) for image, members in p.node.pool.ready.items()}
    return _negotiate(request, body, health_markdown)
