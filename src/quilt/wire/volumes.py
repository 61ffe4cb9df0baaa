"""Volume shapes (quilt-api §3.7)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from quilt.wire.common import Request


class CreateVolume(Request):
    """`POST /api/volumes` body."""

    name: str
    driver: str = "local"
    labels: dict[str, str] = Field(default_factory=dict)
    size_limit_mb: int | None = Field(default=None, ge=1, description="cap on the volume's data")


class RenameVolume(Request):
    """`POST /api/volumes/<name>/rename` body."""

    new_name: str


class Volume(BaseModel):
    """A volume as list, detail and create show it."""

    volume_id: str
    name: str
    driver: str
    labels: dict[str, str]
    size_limit_mb: int | None
    mount_point: str
    status: str
    created_at: str
    updated_at: str


class VolumeList(BaseModel):
    """`GET /api/volumes`."""

    volumes: list[Volume]


class Attachment(BaseModel):
    """A container that attaches the volume."""

    container_id: str
    name: str
    state: str
    target: str
    read_only: bool


class VolumeInspect(Volume):
    """`GET /api/volumes/<name>/inspect`: the volume, its usage and who attaches it."""

    size_bytes: int
    attached_containers: list[Attachment]


class Renamed(BaseModel):
    """`POST …/rename`."""

    success: bool = True
    name: str
    new_name: str


class WriteFile(Request):
    """`POST /api/volumes/<name>/files` body."""

    path: str = Field(description="from the volume's root, e.g. /dir/notes.txt")
    content: str = Field(description="the file's bytes, base64-encoded")
    mode: int | str = Field(
        default=644, description="permission bits as octal digits: 644, 755 (0o644 = 420 too)"
    )


class FileEntry(BaseModel):
    """One file, directory or link in a volume."""

    name: str
    path: str
    type: str = Field(description="file, directory, symlink or other")
    is_dir: bool
    size: int
    mode: str = Field(description="permission bits in octal, e.g. 0644")
    modified_at: str
    link_target: str | None = None


class FileList(BaseModel):
    """`GET /api/volumes/<name>/ls`: one page of a directory's entries, by name."""

    path: str
    files: list[FileEntry]
    page: int
    page_size: int
    total: int


class FileRemoved(BaseModel):
    """`DELETE /api/volumes/<name>/files/<path>`."""

    success: bool = True
    path: str
    type: str
