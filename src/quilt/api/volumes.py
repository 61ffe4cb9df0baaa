"""Routes of the volumes concern (quilt-api §3.7): volumes, their files, and archive uploads."""

from __future__ import annotations

import base64
import binascii
import os
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from quilt.api import views
from quilt.api.auth import Caller, platform
from quilt.domain.files import file_mode
from quilt.errors import BadRequest, PayloadTooLarge
from quilt.wire.common import ARCHIVE_BODY, Receipt
from quilt.wire.volumes import (
    Attachment,
    CreateVolume,
    FileEntry,
    FileList,
    FileRemoved,
    Renamed,
    RenameVolume,
    Volume,
    VolumeInspect,
    VolumeList,
    WriteFile,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from quilt.domain.records import VolumeRecord
    from quilt.drivers.storage.files import Entry

router = APIRouter(prefix="/api/volumes", tags=["volumes"])

INLINE_LIMIT: Final = 1 << 20  # files up to this size are answered in one piece
CHUNK: Final = 1 << 18


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


@router.get("/{name}/ls", response_model=FileList, summary="List a directory of a volume")
async def ls(
    request: Request,
    name: str,
    caller: Caller,
    path: str = "/",
    page: int = 1,
    page_size: int = 100,
) -> FileList:
    """One page of a directory's entries (`path` from the volume's root), by name."""
    found = await platform(request).volumes.ls(
        caller.tenant_id, name, path, page=page, page_size=page_size
    )
    return FileList(
        path=found.path,
        files=[views.file_entry(e) for e in found.entries],
        page=found.page,
        page_size=found.page_size,
        total=found.total,
    )


@router.post("/{name}/files", status_code=201, response_model=FileEntry, summary="Write a file")
async def write_file(request: Request, name: str, body: WriteFile, caller: Caller) -> FileEntry:
    """Create or replace one file from base64 `content`; parent directories are made."""
    p = platform(request)
    try:
        content = base64.b64decode(body.content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(
            "content is not valid base64", details={"received": body.content[:40]}
        ) from exc
    entry = await p.volumes.write_file(
        caller.tenant_id, name, body.path, content, file_mode(body.mode)
    )
    return views.file_entry(entry)


def _file_headers(entry: Entry) -> dict[str, str]:
    return {
        "X-Quilt-File-Path": entry.path,
        "X-Quilt-File-Size": str(entry.size),
        "X-Quilt-File-Mode": f"{entry.mode:04o}",
        "X-Quilt-File-Modified": entry.modified_at,
        "Last-Modified": formatdate(entry.mtime, usegmt=True),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(entry.name)}",
    }


def _wants_json(accept: str, *, legacy: bool) -> bool:
    """Whether `Accept` asks for JSON rather than raw bytes (`*/*`: JSON only if `legacy`)."""
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if "application/octet-stream" in kinds:
        return False
    return "application/json" in kinds or (legacy and kinds <= {"*/*", ""})


def _chunks(fd: int) -> Iterator[bytes]:
    try:
        while chunk := os.read(fd, CHUNK):
            yield chunk
    finally:
        os.close(fd)


@router.get(
    "/{name}/files/{path:path}",
    summary="Read a file",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def read_file(request: Request, name: str, path: str, caller: Caller) -> Response:
    """The file's raw bytes; its path, size, mode and time in `X-Quilt-File-*` headers."""
    fd, entry = platform(request).volumes.open_file(caller.tenant_id, name, path)
    headers = _file_headers(entry)
    legacy = platform(request).settings.file_read_default == "json"
    if _wants_json(request.headers.get("accept", ""), legacy=legacy):
        # The older JSON shape, for a client that asks for JSON by name: base64 content.
        try:
            data = os.read(fd, INLINE_LIMIT + 1)
        finally:
            os.close(fd)
        if len(data) > INLINE_LIMIT:
            raise PayloadTooLarge(
                f"files over {INLINE_LIMIT} bytes are read raw, not as JSON",
                details={"size": entry.size},
                hint="send Accept: application/octet-stream (or */*) for the raw bytes",
            )
        return JSONResponse(
            {
                "path": entry.path,
                "size": entry.size,
                "mode": f"{entry.mode:04o}",
                "content": base64.b64encode(data).decode(),
                "encoding": "base64",
            }
        )
    if entry.size > INLINE_LIMIT:
        return StreamingResponse(
            _chunks(fd), media_type="application/octet-stream", headers=headers
        )
    try:
        data = os.read(fd, INLINE_LIMIT + 1)
    finally:
        os.close(fd)
    return Response(data, media_type="application/octet-stream", headers=headers)


@router.head("/{name}/files/{path:path}", summary="A file's metadata", response_class=Response)
async def file_metadata(request: Request, name: str, path: str, caller: Caller) -> Response:
    """What a read would say in its headers (size, mode, time), without the bytes."""
    fd, entry = platform(request).volumes.open_file(caller.tenant_id, name, path)
    os.close(fd)
    headers = {**_file_headers(entry), "Content-Length": str(entry.size)}
    return Response(media_type="application/octet-stream", headers=headers)


@router.delete("/{name}/files/{path:path}", response_model=FileRemoved, summary="Delete a file")
async def remove_file(
    request: Request, name: str, path: str, caller: Caller, recursive: bool = False
) -> FileRemoved:
    """Delete a file or link; a directory too if empty, or with everything in it if `recursive`."""
    entry = await platform(request).volumes.remove_file(
        caller.tenant_id, name, path, recursive=recursive
    )
    return FileRemoved(path=entry.path, type=entry.type)


@router.post(
    "/{name}/archive",
    status_code=202,
    response_model=Receipt,
    summary="Extract an archive into a volume",
    openapi_extra=ARCHIVE_BODY,
)
async def archive(
    request: Request,
    name: str,
    caller: Caller,
    path: str | None = None,
    strip_components: int | None = None,
) -> Any:
    """Extract a tar or tar.gz body under `path` (default /), dropping `strip_components`."""
    p = platform(request)
    record = p.volumes.get(caller.tenant_id, name)
    operation = await p.archives.into_volume(
        caller.tenant_id,
        record,
        request.stream(),
        request.headers.get("content-type"),
        path=path,
        strip_components=strip_components,
    )
    return views.accepted(operation)
