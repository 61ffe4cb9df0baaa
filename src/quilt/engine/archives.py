"""Archive uploads: a tar body extracted into a volume or a live container, as an operation.

The body is staged on the node first (the receipt must not wait for the extraction, and a
client that goes away must not cut it short), checked to be an archive, and then extracted
in a worker thread with progress on the operation. The staged body is dropped when the
operation ends, however it ends.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import threading
import time
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from quilt.domain import files
from quilt.domain.files import clean, shown
from quilt.errors import BadRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from quilt.domain.ids import TenantId
    from quilt.domain.records import OperationRecord, VolumeRecord
    from quilt.drivers.storage.files import Tree, Unpacked
    from quilt.engine.operations import OperationContext, Operations
    from quilt.node.interface import Node, Upload

PROGRESS_EVERY: Final = 0.25  # seconds between progress saves


class _Cancelled(Exception):
    """The operation was cancelled (server shutdown) while the worker thread extracted."""


class _Progress:
    """Called after each member: reports how far through the staged body the reader is."""

    def __init__(self, body: BinaryIO, size: int, report: Callable[[float], None]) -> None:
        self.body, self.size, self.report = body, max(size, 1), report
        self.stop = threading.Event()
        self._last = 0.0

    def __call__(self) -> None:
        if self.stop.is_set():
            raise _Cancelled
        moment = time.monotonic()
        if moment - self._last >= PROGRESS_EVERY:
            self._last = moment
            self.report(round(min(99.0, 100 * self.body.tell() / self.size), 1))


class Archives:
    """Receives archive bodies and extracts them as operations."""

    def __init__(self, node: Node, operations: Operations, *, limit_bytes: int) -> None:
        self.node = node
        self.operations = operations
        self.limit_bytes = limit_bytes

    async def receive(
        self,
        chunks: AsyncIterator[bytes],
        content_type: str | None,
        *,
        path: str | None,
        strip_components: int | None,
    ) -> tuple[Upload, files.Placement]:
        """Stage a raw tar (or older JSON/base64) body and check it is an archive."""
        upload = await self.node.stage_upload(chunks, self.limit_bytes)
        try:
            if files.is_json(content_type, upload.head):
                upload, path, strip_components = await self._from_json(
                    upload, path, strip_components
                )
            files.require_archive(upload.head, upload.size)
            where = files.placement(path, strip_components)
            clean(where.path)
        except BaseException:
            self.node.drop_upload(upload)
            raise
        return upload, where

    async def _from_json(
        self, upload: Upload, path: str | None, strip_components: int | None
    ) -> tuple[Upload, str | None, int | None]:
        """Decode `{"content": <base64>, "path"?, "strip_components"?}` into a raw upload."""
        with self.node.open_upload(upload) as raw:
            try:
                body = json.load(raw)
                content = base64.b64decode(body["content"], validate=True)
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                raise BadRequest(
                    'a JSON archive body must be {"content": "<base64 tar or tar.gz>"}',
                    details={"received": type(exc).__name__},
                    hint="better: send the raw archive bytes with Content-Type: application/gzip",
                ) from exc
        self.node.drop_upload(upload)

        async def one() -> AsyncIterator[bytes]:
            yield content

        decoded = await self.node.stage_upload(one(), self.limit_bytes)
        if path is None and isinstance(body.get("path"), str):
            path = body["path"]
        if strip_components is None and isinstance(body.get("strip_components"), int):
            strip_components = body["strip_components"]
        return decoded, path, strip_components

    async def into_volume(
        self,
        tenant_id: TenantId,
        volume: VolumeRecord,
        chunks: AsyncIterator[bytes],
        content_type: str | None,
        *,
        path: str | None,
        strip_components: int | None,
    ) -> OperationRecord:
        """Extract an archive body into a volume, as an operation."""
        return await self._accept(
            tenant_id,
            chunks,
            content_type,
            target=("volume", volume.name),
            open_tree=lambda: self.node.volume_files(volume.volume_id),
            path=path,
            strip_components=strip_components,
        )

    async def into_container(
        self,
        tenant_id: TenantId,
        container_id: str,
        chunks: AsyncIterator[bytes],
        content_type: str | None,
        *,
        path: str | None,
        strip_components: int | None,
    ) -> OperationRecord:
        """Extract an archive body into a running container's own view, as an operation."""
        return await self._accept(
            tenant_id,
            chunks,
            content_type,
            target=("container", container_id),
            open_tree=lambda: self.node.container_files(container_id),
            path=path,
            strip_components=strip_components,
        )

    async def _accept(
        self,
        tenant_id: TenantId,
        chunks: AsyncIterator[bytes],
        content_type: str | None,
        *,
        target: tuple[str, str],
        open_tree: Callable[[], Tree],
        path: str | None,
        strip_components: int | None,
    ) -> OperationRecord:
        """Stage and check an archive body, then extract it into `open_tree()` as an operation.

        `target` is the (kind, id) the operation names: ("volume", name) or ("container", id).
        """
        upload, where = await self.receive(
            chunks, content_type, path=path, strip_components=strip_components
        )
        return self.submit(
            tenant_id, target=target, open_tree=open_tree, upload=upload, where=where
        )

    def submit(
        self,
        tenant_id: TenantId,
        *,
        target: tuple[str, str],
        open_tree: Callable[[], Tree],
        upload: Upload,
        where: files.Placement,
    ) -> OperationRecord:
        """Extract the staged archive into the tree `open_tree` gives, as an operation."""
        target_type, target_id = target
        dest = clean(where.path)

        async def work(ctx: OperationContext) -> dict[str, Any]:
            loop = asyncio.get_running_loop()

            def report(pct: float) -> None:
                loop.call_soon_threadsafe(ctx.progress, pct)

            try:
                with self.node.open_upload(upload) as body:
                    progress = _Progress(body, upload.size, report)

                    def extract() -> Unpacked:
                        with open_tree() as tree:
                            return tree.unpack(
                                body,
                                dest,
                                strip_components=where.strip_components,
                                progress=progress,
                            )

                    with ctx.phase("extract"):
                        try:
                            done = await asyncio.to_thread(extract)
                        except asyncio.CancelledError:
                            progress.stop.set()
                            raise
            finally:
                self.node.drop_upload(upload)
            if done.skipped_count:
                ctx.warn(
                    f"{done.skipped_count} archive member(s) were skipped: "
                    + "; ".join(done.skipped)
                )
            return {
                f"{target_type}_id" if target_type == "container" else target_type: target_id,
                "path": shown(dest),
                "strip_components": where.strip_components,
                "archive_bytes": upload.size,
                "files": done.files,
                "directories": done.directories,
                "symlinks": done.symlinks,
                "hardlinks": done.hardlinks,
                "bytes": done.bytes,
                "skipped": done.skipped,
                "skipped_count": done.skipped_count,
            }

        return self.operations.submit(
            tenant_id,
            f"{target_type}s.archive",
            work,
            target_type=target_type,
            target_id=target_id,
        )
