"""LocalNode: the Node interface on this host, built from the runtime, storage and network drivers.

It owns the order of host steps (filesystem, address, namespace, runtime, minit) and undoing
them; it holds no business rules (those are the engine's) and no SQL beyond IPAM claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import time
from datetime import UTC, datetime
from ipaddress import IPv4Address
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, Literal

from quilt import logs
from quilt.domain import ipam
from quilt.domain.files import clean
from quilt.domain.ids import new_container_id
from quilt.domain.readiness import Checks
from quilt.domain.records import PhaseRecord, now
from quilt.drivers.commands import arun, run, wait_ready
from quilt.drivers.network import bridge, netns
from quilt.drivers.runtime import cgroups, console, ocispec, processes
from quilt.drivers.runtime.minit import MinitClient, MinitUnavailable
from quilt.drivers.runtime.oci import OciRuntime, cgroup_layout, choose_runtime
from quilt.drivers.storage import overlay
from quilt.drivers.storage.files import Tree
from quilt.drivers.storage.images import Image, ImageStore
from quilt.drivers.storage.paths import make_dirs_inside
from quilt.drivers.storage.pool import StoragePool, allocated_bytes
from quilt.errors import (
    CapacityFull,
    Conflict,
    HostError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from quilt.node.interface import (
    RESOURCES,
    Captured,
    ComponentHealth,
    Launched,
    LaunchSpec,
    LogLine,
    Prepared,
    ProcessEntry,
    Upload,
    VolumeAttachment,
)
from quilt.node.layout import ContainerPaths, Layout, new_tag
from quilt.node.network import HostNetwork
from quilt.node.pool import WarmPool

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence

    from quilt.drivers.runtime.cgroups import Usage
    from quilt.drivers.runtime.minit import Event, ExecOutcome, Terminal
    from quilt.settings import Settings
    from quilt.store.store import Store

log = logs.get(__name__)

MINIT_READY_TIMEOUT = 5.0
UPLOAD_HEAD: Final = 512  # bytes of a staged body kept to tell what it is
KILL_WAIT_SECONDS: Final = 1.0  # a SIGKILLed process is gone long before this


class _Phases:
    """Times the steps of one launch."""

    def __init__(self) -> None:
        self.done: list[PhaseRecord] = []
        self._name = ""
        self._t0 = 0.0
        self._at = now()

    def step(self, name: str) -> None:
        self.finish()
        self._name, self._t0, self._at = name, time.perf_counter(), now()

    def finish(self) -> None:
        if self._name:
            elapsed = (time.perf_counter() - self._t0) * 1000
            self.done.append(PhaseRecord(self._name, self._at, round(elapsed, 3)))
            self._name = ""


FREEZE_TIMEOUT = 5.0


async def _freeze(group: cgroups.Cgroups) -> None:
    """Freeze the container's processes and wait until the kernel says they all are."""
    group.set_frozen(True)
    deadline = time.monotonic() + FREEZE_TIMEOUT
    delay = 0.0002
    while not group.is_frozen():
        if time.monotonic() > deadline:
            group.set_frozen(False)
            raise HostError(f"the container's processes did not freeze within {FREEZE_TIMEOUT}s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.01)


def _syncfs(path: Path) -> None:
    """Flush the filesystem holding `path` to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _LIBC.syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise HostError(f"syncfs({path}) failed: {os.strerror(code)}")
    finally:
        os.close(fd)


_LIBC = ctypes.CDLL(None, use_errno=True)


async def _du(path: Path) -> int:
    """Bytes allocated under `path`, like `du -s` (0 if it is gone)."""
    result = await arun(["du", "-s", "-B1", str(path)], check=False, timeout=600)
    words = result.text.split()
    return int(words[0]) if result.returncode == 0 and words else 0


async def _receive(chunks: AsyncIterator[bytes], out: BinaryIO, limit: int) -> tuple[int, bytes]:
    """Copy `chunks` to `out`; the byte count and first bytes. Past `limit`: PayloadTooLarge."""
    size, head = 0, b""
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"the body is larger than the {limit >> 20} MiB this server accepts",
                hint="split the upload, or raise QUILT_UPLOAD_LIMIT_MB",
            )
        if len(head) < UPLOAD_HEAD:
            head += chunk[: UPLOAD_HEAD - len(head)]
        out.write(chunk)
    return size, head


def data_dir_tag(data_dir: Path) -> str:
    """The data dir's host tag: read from `<data_dir>/tag`, written there on first use."""
    path = data_dir / "tag"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        tag = new_tag(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(tag + "\n")
        return tag


class LocalNode:
    """Runs containers on this host."""

    name = "local"

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.layout = Layout(settings.data_dir, data_dir_tag(settings.data_dir))
        self.images = ImageStore(settings.image_cache)
        self.storage = StoragePool.open(
            settings.data_dir, size_gb=settings.pool_size_gb, backend=settings.storage_backend
        )
        runtime, self.runtime_note = choose_runtime(settings.runtime, cgroup_layout())
        if self.runtime_note:
            log.warning("runtime.fallback", reason=self.runtime_note)
        self.runtime = OciRuntime(runtime, self.layout.runtime_root)
        self.layout.containers.mkdir(parents=True, exist_ok=True)
        self.network = HostNetwork(settings, self.layout)
        self.subnet = self.network.subnet
        self.pool = WarmPool(self, settings.pool_images, settings.warm_pool_size)
        self._address_lock = asyncio.Lock()
        # The host's resolver config, read once: every container gets a copy at launch.
        resolv = Path("/etc/resolv.conf")
        self._resolv_conf = resolv.read_text() if resolv.exists() else ""

    # -- launch -------------------------------------------------------------------------

    async def launch(self, spec: LaunchSpec, *, allow_pool: bool) -> Launched:
        """Claim a warm pool member when the spec fits one, else build the container cold."""
        if allow_pool and spec.container_id is None and not spec.strict:
            claimed = await self.pool.claim(spec)
            if claimed is not None:
                return claimed
        return await self.launch_cold(spec)

    async def launch_cold(self, spec: LaunchSpec) -> Launched:
        """Build the filesystem and network from nothing and start the container."""
        container_id = spec.container_id or new_container_id()
        phases = _Phases()
        try:
            phases.step("image")
            image = await self._image(spec.image)
            phases.step("filesystem")
            self._prepare_filesystem(container_id, image.layers, spec.base_layer)
            phases.step("address")
            address = await self._allocate(container_id)
            phases.step("network")
            await self.network.wire(container_id, address, spec.network_group, spec.routes)
            launched = await self._run(container_id, spec, address, phases)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.remove(container_id)
            raise
        return launched

    async def prepare(self, spec: LaunchSpec) -> Prepared:
        """Create the writable layer and allocate the address; `relaunch` runs it later."""
        container_id = spec.container_id or new_container_id()
        try:
            await self._image(spec.image)
            self._new_layer(container_id, spec.base_layer)
            address = await self._allocate(container_id)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.remove(container_id)
            raise
        return Prepared(container_id, str(address))

    async def capture(
        self,
        container_id: str,
        layer: str,
        *,
        flush: bool,
        volumes: Sequence[VolumeAttachment] = (),
    ) -> Captured:
        """Copy the container's writable layer read-only, with the container frozen meanwhile.

        The pool is flushed first, outside the pause; btrfs includes whatever the source
        still holds in memory. `flush` (app-consistent) also syncs inside the freeze. A
        container that is not running is copied as it is. `volumes` are captured in the same
        pause and, after the thaw, copied (reflinked) into the layer at their mount paths.
        """
        phases = _Phases()
        init = self.runtime.init(container_id)
        source = self.layout.layer(container_id)
        if not self.storage.exists(source):
            raise HostError(f"container {container_id} has no writable layer to capture")
        copies = [(v, self.layout.capture_layer(f"{secrets.token_hex(6)}-volume")) for v in volumes]
        # Write dirty data out before the freeze: the capture then commits little, and the
        # pause stays short however much the container (or its neighbours) wrote.
        phases.step("flush")
        await asyncio.to_thread(_syncfs, self.storage.path(source))
        group = None if init is None else cgroups.Cgroups(init.pid)
        started = time.perf_counter()
        try:
            if group is not None:
                phases.step("freeze")
                await _freeze(group)
            try:
                if flush and group is not None:  # app-consistent: what was written since too
                    phases.step("sync")
                    _syncfs(self.storage.path(source))
                phases.step("capture")
                self.storage.snapshot(source, layer, readonly=not copies)
                for volume, copy in copies:
                    self.storage.snapshot(
                        self.layout.volume_layer(volume.volume_id), copy, readonly=True
                    )
            finally:
                if group is not None:
                    phases.step("thaw")
                    group.set_frozen(False)
            pause_ms = (time.perf_counter() - started) * 1000
            if copies:
                phases.step("volumes")
                await asyncio.to_thread(self._merge_volumes, layer, copies)
                self.storage.set_readonly(layer)
        except BaseException:
            self.storage.delete_subvolume(layer)
            raise
        finally:
            for _, copy in copies:
                self.storage.delete_subvolume(copy)
        phases.finish()
        return Captured(layer, round(pause_ms, 3), phases.done)

    def _merge_volumes(self, layer: str, copies: Sequence[tuple[VolumeAttachment, str]]) -> None:
        """Put each captured volume's files at its mount path in the layer's upper directory.

        The upper is the container's to shape, so the mount path is resolved confined to it
        (a link planted there leads nowhere outside), emptied, filled with reflinks of the
        volume's files, and marked opaque so the image's files below it stay hidden, as the
        mounted volume hid them.
        """
        with Tree.open(self.storage.path(f"{layer}/upper"), "the captured layer") as upper:
            for volume, copy in copies:
                target = clean(volume.target)
                if target == ".":
                    continue
                with contextlib.suppress(NotFound):
                    upper.remove(target, recursive=True)
                upper.makedirs(target)
                fd = upper.open_directory(target)
                try:
                    os.setxattr(fd, "trusted.overlay.opaque", b"y")
                    source = self.storage.path(copy)
                    run(
                        [
                            "cp", "-a", "--reflink=auto", "--",
                            f"{source}/.", f"/proc/{os.getpid()}/fd/{fd}/",
                        ],
                        timeout=None,
                    )  # fmt: skip
                finally:
                    os.close(fd)

    def create_volume(self, volume_id: str, size_limit_bytes: int | None) -> None:
        """Make an empty volume (a subvolume of the pool), capped by a qgroup limit if asked."""
        layer = self.layout.volume_layer(volume_id)
        self.storage.create_subvolume(layer)
        if size_limit_bytes is not None:
            try:
                self.storage.limit_subvolume(layer, size_limit_bytes)
            except BaseException:
                self.storage.delete_subvolume(layer)
                raise

    def volume_files(self, volume_id: str) -> Tree:
        """The volume's files, confined to its subvolume."""
        path = self.storage.path(self.layout.volume_layer(volume_id))
        return Tree.open(path, "the volume")

    def container_files(self, container_id: str) -> Tree:
        """The running container's files through its init's root: its mounts included."""
        init = self.runtime.init(container_id)
        if init is None:
            raise Conflict(
                f"container {container_id} is not running", details={"state": "not running"}
            )
        return Tree.open(Path(f"/proc/{init.pid}/root"), f"container {container_id}")

    async def stage_upload(self, chunks: AsyncIterator[bytes], limit_bytes: int) -> Upload:
        """Write a request body to `<data_dir>/uploads/<token>` as it arrives."""
        self.layout.uploads.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        path = self.layout.uploads / token
        try:
            with path.open("wb") as out:
                size, head = await _receive(chunks, out, limit_bytes)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Upload(token, size, head)

    def open_upload(self, upload: Upload) -> BinaryIO:
        """Read a staged body from its start."""
        try:
            return (self.layout.uploads / upload.token).open("rb")
        except FileNotFoundError as exc:
            raise HostError(f"the staged upload {upload.token} is gone") from exc

    def drop_upload(self, upload: Upload) -> None:
        """Forget a staged body (idempotent)."""
        (self.layout.uploads / upload.token).unlink(missing_ok=True)

    def clear_uploads(self) -> list[str]:
        """Forget every staged body; the tokens forgotten."""
        found = list(self.layout.uploads.glob("*")) if self.layout.uploads.is_dir() else []
        for path in found:
            path.unlink(missing_ok=True)
        return [path.name for path in found]

    def remove_volume(self, volume_id: str) -> None:
        """Delete a volume and its data (idempotent)."""
        self.storage.delete_subvolume(self.layout.volume_layer(volume_id))

    async def volume_usage(self, volume_id: str) -> int:
        """Bytes a volume's files take (`du -s`, in a separate process)."""
        return await _du(self.storage.path(self.layout.volume_layer(volume_id)))

    def snapshot_layer(self, snapshot_id: str) -> str:
        """Where a snapshot's captured layer lives in the storage pool."""
        return self.layout.snapshot_layer(snapshot_id)

    def capture_layer(self, token: str) -> str:
        """Where a transient capture lives in the storage pool."""
        return self.layout.capture_layer(token)

    @staticmethod
    def can_freeze() -> bool:
        """Whether this host has a cgroup freezer (v1 controller or v2 cgroup.freeze)."""
        return (
            (cgroups.CGROUP_ROOT / "freezer").is_dir()
            or (cgroups.CGROUP_ROOT / "unified" / "cgroup.freeze").exists()
            or (cgroups.CGROUP_ROOT / "cgroup.controllers").exists()
        )

    def drop_layer(self, layer: str) -> None:
        """Delete a captured layer (idempotent)."""
        self.storage.delete_subvolume(layer)

    async def layer_size(self, layer: str) -> int:
        """Bytes the changes in a captured layer take (`du -s` of its upper directory).

        A separate process, so a walk of many files never holds the server's interpreter.
        """
        return await _du(self.storage.path(f"{layer}/upper"))

    def stored_layers(self, kind: Literal["snapshots", "captures", "volumes"]) -> set[str]:
        """Names of the captured layers of one kind in the storage pool."""
        try:
            return {p.name for p in self.storage.path(kind).iterdir()}
        except FileNotFoundError:
            return set()

    async def relaunch(self, container_id: str, spec: LaunchSpec, address: str) -> Launched:
        """Start a stopped container again on its kept filesystem and address."""
        phases = _Phases()
        phases.step("cleanup")
        await self.runtime.delete(container_id)
        phases.step("filesystem")
        image = await self._image(spec.image)
        paths = self.layout.container(container_id)
        if not overlay.is_mounted(paths.rootfs):
            self._prepare_filesystem(container_id, image.layers)
        phases.step("network")
        if netns.exists(self.layout.netns(container_id)):
            self.network.admit(container_id, IPv4Address(address), spec.network_group)
        else:
            await self.network.wire(
                container_id, IPv4Address(address), spec.network_group, spec.routes
            )
        return await self._run(container_id, spec, IPv4Address(address), phases)

    async def _image(self, name: str) -> Image:
        image = self.images.get(name)
        if image is None:
            if name not in self.images.names():
                raise NotFound(
                    f"image {name!r} does not exist",
                    details={"expected": self.images.names(), "received": name},
                )
            log.info("image.build", image=name)
            image = await asyncio.to_thread(
                self.images.ensure,
                name,
                progress=lambda line: log.info("image.progress", line=line),
            )
        return image

    def _new_layer(self, container_id: str, base_layer: str | None) -> Path:
        """The container's writable layer: empty, or a writable copy of a captured one."""
        rel = self.layout.layer(container_id)
        if self.storage.exists(rel):
            return self.storage.path(rel)
        if base_layer is None:
            layer = self.storage.create_subvolume(rel)
        else:
            layer = self.storage.snapshot(base_layer, rel, readonly=False)
            # The copy holds the source overlay's scratch space; overlayfs needs its own.
            shutil.rmtree(layer / "work", ignore_errors=True)
        (layer / "upper").mkdir(exist_ok=True)
        (layer / "work").mkdir(exist_ok=True)
        return layer

    def _prepare_filesystem(
        self, container_id: str, layers: Sequence[Path], base_layer: str | None = None
    ) -> None:
        paths = self.layout.container(container_id)
        for directory in (paths.bundle, paths.rootfs, paths.etc):
            directory.mkdir(parents=True, exist_ok=True)
        layer = self._new_layer(container_id, base_layer)
        overlay.mount_rootfs(list(layers), layer / "upper", layer / "work", paths.rootfs)

    async def _allocate(self, owner: str) -> IPv4Address:
        async with self._address_lock:
            held = self.store.addresses.of(owner)
            if held is not None:
                return IPv4Address(held)
            taken = {IPv4Address(a) for a in self.store.addresses.taken()}
            address = ipam.next_free(self.subnet, taken)
            if address is None or not self.store.addresses.claim(str(address), owner):
                raise CapacityFull(
                    f"no free address left in {self.settings.subnet}",
                    hint="delete unused containers or configure a larger QUILT_SUBNET",
                )
            return address

    def _write_etc(self, paths: ContainerPaths, container_id: str, address: IPv4Address) -> None:
        hostname = container_id
        (paths.etc / "hostname").write_text(hostname + "\n")
        (paths.etc / "hosts").write_text(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{address}\t{hostname}\n"
        )
        (paths.etc / "resolv.conf").write_text(self._resolv_conf)

    async def _run(
        self, container_id: str, spec: LaunchSpec, address: IPv4Address, phases: _Phases
    ) -> Launched:
        paths = self.layout.container(container_id)
        phases.step("bundle")
        self._write_etc(paths, container_id, address)
        make_dirs_inside(paths.rootfs, spec.working_directory)
        runtime_spec = ocispec.RuntimeSpec(
            container_id=container_id,
            rootfs=str(paths.rootfs),
            hostname=container_id,
            netns_path=f"/run/netns/{self.layout.netns(container_id)}",
            minit_path=str(self.settings.minit_path),
            command=spec.command,
            environment=dict(spec.environment),
            working_directory=spec.working_directory,
            memory_limit_mb=spec.memory_limit_mb,
            cpu_limit_percent=spec.cpu_limit_percent,
            pids_limit=self.settings.pids_limit,
            strict=spec.strict,
            open_files=min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1 << 20),
            binds=(
                *(
                    ocispec.BindMount(str(paths.etc / name), f"/etc/{name}", read_only=False)
                    for name in ("hosts", "hostname", "resolv.conf")
                ),
                *(
                    ocispec.BindMount(
                        str(self.storage.path(self.layout.volume_layer(v.volume_id))),
                        v.target,
                        read_only=v.read_only,
                    )
                    for v in spec.volumes
                ),
            ),
        )
        config = ocispec.build_config(runtime_spec)
        (paths.bundle / "config.json").write_text(json.dumps(config, indent=1))
        phases.step("runtime")
        paths.socket.parent.mkdir(parents=True, exist_ok=True)
        paths.socket.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        status_fd = log_fd = -1
        try:
            listener.bind(str(paths.socket))
            listener.listen(128)
            status_fd = os.open(paths.status, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            log_fd = os.open(paths.console, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            init = await self.runtime.start(
                container_id,
                paths.bundle,
                listen_fd=listener.fileno(),
                status_fd=status_fd,
                log_fd=log_fd,
            )
        finally:
            listener.close()
            for fd in (status_fd, log_fd):
                if fd >= 0:
                    os.close(fd)
        phases.step("minit")
        await self._wait_minit(container_id)
        phases.finish()
        return Launched(
            container_id=container_id,
            pid=init.pid,
            ip_address=str(address),
            started_at=now(),
            from_pool=False,
            phases=phases.done,
        )

    async def _wait_minit(self, container_id: str) -> None:
        client = self._minit(container_id)
        deadline = time.monotonic() + MINIT_READY_TIMEOUT
        while True:
            try:
                await client.ping(timeout=1.0)
            except MinitUnavailable:
                if self.runtime.init(container_id) is None:
                    return  # the main command already ended: the exit watcher records it
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.002)
            else:
                return

    def _minit(self, container_id: str) -> MinitClient:
        return MinitClient(self.layout.container(container_id).socket)

    async def personalize(self, container_id: str, spec: LaunchSpec) -> None:
        """Give a claimed pool member the request's limits and start its main command."""
        init = self.runtime.init(container_id)
        if init is None:
            raise HostError(f"pool member {container_id} is not running")
        cgroups.Cgroups(init.pid).set_limits(
            memory_limit_mb=spec.memory_limit_mb, cpu_limit_percent=spec.cpu_limit_percent
        )
        make_dirs_inside(self.layout.container(container_id).rootfs, spec.working_directory)
        self.network.join(container_id, spec.network_group)
        if spec.command:
            await self._minit(container_id).start_main(
                spec.command, ocispec.with_defaults(spec.environment), spec.working_directory
            )

    # -- lifecycle ---------------------------------------------------------------------

    async def stop(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM, wait up to the grace period, then SIGKILL; return once it is gone."""
        if self.runtime.signal(container_id, 15):
            if await self.runtime.wait_exit(container_id, grace_seconds):
                return
            log.info("container.stop.escalate", container_id=container_id)
        await self.kill(container_id)

    async def kill(self, container_id: str) -> None:
        """SIGKILL the container and return once it is gone."""
        if self.runtime.signal(container_id, 9):
            await self.runtime.wait_exit(container_id, 10)

    async def remove(self, container_id: str) -> None:
        """Tear everything of the container down; safe to call on half-made containers.

        Every resource is released even when an earlier one fails; then the first failure
        is raised.
        """
        failures = []
        for kind in RESOURCES:
            try:
                await self.release(container_id, kind)
            except HostError as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    async def release(self, container_id: str, resource: str) -> int | None:
        """Release one resource of the container; the bytes freed where they are counted."""
        paths = self.layout.container(container_id)
        match resource:
            case "container":
                await self.runtime.delete(container_id)
            case "network":
                self.network.unwire(container_id)
                self.store.addresses.release(container_id)
            case "mounts":
                overlay.unmount(paths.rootfs)
            case "rootfs":
                layer = self.layout.layer(container_id)
                freed = await asyncio.to_thread(self.storage.usage_bytes, layer)
                self.storage.delete_subvolume(layer)
                return freed
            case "logs":
                paths.socket.unlink(missing_ok=True)
                if overlay.is_mounted(paths.rootfs):
                    raise HostError(f"{paths.rootfs} is still mounted; release mounts first")
                freed = await asyncio.to_thread(allocated_bytes, paths.root)
                shutil.rmtree(paths.root, ignore_errors=True)
                if paths.root.exists():
                    raise HostError(f"{paths.root} could not be removed")
                return freed
            case _:
                raise ValueError(f"unknown resource {resource!r}")
        return None

    async def wait_exit(self, container_id: str) -> None:
        """Return when the container's init has exited."""
        await self.runtime.wait_exit(container_id, None)

    def exit_code(self, container_id: str) -> int | None:
        """The exit code minit recorded: `exited N` → N, `stopped S` → 128 + S."""
        try:
            words = self.layout.container(container_id).status.read_text().split()
        except OSError:
            return None
        if len(words) == 2 and words[1].lstrip("-").isdigit():  # noqa: PLR2004
            code = int(words[1])
            return code if words[0] == "exited" else 128 + code
        return None

    def init_pid(self, container_id: str) -> int | None:
        """Host pid of the container's init if it is running."""
        init = self.runtime.init(container_id)
        return init.pid if init else None

    # -- work inside ---------------------------------------------------------------------

    async def exec(
        self,
        container_id: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        timeout_ms: int | None,
        output_limit: int,
    ) -> ExecOutcome:
        """Run a command inside the container to completion through minit."""
        return await self._minit(container_id).exec(
            argv, ocispec.with_defaults(env), cwd, timeout_ms=timeout_ms, output_limit=output_limit
        )

    async def terminal(
        self,
        container_id: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        cols: int,
        rows: int,
    ) -> Terminal:
        """Start a program on a new terminal inside the container (minit opens it)."""
        return await self._minit(container_id).terminal(
            argv, ocispec.with_defaults(env), cwd, cols=cols, rows=rows
        )

    def stream(
        self,
        container_id: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        *,
        timeout_ms: int | None,
    ) -> AsyncGenerator[Event, None]:
        """Run a command and yield its events as they happen."""
        return self._minit(container_id).stream(
            argv, ocispec.with_defaults(env), cwd, timeout_ms=timeout_ms
        )

    async def probe(self, container_id: str, image: str, address: str | None) -> Checks:
        """Observe each readiness check for real."""
        running = self.runtime.init(container_id) is not None
        responsive = False
        if running:
            try:
                await self._minit(container_id).ping(timeout=0.5)
                responsive = True
            except MinitUnavailable:
                responsive = False
        configured = bool(
            running
            and address
            and netns.configured(self.layout.netns(container_id), IPv4Address(address))
        )
        built = self.images.get(image)
        valid = built is not None and self.images.validate(built).valid
        return Checks(
            state_running=running,
            minit_responsive=responsive,
            network_configured=configured,
            managed_image_valid=valid,
        )

    def usage(self, container_id: str) -> Usage:
        """Resource usage from the container's cgroups."""
        init = self.runtime.init(container_id)
        if init is None:
            raise NotFound(f"container {container_id} is not running")
        return cgroups.Cgroups(init.pid).usage()

    def logs(self, container_id: str, limit: int) -> list[LogLine]:
        """The newest `limit` records of the main command's output."""
        records = console.tail(self.layout.container(container_id).console, limit)
        return [
            LogLine(
                timestamp=datetime.fromtimestamp(r.unix_ms / 1000, UTC),
                stream=r.stream,
                message=r.data.decode(errors="replace").rstrip("\n"),
            )
            for r in records
        ]

    def _live_processes(self, container_id: str) -> list[processes.HostProcess]:
        init = self.runtime.init(container_id)
        if init is None:
            return []
        return processes.in_container(cgroups.Cgroups(init.pid).pids())

    def processes(self, container_id: str) -> list[ProcessEntry]:
        """The container's processes with in-container pids (ppid 0 for init)."""
        found = self._live_processes(container_id)
        by_host = {p.host_pid: p.pid for p in found}
        return [
            ProcessEntry(
                pid=p.pid,
                ppid=by_host.get(p.host_ppid, 0),
                command=p.command,
                args=p.args,
                state=p.state,
                rss_bytes=p.rss_bytes,
            )
            for p in found
        ]

    async def signal_process(self, container_id: str, pid: int, sig: int) -> int:
        """Signal one live process by its in-container pid through minit; the errno.

        A pid that is not running (gone, or exited and not yet reaped) is ESRCH. A SIGKILL
        returns once the process has exited, so a listing right after no longer shows it.
        """
        host_pid = next((p.host_pid for p in self._live_processes(container_id) if p.pid == pid), 0)
        try:
            fd = os.pidfd_open(host_pid) if host_pid else -1
        except ProcessLookupError:
            fd = -1
        if fd < 0:
            return errno.ESRCH
        try:
            result = await self._minit(container_id).signal(pid, sig)
            if result == 0 and sig == signal.SIGKILL:
                with contextlib.suppress(TimeoutError):
                    await wait_ready(fd, KILL_WAIT_SECONDS)  # readable once it has exited
            return result
        finally:
            os.close(fd)

    # -- host bookkeeping ------------------------------------------------------------------

    def hosted(self) -> set[str]:
        """Ids of every container with runtime state, a namespace or a directory here."""
        ids = set(self.runtime.known())
        with contextlib.suppress(FileNotFoundError):
            ids.update(p.name for p in self.layout.containers.iterdir())
        prefix = self.layout.netns_prefix
        ids.update("ctr_" + n.removeprefix(prefix) for n in netns.list_names(prefix))
        return ids

    async def health(self) -> list[ComponentHealth]:
        """Whether the runtime, minit, images, storage and bridge work right now."""
        checks: list[ComponentHealth] = []
        try:
            detail = self.runtime.version() + (
                f" ({self.runtime_note})" if self.runtime_note else ""
            )
            checks.append(ComponentHealth("runtime", ok=True, detail=detail))
        except HostError as exc:
            checks.append(ComponentHealth("runtime", ok=False, detail=exc.message))
        minit = self.settings.minit_path
        checks.append(ComponentHealth("minit", ok=os.access(minit, os.X_OK), detail=str(minit)))
        for name in self.images.names():
            built = self.images.get(name)
            check = self.images.validate(built) if built else None
            ok = bool(check and check.valid)
            detail = "built" if ok else ("; ".join(check.problems) if check else "not built")
            checks.append(ComponentHealth(f"image:{name}", ok=ok, detail=detail))
        checks.append(
            ComponentHealth(
                "storage",
                ok=True,
                detail=f"{self.storage.backend} at {self.storage.root}"
                + (f" ({self.storage.reason})" if self.storage.reason else ""),
            )
        )
        state = bridge.bridge_state(self.settings.bridge)
        checks.append(
            ComponentHealth(
                "bridge",
                ok=state.exists and state.up,
                detail=f"{self.settings.bridge} {'up' if state.up else 'down'}",
            )
        )
        try:
            held = self.network.firewall.elements()
            checks.append(
                ComponentHealth(
                    "firewall",
                    ok=True,
                    detail=f"nftables table {self.network.firewall.table}, "
                    f"{len(held.get('ports', []))} ports",
                )
            )
        except HostError as exc:
            checks.append(ComponentHealth("firewall", ok=False, detail=exc.message))
        egress = self.network.egress
        detail = f"{egress.mode}: " + (
            f"NAT out of {', '.join(egress.uplinks)}" if egress.enabled else f"off, {egress.reason}"
        )
        # Egress off is a choice (or the operator's host setting), not a fault.
        checks.append(ComponentHealth("egress", ok=True, detail=detail))
        return checks

    def require_ready(self) -> None:
        """Refuse work when a component the create path needs is missing."""
        if not os.access(self.settings.minit_path, os.X_OK):
            raise ServiceUnavailable(
                f"minit is not installed at {self.settings.minit_path}",
                hint="run the set-up command from the README (it builds minit)",
            )
