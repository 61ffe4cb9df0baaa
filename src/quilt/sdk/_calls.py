"""The runtime concerns' routes as pure functions from arguments to a `Call`.

Containers (with env, exec, processes, archives), operations, snapshots, forks, volumes and
their files; `_access_calls` and `_account_calls` hold the other concerns. One class per
concern, mirroring `client.<concern>`; the sync and async clients send what these return and
nothing else. Paths, query parameters and bodies are decided here only.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Final, Unpack

import httpx

from quilt.sdk import _core as core
from quilt.sdk._core import CONTAINERS, Call, StreamCall, argv, container_path, segment, tail
from quilt.sdk._models import (
    Container,
    Deleted,
    ExecResult,
    FileEntry,
    FileList,
    FileRemoved,
    Lineage,
    LogEntry,
    Metrics,
    Operation,
    ProcessInfo,
    Readiness,
    Receipt,
    Renamed,
    Signalled,
    Snapshot,
    SnapshotDeleted,
    Volume,
    VolumeInspect,
    VolumeRenamed,
)
from quilt.sdk._streams import Frames

if TYPE_CHECKING:
    import builtins
    from collections.abc import Mapping, Sequence

    from quilt.sdk._models import StreamFrame
    from quilt.sdk._params import (
        CloneOptions,
        ContainerSpec,
        ForkOptions,
        NewContainer,
        SnapshotOptions,
        VolumeOptions,
    )

EXEC_GRACE: Final = 30.0  # seconds past an exec's own timeout before the client gives up
GZIP_MAGIC: Final = b"\x1f\x8b"


def _archive(path: str, data: bytes, target: str | None, strip: int | None) -> Call[Receipt]:
    kind = "application/gzip" if data[:2] == GZIP_MAGIC else "application/x-tar"
    return Call(
        "POST",
        path,
        core.one(Receipt),
        params={"path": target, "strip_components": strip},
        content=data,
        headers={"Content-Type": kind},
    )


class ContainerCalls:
    """`client.containers`: lifecycle, status, logs, exec, processes, archives."""

    @staticmethod
    def create(name: str, **spec: Unpack[ContainerSpec]) -> Call[Container]:
        """`POST /api/containers` (201 once the container runs and is probed)."""
        body = {"name": name, **spec}
        if "command" in spec:
            body["command"] = argv(spec["command"])
        return Call("POST", CONTAINERS, core.one(Container), json=body)

    @staticmethod
    def list(state: str | None = None) -> Call[builtins.list[Container]]:
        """`GET /api/containers[?state=]`."""
        return Call("GET", CONTAINERS, core.many(Container, "containers"), params={"state": state})

    @staticmethod
    def get(container_id: str) -> Call[Container]:
        """`GET /api/containers/<id>`."""
        return Call("GET", container_path(container_id), core.one(Container))

    @staticmethod
    def by_name(name: str) -> Call[str]:
        """`GET /api/containers/by-name/<name>`: the container's id."""
        return Call("GET", f"{CONTAINERS}/by-name/{segment(name)}", core.text("container_id"))

    @staticmethod
    def ready(container_id: str) -> Call[Readiness]:
        """`GET …/ready`."""
        return Call("GET", container_path(container_id, "ready"), core.one(Readiness))

    @staticmethod
    def metrics(container_id: str) -> Call[Metrics]:
        """`GET …/metrics`."""
        return Call("GET", container_path(container_id, "metrics"), core.one(Metrics))

    @staticmethod
    def logs(container_id: str, limit: int | None = None) -> Call[builtins.list[LogEntry]]:
        """`GET …/logs[?limit=]`."""
        path = container_path(container_id, "logs")
        return Call("GET", path, core.many(LogEntry, "logs"), params={"limit": limit})

    @staticmethod
    def rename(container_id: str, new_name: str) -> Call[Renamed]:
        """`POST …/rename`."""
        path = container_path(container_id, "rename")
        return Call("POST", path, core.one(Renamed), json={"new_name": new_name})

    @staticmethod
    def stop(container_id: str) -> Call[Container]:
        """`POST …/stop` (200 once stopped)."""
        return Call("POST", container_path(container_id, "stop"), core.one(Container), json={})

    @staticmethod
    def kill(container_id: str) -> Call[Container]:
        """`POST …/kill` (200 once stopped)."""
        return Call("POST", container_path(container_id, "kill"), core.one(Container), json={})

    @staticmethod
    def start(container_id: str) -> Call[Receipt]:
        """`POST …/start` (202: an operation)."""
        return Call("POST", container_path(container_id, "start"), core.one(Receipt), json={})

    @staticmethod
    def resume(container_id: str) -> Call[Receipt]:
        """`POST …/resume` (202: an operation)."""
        return Call("POST", container_path(container_id, "resume"), core.one(Receipt), json={})

    @staticmethod
    def delete(container_id: str) -> Call[Deleted]:
        """`DELETE /api/containers/<id>` (200 once nothing of it is left)."""
        return Call("DELETE", container_path(container_id), core.one(Deleted))

    @staticmethod
    def batch(items: Sequence[NewContainer]) -> Call[Receipt]:
        """`POST /api/containers/batch` (202: an operation; per-item results in `items`)."""
        body = [
            {**item, "command": argv(item["command"])} if "command" in item else dict(item)
            for item in items
        ]
        return Call("POST", f"{CONTAINERS}/batch", core.one(Receipt), json={"items": body})

    @staticmethod
    def exec(
        container_id: str,
        command: Sequence[str],
        *,
        workdir: str | None = None,
        timeout_ms: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> Call[ExecResult]:
        """`POST …/exec`: waits as long as the command may run, plus a grace."""
        body: dict[str, object] = {"command": argv(command)}
        if workdir is not None:
            body["workdir"] = workdir
        if timeout_ms is not None:
            body["timeout_ms"] = timeout_ms
        if environment:
            body["environment"] = dict(environment)
        wait = httpx.Timeout(timeout_ms / 1000 + EXEC_GRACE) if timeout_ms is not None else None
        path = container_path(container_id, "exec")
        return Call("POST", path, core.one(ExecResult), json=body, timeout=wait)

    @staticmethod
    def stream(
        container_id: str,
        command: Sequence[str],
        *,
        working_directory: str | None = None,
        timeout_ms: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> StreamCall[StreamFrame]:
        """`POST …/stream`: NDJSON frames as the command writes."""
        body: dict[str, object] = {"command": argv(command)}
        if working_directory is not None:
            body["working_directory"] = working_directory
        if timeout_ms is not None:
            body["timeout_ms"] = timeout_ms
        if environment:
            body["environment"] = dict(environment)
        call: Call[None] = Call(
            "POST",
            container_path(container_id, "stream"),
            core.nothing,
            json=body,
            headers={"Accept": "application/x-ndjson"},
            timeout=core.ENDLESS,
        )
        return StreamCall(call, Frames)

    @staticmethod
    def processes(container_id: str) -> Call[builtins.list[ProcessInfo]]:
        """`GET …/processes`."""
        path = container_path(container_id, "processes")
        return Call("GET", path, core.many(ProcessInfo, "processes"))

    @staticmethod
    def signal(container_id: str, pid: int, signal: str = "TERM") -> Call[Signalled]:
        """`DELETE …/processes/<pid>?signal=`."""
        path = container_path(container_id, "processes", str(pid))
        return Call("DELETE", path, core.one(Signalled), params={"signal": signal})

    @staticmethod
    def upload_archive(
        container_id: str,
        data: bytes,
        *,
        path: str | None = None,
        strip_components: int | None = None,
    ) -> Call[Receipt]:
        """`POST …/archive?path=&strip_components=` with the raw tar (or tar.gz) body."""
        return _archive(container_path(container_id, "archive"), data, path, strip_components)


class EnvCalls:
    """`client.containers.env`: the environment new execs receive."""

    @staticmethod
    def get(container_id: str) -> Call[dict[str, str]]:
        """`GET …/env`."""
        return Call("GET", container_path(container_id, "env"), core.mapping("environment"))

    @staticmethod
    def set(container_id: str, environment: Mapping[str, str]) -> Call[dict[str, str]]:
        """`PUT …/env`: replace the whole environment."""
        path = container_path(container_id, "env")
        body = {"environment": dict(environment)}
        return Call("PUT", path, core.mapping("environment"), json=body)

    @staticmethod
    def patch(container_id: str, environment: Mapping[str, str]) -> Call[dict[str, str]]:
        """`PATCH …/env`: add or update keys, keeping the others."""
        path = container_path(container_id, "env")
        body = {"environment": dict(environment)}
        return Call("PATCH", path, core.mapping("environment"), json=body)


class OperationCalls:
    """`client.operations`."""

    @staticmethod
    def get(operation_id: str) -> Call[Operation]:
        """`GET /api/operations/<id>`."""
        return Call("GET", f"/api/operations/{segment(operation_id)}", core.one(Operation))


class SnapshotCalls:
    """`client.snapshots` (every route carries X-Tenant-Id)."""

    @staticmethod
    def create(container_id: str, **options: Unpack[SnapshotOptions]) -> Call[Receipt]:
        """`POST /api/containers/<id>/snapshot` (202: `result.snapshot_id` names it)."""
        path = container_path(container_id, "snapshot")
        return Call("POST", path, core.one(Receipt), json=dict(options), tenant_scoped=True)

    @staticmethod
    def list(
        container_id: str | None = None, labels: Mapping[str, str] | None = None
    ) -> Call[builtins.list[Snapshot]]:
        """`GET /api/snapshots[?container_id=][&label=k=v…]`."""
        params = {
            "container_id": container_id,
            "label": [f"{k}={v}" for k, v in (labels or {}).items()] or None,
        }
        parse = core.many(Snapshot, "snapshots")
        return Call("GET", "/api/snapshots", parse, params=params, tenant_scoped=True)

    @staticmethod
    def get(snapshot_id: str) -> Call[Snapshot]:
        """`GET /api/snapshots/<id>`."""
        path = f"/api/snapshots/{segment(snapshot_id)}"
        return Call("GET", path, core.one(Snapshot), tenant_scoped=True)

    @staticmethod
    def lineage(snapshot_id: str) -> Call[Lineage]:
        """`GET /api/snapshots/<id>/lineage`."""
        path = f"/api/snapshots/{segment(snapshot_id)}/lineage"
        return Call("GET", path, core.one(Lineage), tenant_scoped=True)

    @staticmethod
    def pin(snapshot_id: str, *, pinned: bool = True) -> Call[Snapshot]:
        """`POST /api/snapshots/<id>/pin` (or `/unpin`): the snapshot as it is now."""
        action = "pin" if pinned else "unpin"
        path = f"/api/snapshots/{segment(snapshot_id)}/{action}"
        return Call("POST", path, core.inner(Snapshot, "snapshot"), json={}, tenant_scoped=True)

    @staticmethod
    def delete(snapshot_id: str) -> Call[SnapshotDeleted]:
        """`DELETE /api/snapshots/<id>`."""
        path = f"/api/snapshots/{segment(snapshot_id)}"
        return Call("DELETE", path, core.one(SnapshotDeleted), tenant_scoped=True)

    @staticmethod
    def clone(snapshot_id: str, **options: Unpack[CloneOptions]) -> Call[Receipt]:
        """`POST /api/snapshots/<id>/clone` (202: `result.container_id` names the clone)."""
        path = f"/api/snapshots/{segment(snapshot_id)}/clone"
        return Call("POST", path, core.one(Receipt), json=dict(options), tenant_scoped=True)


class ForkCalls:
    """`client.forks`."""

    @staticmethod
    def create(container_id: str, **options: Unpack[ForkOptions]) -> Call[Receipt]:
        """`POST /api/containers/<id>/fork` (202: `result.container_ids` name the children)."""
        path = container_path(container_id, "fork")
        return Call("POST", path, core.one(Receipt), json=dict(options), tenant_scoped=True)


def _volume(name: str, *rest: str) -> str:
    return "/".join(("/api/volumes", segment(name), *rest))


class VolumeCalls:
    """`client.volumes`."""

    @staticmethod
    def create(name: str, **options: Unpack[VolumeOptions]) -> Call[Volume]:
        """`POST /api/volumes`."""
        return Call("POST", "/api/volumes", core.one(Volume), json={"name": name, **options})

    @staticmethod
    def list() -> Call[builtins.list[Volume]]:
        """`GET /api/volumes`."""
        return Call("GET", "/api/volumes", core.many(Volume, "volumes"))

    @staticmethod
    def get(name: str) -> Call[Volume]:
        """`GET /api/volumes/<name>`."""
        return Call("GET", _volume(name), core.one(Volume))

    @staticmethod
    def inspect(name: str) -> Call[VolumeInspect]:
        """`GET /api/volumes/<name>/inspect`."""
        return Call("GET", _volume(name, "inspect"), core.one(VolumeInspect))

    @staticmethod
    def rename(name: str, new_name: str) -> Call[VolumeRenamed]:
        """`POST /api/volumes/<name>/rename`."""
        path = _volume(name, "rename")
        return Call("POST", path, core.one(VolumeRenamed), json={"new_name": new_name})

    @staticmethod
    def delete(name: str) -> Call[Receipt]:
        """`DELETE /api/volumes/<name>` (202: an operation)."""
        return Call("DELETE", _volume(name), core.one(Receipt))

    @staticmethod
    def upload_archive(
        name: str, data: bytes, *, path: str | None = None, strip_components: int | None = None
    ) -> Call[Receipt]:
        """`POST /api/volumes/<name>/archive?path=&strip_components=` with the raw tar body."""
        return _archive(_volume(name, "archive"), data, path, strip_components)


class FileCalls:
    """`client.volumes.files`."""

    @staticmethod
    def list(
        name: str, path: str = "/", *, page: int | None = None, page_size: int | None = None
    ) -> Call[FileList]:
        """`GET /api/volumes/<name>/ls?path=&page=&page_size=`."""
        params = {"path": path, "page": page, "page_size": page_size}
        return Call("GET", _volume(name, "ls"), core.one(FileList), params=params)

    @staticmethod
    def read(name: str, path: str) -> Call[bytes]:
        """`GET /api/volumes/<name>/files/<path>`: the raw bytes."""
        headers = {"Accept": "application/octet-stream"}
        return Call("GET", _volume(name, "files", tail(path)), core.raw, headers=headers)

    @staticmethod
    def write(name: str, path: str, data: bytes | str, *, mode: int = 0o644) -> Call[FileEntry]:
        """`POST /api/volumes/<name>/files`: text is written as UTF-8; `mode` as octal digits."""
        raw = data.encode() if isinstance(data, str) else data
        body = {"path": path, "content": base64.b64encode(raw).decode(), "mode": f"{mode:o}"}
        return Call("POST", _volume(name, "files"), core.one(FileEntry), json=body)

    @staticmethod
    def delete(name: str, path: str, *, recursive: bool = False) -> Call[FileRemoved]:
        """`DELETE /api/volumes/<name>/files/<path>[?recursive=true]`."""
        params = {"recursive": "true"} if recursive else None
        url = _volume(name, "files", tail(path))
        return Call("DELETE", url, core.one(FileRemoved), params=params)
