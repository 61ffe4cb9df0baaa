"""Server settings: every field is a `quilt serve` flag and a `QUILT_*` environment variable."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_minit_path() -> Path:
    """Where the set-up command installs the minit binary: beside the interpreter's prefix."""
    return Path(sys.prefix) / "libexec" / "quilt" / "minit"


class Settings(BaseSettings):
    """Configuration of one Quilt server (one data directory)."""

    model_config = SettingsConfigDict(env_prefix="QUILT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8787
    data_dir: Path = Path("/var/lib/quilt")
    image_cache: Path = Path("/var/cache/quilt/images")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite at <data_dir>/quilt.db"
    )
    api_key: str | None = Field(default=None, description="seed this key for the default tenant")
    api_keys: str | None = Field(
        default=None, description="seed several keys: key1:tenantA,key2:tenantB"
    )
    runtime: Literal["runc", "crun"] = "runc"
    minit_path: Path = Field(default_factory=default_minit_path)
    default_image: str = "prod"
    bridge: str = "quilt0"
    subnet: str = "10.203.0.0/16"
    egress: Literal["auto", "nat", "none"] = Field(
        default="auto",
        description="containers' outbound traffic: auto (NAT when the host already forwards "
        "from its uplink), nat (Quilt enables forwarding on the uplink), none",
    )
    uplink: str = Field(
        default="", description="comma-separated uplink interfaces; default: the default route's"
    )
    storage_backend: Literal["auto", "btrfs", "directory"] = "auto"
    pool_size_gb: int = 64
    warm_pool_size: int = Field(default=2, description="pre-started containers kept per image")
    warm_pool_images: str = Field(default="prod", description="comma-separated image names")
    default_memory_mb: int = 1024
    default_cpu_percent: float = 100.0
    pids_limit: int = 4096
    stop_grace_seconds: float = 10.0
    exec_output_limit: int = 1024 * 1024
    exec_default_timeout_ms: int = 0
    snapshot_reap_seconds: float = Field(
        default=30.0, gt=0, description="how often expired snapshots are reclaimed"
    )
    upload_limit_mb: int = Field(
        default=4096, gt=0, description="largest archive body accepted (MiB)"
    )
    file_limit_mb: int = Field(
        default=64, gt=0, description="largest single file written through the files route (MiB)"
    )
    events_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="quiet seconds before /api/events sends a heartbeat"
    )
    terminal_sessions_per_tenant: int = Field(default=16, gt=0, description="open sessions cap")
    terminal_idle_seconds: float = Field(
        default=600.0, gt=0, description="a session nobody is attached to ends after this"
    )
    terminal_ttl_seconds: float = Field(default=86400.0, gt=0, description="a session's lifetime")
    terminal_scrollback_bytes: int = Field(
        default=256 * 1024, gt=0, description="output replayed to a client that (re)attaches"
    )
    linx_token_ttl_seconds: int = Field(
        default=7 * 86400, gt=0, description="life of a signed URL of a service without a TTL"
    )
    services_probe_seconds: float = Field(
        default=2.0, gt=0, description="how often published services' ports are probed"
    )
    tenant_header: Literal["required", "optional"] = Field(
        default="required",
        description="X-Tenant-Id on snapshot and fork routes: required (the contract), or "
        "optional (missing means the caller's tenant, for clients that never send it)",
    )
    file_read_default: Literal["raw", "json"] = Field(
        default="raw",
        description="what a volume file read answers a client that accepts anything (*/*): "
        "raw bytes (the contract), or the older JSON {content: base64} older SDKs parse",
    )
    cleanup_retry_seconds: float = Field(
        default=60.0, gt=0, description="how often resources a delete could not release are retried"
    )
    base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("QUILT_BASE_URL", "APP_BASE_URL", "base_url"),
        description="public base URL of this server, for the URLs it hands out",
    )
    backend_domain: str | None = Field(
        default=None,
        validation_alias=AliasChoices("QUILT_BACKEND_DOMAIN", "BACKEND_DOMAIN", "backend_domain"),
        description="public host name (https) when no base URL is set",
    )
    log_level: str = "info"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file used when no database URL is given."""
        return self.data_dir / "quilt.db"

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force."""
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def uplinks(self) -> tuple[str, ...]:
        """Uplink interfaces named in the configuration (none: follow the default route)."""
        return tuple(n.strip() for n in self.uplink.split(",") if n.strip())

    @property
    def pool_images(self) -> tuple[str, ...]:
        """Images that get a warm pool, in order."""
        return tuple(n.strip() for n in self.warm_pool_images.split(",") if n.strip())
