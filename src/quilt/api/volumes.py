"""Routes of the volumes concern (quilt-api §3.7): create, list, get, inspect, rename, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from quilt.api import views
from quilt.api.auth import Caller, platform
from quilt.wire.common import Receipt
from quilt.wire.volumes import (
    Attachment,
    CreateVolume,
    Renamed,
    RenameVolume,
    Volume,
    VolumeInspect,
    VolumeList,
)

if TYPE_CHECKING:
    from quilt.domain.records import VolumeRecord

router = APIRouter(prefix="/api/volumes", tags=["volumes"])


def _volume(record: VolumeRecord) -> dict[str, Any]:
    return views.volume(record).model_dump()


@router.post("", status_code=201, response_model=Volume, summary="Create a volume")
async def create(request: Request, body: CreateVolume, caller: Caller) -> Volume:
    """An empty, named volume; attach it at container create with `volumes: ["name:/path"]`."""
    record = platform(request).volumes.create(
        caller.tenant_id,
        body.name,
        driver=body.driver,
        labels=body.labels,
        size_limit_mb=body.size_limit_mb,
    )
    return views.volume(record)


@router.get("", response_model=VolumeList, summary="List volumes")
async def list_volumes(request: Request, caller: Caller) -> VolumeList:
    """The caller's volumes, by name."""
    found = platform(request).volumes.all(caller.tenant_id)
    return VolumeList(volumes=[views.volume(v) for v in found])


@router.get("/{name}", response_model=Volume, summary="Volume detail")
async def detail(request: Request, name: str, caller: Caller) -> Volume:
    """One volume, by name."""
    return views.volume(platform(request).volumes.get(caller.tenant_id, name))


@router.get("/{name}/inspect", response_model=VolumeInspect, summary="Inspect a volume")
async def inspect(request: Request, name: str, caller: Caller) -> VolumeInspect:
    """The volume, the bytes its files take, and the containers that attach it."""
    engine = platform(request).volumes
    record = engine.get(caller.tenant_id, name)
    return VolumeInspect(
        **_volume(record),
        size_bytes=await engine.usage(record),
        attached_containers=[
            Attachment(
                container_id=c.container_id,
                name=c.name,
                state=c.state.value,
                target=target,
                read_only=read_only,
            )
            for c, target, read_only in engine.attached(record)
        ],
    )


@router.post("/{name}/rename", response_model=Renamed, summary="Rename a volume")
async def rename(request: Request, name: str, body: RenameVolume, caller: Caller) -> Renamed:
    """A new name; containers that attach the volume keep it."""
    record = platform(request).volumes.rename(caller.tenant_id, name, body.new_name)
    return Renamed(name=name, new_name=record.name)


@router.delete("/{name}", status_code=202, response_model=Receipt, summary="Delete a volume")
async def delete(request: Request, name: str, caller: Caller) -> Any:
    """Delete the volume and its data (an operation); 409 while a container attaches it."""
    return views.accepted(platform(request).volumes.submit_delete(caller.tenant_id, name))
