"""The SDK against the server's own routes and models: nothing unreachable, nothing drifting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel
from starlette.routing import Match

import quilt
from quilt.api.app import create_app
from quilt.api.guides import api_routes
from quilt.sdk import _access_calls, _account_calls, _calls
from quilt.sdk._core import Call, StreamCall
from quilt.settings import Settings
from quilt.wire import (
    activity,
    apikeys,
    cleanup,
    common,
    containers,
    exec,  # noqa: A004 - the server's exec wire module
    notifications,
    operations,
    services,
    snapshots,
    terminals,
    volumes,
)

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.routing import APIRoute

C = "ctr_1"
# One sample of every call the SDK can make.
SAMPLES: list[Call[Any] | StreamCall[Any]] = [
    _calls.ContainerCalls.create("web", image="busybox", command=["sleep", "1"], labels={"a": "b"}),
    _calls.ContainerCalls.list("running"),
    _calls.ContainerCalls.get(C),
    _calls.ContainerCalls.by_name("web"),
    _calls.ContainerCalls.ready(C),
    _calls.ContainerCalls.metrics(C),
    _calls.ContainerCalls.logs(C, 10),
    _calls.ContainerCalls.rename(C, "web-2"),
    _calls.ContainerCalls.stop(C),
    _calls.ContainerCalls.kill(C),
    _calls.ContainerCalls.start(C),
    _calls.ContainerCalls.resume(C),
    _calls.ContainerCalls.delete(C),
    _calls.ContainerCalls.batch([{"name": "a"}, {"name": "b", "command": ["true"]}]),
    _calls.ContainerCalls.exec(
        C, ["echo", "hi"], workdir="/", timeout_ms=5, environment={"A": "1"}
    ),
    _calls.ContainerCalls.stream(C, ["echo"], working_directory="/", timeout_ms=5),
    _calls.ContainerCalls.processes(C),
    _calls.ContainerCalls.signal(C, 7, "KILL"),
    _calls.ContainerCalls.upload_archive(C, b"\x1f\x8b", path="/app", strip_components=1),
    _calls.EnvCalls.get(C),
    _calls.EnvCalls.set(C, {"A": "1"}),
    _calls.EnvCalls.patch(C, {"B": "2"}),
    _calls.OperationCalls.get("op_1"),
    _calls.SnapshotCalls.create(C, consistency_mode="app-consistent", ttl_seconds=60),
    _calls.SnapshotCalls.list(C, {"team": "qa"}),
    _calls.SnapshotCalls.get("snap_1"),
    _calls.SnapshotCalls.lineage("snap_1"),
    _calls.SnapshotCalls.pin("snap_1"),
    _calls.SnapshotCalls.pin("snap_1", pinned=False),
    _calls.SnapshotCalls.delete("snap_1"),
    _calls.SnapshotCalls.clone("snap_1", name="c", resume_policy="manual"),
    _calls.ForkCalls.create(C, name="f", count=2, network_mode="reset"),
    _calls.VolumeCalls.create("data", size_limit_mb=10, labels={"a": "b"}),
    _calls.VolumeCalls.list(),
    _calls.VolumeCalls.get("data"),
    _calls.VolumeCalls.inspect("data"),
    _calls.VolumeCalls.rename("data", "data-2"),
    _calls.VolumeCalls.delete("data"),
    _calls.VolumeCalls.upload_archive("data", b"tar", path="/x"),
    _calls.FileCalls.list("data", "/dir", page=1, page_size=10),
    _calls.FileCalls.read("data", "/dir/a.txt"),
    _calls.FileCalls.write("data", "/dir/a.txt", "hello", mode=0o600),
    _calls.FileCalls.delete("data", "/dir", recursive=True),
    _access_calls.NetworkCalls.get(C),
    _access_calls.NetworkCalls.readdress(C, "10.0.0.9"),
    _access_calls.NetworkCalls.setup(C),
    _access_calls.NetworkCalls.diagnostics(C),
    _access_calls.NetworkCalls.egress(C),
    _access_calls.NetworkCalls.add_route(C, "10.9.0.0/24"),
    _access_calls.NetworkCalls.delete_route(C, "10.9.0.0/24"),
    _access_calls.NetworkCalls.allocations(),
    _access_calls.NetworkCalls.dns_entries(),
    _access_calls.NetworkCalls.rename_dns_entry("web", "web-2"),
    _access_calls.ServiceCalls.create(C, "app", 8080, auth_mode="public", ttl_secs=60),
    _access_calls.ServiceCalls.list(C),
    _access_calls.ServiceCalls.get("lnx_1"),
    _access_calls.ServiceCalls.delete("lnx_1"),
    _access_calls.TerminalCalls.create(C, cols=100, rows=30, shell="/bin/sh"),  # noqa: S604 - a login shell name, not shell=True
    _access_calls.TerminalCalls.list("container"),
    _access_calls.TerminalCalls.get("term_1"),
    _access_calls.TerminalCalls.resize("term_1", 120, 40),
    _access_calls.TerminalCalls.delete("term_1"),
    _access_calls.EventCalls.stream(container_id=C, operation_id="op_1", last_event_id="1.2"),
    _account_calls.ActivityCalls.list(5),
    _account_calls.NotificationCalls.list(unread_only=True, limit=5),
    _account_calls.NotificationCalls.create("note", "Title", "Body", "warning"),
    _account_calls.NotificationCalls.mark_read("ntf_1"),
    _account_calls.NotificationCalls.mark_all_read(),
    _account_calls.CleanupCalls.status(),
    _account_calls.CleanupCalls.tasks(status="failed", limit=5),
    _account_calls.CleanupCalls.tasks(container_id=C),
    _account_calls.CleanupCalls.force(C, remove_volumes=True),
    _account_calls.ApiKeyCalls.list(),
    _account_calls.ApiKeyCalls.create("ci"),
    _account_calls.ApiKeyCalls.delete("key_1"),
    _account_calls.SystemCalls.health(),
    _account_calls.SystemCalls.info(),
    _account_calls.GuideCalls.help("containers"),
    _account_calls.GuideCalls.examples("containers"),
    _account_calls.GuideCalls.health("containers"),
]

# Routes the SDK leaves out on purpose, with the reason.
LEFT_OUT = {
    ("GET", "/api/containers/{container_id}/jobs"): "legacy job-era view; exec is synchronous",
    ("GET", "/api/containers/{container_id}/jobs/{job_id}"): "legacy job-era view",
}

# SDK models and the server's wire models they stand for.
MODELS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (quilt.Receipt, common.Receipt),
    (quilt.Success, common.Success),
    (quilt.Operation, operations.Operation),
    (quilt.Phase, operations.Phase),
    (quilt.Container, containers.ContainerStatus),
    (quilt.Checks, containers.Checks),
    (quilt.Readiness, containers.Readiness),
    (quilt.Metrics, containers.Metrics),
    (quilt.LogEntry, containers.LogEntry),
    (quilt.Renamed, containers.Renamed),
    (quilt.Deleted, containers.Deleted),
    (quilt.ExecResult, exec.ExecResult),
    (quilt.ProcessInfo, exec.ProcessInfo),
    (quilt.Signalled, exec.Signalled),
    (quilt.Snapshot, snapshots.Snapshot),
    (quilt.IncludedVolume, snapshots.IncludedVolume),
    (quilt.Lineage, snapshots.Lineage),
    (quilt.LineageNode, snapshots.LineageNode),
    (quilt.CloneNode, snapshots.CloneNode),
    (quilt.SnapshotDeleted, snapshots.SnapshotDeleted),
    (quilt.Volume, volumes.Volume),
    (quilt.VolumeInspect, volumes.VolumeInspect),
    (quilt.Attachment, volumes.Attachment),
    (quilt.VolumeRenamed, volumes.Renamed),
    (quilt.FileEntry, volumes.FileEntry),
    (quilt.FileList, volumes.FileList),
    (quilt.FileRemoved, volumes.FileRemoved),
    (quilt.Service, services.Service),
    (quilt.TerminalSession, terminals.Session),
    (quilt.ApiKey, apikeys.ApiKey),
    (quilt.CreatedApiKey, apikeys.CreatedApiKey),
    (quilt.ActivityEntry, activity.ActivityEntry),
    (quilt.Notification, notifications.Notification),
    (quilt.NotificationList, notifications.NotificationList),
    (quilt.MarkedRead, notifications.MarkedRead),
    (quilt.CleanupTask, cleanup.CleanupTask),
    (quilt.CleanupStatus, cleanup.CleanupStatus),
    (quilt.ForcedCleanup, cleanup.ForcedCleanup),
]


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[APIRoute]:
    """The server's API routes, read from an app that is built but never started."""
    data: Path = tmp_path_factory.mktemp("routes") / "data"
    return api_routes(create_app(Settings(data_dir=data)))


