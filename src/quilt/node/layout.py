"""Where each container's pieces live on the host (pure path arithmetic, no I/O).

<data_dir>/containers/<id>/bundle/config.json   OCI bundle (+ runtime.log, init.pid)
<data_dir>/containers/<id>/rootfs               overlay mount point
<data_dir>/containers/<id>/status               minit's exit-status line
<data_dir>/containers/<id>/console.log          the main command's log records
<data_dir>/containers/<id>/etc/                 hosts, hostname, resolv.conf bound in
<pool>/containers/<id>/{upper,work}             the writable layer (a btrfs subvolume)
<pool>/snapshots/<snapshot id>/upper            a snapshot (a read-only btrfs snapshot of a layer)
<pool>/captures/<token>/upper                   a fork's capture, removed once the forks exist
<pool>/volumes/<volume id>                      a volume (a btrfs subvolume), bind-mounted in
<data_dir>/uploads/<token>                      an archive body, kept until its extraction ends
<data_dir>/tag                                  the data dir's host tag (see new_tag)
/run/quilt/<tag>/<id>.sock                      minit's socket: the container cannot see it,
                                                and the path stays short (AF_UNIX: 107 bytes)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SOCKET_ROOT: Final = Path("/run/quilt")


def new_tag(data_dir: Path) -> str:
    """A short tag for a data dir, so two servers never touch each other's namespaces.

    Derived from the path once, when the data dir is first used, and then kept in the data dir
    (see `LocalNode`), so moving the data dir does not orphan its namespaces and sockets.
    """
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:4]


@dataclass(frozen=True)
class ContainerPaths:
    """Every host path of one container."""

    container_id: str
    root: Path
    sockets: Path

    @property
    def bundle(self) -> Path:
        """The OCI bundle directory."""
        return self.root / "bundle"

    @property
    def rootfs(self) -> Path:
        """The overlay mount point."""
        return self.root / "rootfs"

    @property
    def socket(self) -> Path:
        """Minit's listening socket."""
        return self.sockets / f"{self.container_id}.sock"

    @property
    def status(self) -> Path:
        """Minit's exit-status file."""
        return self.root / "status"

    @property
    def console(self) -> Path:
        """The main command's log records."""
        return self.root / "console.log"

    @property
    def etc(self) -> Path:
        """Files bound over the container's /etc/hosts, /etc/hostname, /etc/resolv.conf."""
        return self.root / "etc"


@dataclass(frozen=True)
class Layout:
    """Paths and names for one data dir."""

    data_dir: Path
    tag: str

    @property
    def containers(self) -> Path:
        """Parent of every container's host directory."""
        return self.data_dir / "containers"

    @property
    def runtime_root(self) -> Path:
        """The OCI runtime's state root."""
        return self.data_dir / "run" / "runtime"

    @property
    def uploads(self) -> Path:
        """Archive bodies received and not yet extracted."""
        return self.data_dir / "uploads"

    @property
    def sockets(self) -> Path:
        """Directory of this data dir's minit sockets."""
        return SOCKET_ROOT / self.tag

    def container(self, container_id: str) -> ContainerPaths:
        """Paths of one container."""
        return ContainerPaths(container_id, self.containers / container_id, self.sockets)

    @property
    def netns_prefix(self) -> str:
        """Prefix of every network namespace this data dir owns."""
        return f"q{self.tag}-"

    def netns(self, container_id: str) -> str:
        """The container's network namespace name."""
        return self.netns_prefix + container_id.removeprefix("ctr_")

    def layer(self, container_id: str) -> str:
        """The container's writable layer, relative to the storage pool."""
        return f"containers/{container_id}"

    def snapshot_layer(self, snapshot_id: str) -> str:
        """A snapshot's read-only copy of a writable layer, relative to the storage pool."""
        return f"snapshots/{snapshot_id}"

    def volume_layer(self, volume_id: str) -> str:
        """A volume's subvolume, relative to the storage pool."""
        return f"volumes/{volume_id}"

    def capture_layer(self, token: str) -> str:
        """A transient read-only capture (a fork's source), relative to the storage pool."""
        return f"captures/{token}"
