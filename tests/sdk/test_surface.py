"""The SDK's public surface: what `quilt` exports, what importing it costs, sync/async parity."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from pydantic import BaseModel

import quilt
import quilt.sdk
from quilt import AsyncQuilt, Quilt
from quilt.sdk import _async_resources, _resources

PUBLIC = [
    "__version__",
    "ActivityEntry",
    "Allocation",
    "Allocations",
    "ApiKey",
    "AsyncQuilt",
    "AsyncTerminalConnection",
    "Attachment",
    "BadGateway",
    "BadRequest",
    "CapacityFull",
    "Checks",
    "CleanupStatus",
    "CleanupTask",
    "CloneNode",
    "CloneOptions",
    "Component",
    "ConcernExamples",
    "ConcernHealth",
    "ConcernHelp",
    "Conflict",
    "ConnectionError",
    "Container",
    "ContainerNetwork",
    "ContainerSpec",
    "CreatedApiKey",
    "Deleted",
    "DnsEntry",
    "Egress",
    "Event",
    "ExecResult",
    "FileEntry",
    "FileList",
    "FileRemoved",
    "Forbidden",
    "ForcedCleanup",
    "ForkOptions",
    "Health",
    "IncludedVolume",
    "Interface",
    "InternalError",
    "LimitReached",
    "Lineage",
    "LineageNode",
    "LogEntry",
    "MarkedRead",
    "Metrics",
    "NetworkDiagnostics",
    "NetworkSetup",
    "NewContainer",
    "NotFound",
    "Notification",
    "NotificationList",
    "Operation",
    "PayloadTooLarge",
    "Phase",
    "ProcessInfo",
    "Quilt",
    "QuiltError",
    "QuotaExceeded",
    "Readiness",
    "Receipt",
    "Renamed",
    "Route",
    "RouteChange",
    "Service",
    "ServiceOptions",
    "ServiceUnavailable",
    "SessionOptions",
    "Signalled",
    "Snapshot",
    "SnapshotDeleted",
    "SnapshotInUse",
    "SnapshotOptions",
    "SnapshotPinned",
    "StreamFrame",
    "Success",
    "SystemInfo",
    "TerminalConnection",
    "TerminalSession",
    "Unauthorized",
    "UnprocessableEntity",
    "Volume",
    "VolumeInspect",
    "VolumeOptions",
    "VolumeRenamed",
    "WaitTimeout",
]

COLLECTIONS = [
    "containers",
    "operations",
    "snapshots",
    "forks",
    "volumes",
    "network",
    "services",
    "terminals",
    "events",
    "activity",
    "notifications",
    "cleanup",
    "api_keys",
    "system",
    "guides",
]


def test_public_surface_is_locked() -> None:
    """`quilt.__all__` is exactly the reviewed list; a new export must be added here on purpose."""
    assert quilt.__all__ == PUBLIC
    assert quilt.sdk.__all__ == PUBLIC[1:]
    for name in PUBLIC:
        assert getattr(quilt, name) is not None


def test_every_export_is_public_and_documented() -> None:
    """Each exported class comes from the SDK and has a docstring."""
    for name in quilt.sdk.__all__:
        obj = getattr(quilt.sdk, name)
        assert obj.__module__.startswith("quilt.sdk."), name
        assert inspect.getdoc(obj), name


def test_every_model_keeps_unknown_fields() -> None:
    """Every exported model accepts fields a newer server adds, and keeps them."""
    models = [
        getattr(quilt, n)
        for n in quilt.__all__
        if inspect.isclass(getattr(quilt, n)) and issubclass(getattr(quilt, n), BaseModel)
    ]
    assert len(models) > 40
    for model in models:
        assert model.model_config.get("extra") == "allow", model.__name__
    parsed = quilt.Receipt.model_validate({"operation_id": "op_1", "snapshot_id": "snap_1"})
    assert parsed.model_extra == {"snapshot_id": "snap_1"}


def test_importing_quilt_loads_no_server_module() -> None:
    """`import quilt` (and so the SDK) pulls in neither FastAPI, SQLAlchemy nor the server."""
    code = (
        "import sys, quilt; from quilt import Quilt, AsyncQuilt; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy', "
        "'starlette', 'uvicorn', 'alembic') or m.startswith(('quilt.api', 'quilt.engine', "
        "'quilt.store', 'quilt.domain', 'quilt.drivers', 'quilt.node', 'quilt.wire'))]; "
        "print(','.join(sorted(bad)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_both_clients_have_the_same_collections() -> None:
    """`Quilt` and `AsyncQuilt` expose the same collections, named after the concerns."""
    with Quilt() as sync:
        assert [c for c in COLLECTIONS if hasattr(sync, c)] == COLLECTIONS
    client = AsyncQuilt()
    assert [c for c in COLLECTIONS if hasattr(client, c)] == COLLECTIONS


def _resource_classes(module: object, prefix: str) -> dict[str, type]:
    return {
        name.removeprefix(prefix): cls
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and cls.__module__ == getattr(module, "__name__", "")
    }


@pytest.mark.parametrize(
    "name", sorted(set(_resource_classes(_resources, "")) - {"Resource"}), ids=str
)
def test_async_methods_mirror_sync_methods(name: str) -> None:
    """Each async collection has the sync one's methods with the same parameters, awaited."""
    sync_cls = _resource_classes(_resources, "")[name]
    async_cls = _resource_classes(_async_resources, "Async")[name]
    sync_methods = {n: f for n, f in vars(sync_cls).items() if inspect.isfunction(f)}
    async_methods = {n: f for n, f in vars(async_cls).items() if inspect.isfunction(f)}
    assert sorted(sync_methods) == sorted(async_methods)
    for method, func in sync_methods.items():
        twin = async_methods[method]
        assert (
            inspect.signature(func).parameters.keys() == inspect.signature(twin).parameters.keys()
        )
        assert [p.default for p in inspect.signature(func).parameters.values()] == [
            p.default for p in inspect.signature(twin).parameters.values()
        ], method
        if method not in {"__init__", "stream"}:
            assert inspect.iscoroutinefunction(twin), f"{name}.{method} is not awaitable"