def _request(sample: Call[Any] | StreamCall[Any]) -> Call[Any]:
    return sample.call if isinstance(sample, StreamCall) else sample


def _route_of(routes: list[APIRoute], call: Call[Any]) -> APIRoute:
    scope = {"type": "http", "path": call.path, "method": call.method, "root_path": ""}
    found = [r for r in routes if r.matches(scope)[0] is Match.FULL]
    assert found, f"no server route for {call.method} {call.path}"
    return found[0]


@pytest.mark.parametrize(
    "sample", SAMPLES, ids=[f"{_request(s).method} {_request(s).path}" for s in SAMPLES]
)
def test_every_sdk_call_is_a_route_the_server_accepts(
    routes: list[APIRoute], sample: Call[Any] | StreamCall[Any]
) -> None:
    """Each call hits a real route with query names it reads and a body its model accepts."""
    call = _request(sample)
    route = _route_of(routes, call)
    known = {q.name for q in route.dependant.query_params}
    sent = {k for k, v in (call.params or {}).items() if v is not None}
    assert sent <= known, f"{route.path} reads {known}, not {sent - known}"
    if route.body_field is not None:
        model = route.body_field.field_info.annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        model.model_validate(call.json)
        assert not set(call.json) - set(model.model_fields), "fields the server ignores"
    snapshot_or_fork = route.path.startswith("/api/snapshots") or route.path.endswith(
        ("/snapshot", "/fork")
    )
    assert call.tenant_scoped is snapshot_or_fork


def test_every_server_route_is_reachable_through_the_sdk(routes: list[APIRoute]) -> None:
    """Each route the server serves (but the named legacy ones) has an SDK call."""
    covered = {(_request(s).method, _route_of(routes, _request(s)).path) for s in SAMPLES}
    served = {(m, r.path) for r in routes for m in r.methods or () if m != "HEAD"}
    missing = served - covered - set(LEFT_OUT)
    assert not missing, f"routes without an SDK call: {sorted(missing)}"
    assert set(LEFT_OUT) <= served, "a left-out route is gone: drop it from LEFT_OUT"


@pytest.mark.parametrize(("sdk", "wire"), MODELS, ids=[m[0].__name__ for m in MODELS])
def test_sdk_models_declare_every_server_field(sdk: type[BaseModel], wire: type[BaseModel]) -> None:
    """Every field the server's response model has, the SDK's model declares by the same name."""
    missing = set(wire.model_fields) - set(sdk.model_fields)
    assert not missing, f"{sdk.__name__} lacks {sorted(missing)}"
