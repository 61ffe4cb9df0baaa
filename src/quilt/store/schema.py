"""Table definitions. Migrations in `migrations/versions` create them; this is the reference."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

containers = Table(
    "containers",
    metadata,
    Column("container_id", String(64), primary_key=True),
    Column("tenant_id", String(128), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("image", String(256), nullable=False),
    Column("command", JSON, nullable=True),
    Column("environment", JSON, nullable=False),
    Column("working_directory", Text, nullable=False),
    Column("memory_limit_mb", Integer, nullable=False),
    Column("cpu_limit_percent", Float, nullable=False),
    Column("strict", Boolean, nullable=False),
    Column("gpu_count", Integer, nullable=False),
    Column("gpu_ids", JSON, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("volumes", JSON, nullable=False),
    Column("state", String(32), nullable=False),
    Column("pid", Integer, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("ip_address", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("exited_at", DateTime(timezone=True), nullable=True),
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("error_message", Text, nullable=True),
    Column("source_snapshot_id", String(64), nullable=True, index=True),
    Column("forked_from", String(64), nullable=True),
    Column("routes", JSON, nullable=False, default=list),
    UniqueConstraint("tenant_id", "name", name="uq_containers_tenant_name"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("tenant_id", String(128), nullable=False, index=True),
    Column("source_container_id", String(64), nullable=False, index=True),
    Column("source_container_name", String(128), nullable=True),
    Column("parent_snapshot_id", String(64), nullable=True, index=True),
    Column("image", String(256), nullable=False),
    Column("config", JSON, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("consistency_mode", String(32), nullable=False),
    Column("network_mode", String(32), nullable=False),
    Column("volume_mode", String(32), nullable=False),
    Column("pinned", Boolean, nullable=False),
    Column("ttl_seconds", Integer, nullable=True),
    Column("size_bytes", BigInteger, nullable=True),
)

volumes = Table(
    "volumes",
    metadata,
    Column("volume_id", String(64), primary_key=True),
    Column("tenant_id", String(128), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("driver", String(32), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("size_limit_mb", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_volumes_tenant_name"),
)

services = Table(
    "services",
    metadata,
    Column("service_id", String(64), primary_key=True),
    Column("tenant_id", String(128), nullable=False, index=True),
    Column("container_id", String(64), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("target_port", Integer, nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("enable_websockets", Boolean, nullable=False),
    Column("auth_mode", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("ttl_secs", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("error_message", Text, nullable=True),
)

addresses = Table(
    "addresses",
    metadata,
    Column("address", String(64), primary_key=True),
    Column("owner_id", String(64), nullable=False, unique=True),
    Column("allocated_at", DateTime(timezone=True), nullable=False),
)

operations = Table(
    "operations",
    metadata,
    Column("operation_id", String(64), primary_key=True),
    Column("tenant_id", String(128), nullable=False, index=True),
    Column("operation_type", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("target_resource_type", String(64), nullable=True),
    Column("target_resource_id", String(64), nullable=True),
    Column("message", Text, nullable=True),
    Column("result", JSON, nullable=True),
    Column("error", JSON, nullable=True),
    Column("reason_code", String(64), nullable=True),
    Column("reason_message", Text, nullable=True),
    Column("items", JSON, nullable=False),
    Column("warnings", JSON, nullable=False),
    Column("phases", JSON, nullable=False),
    Column("progress_pct", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
)

activity = Table(
    "activity",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("activity_id", String(64), nullable=False, unique=True),
    Column("tenant_id", String(128), nullable=False, index=True),
    Column("type", String(64), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("resource_name", String(128), nullable=True),
    Column("message", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", String(64), nullable=False, unique=True),
    Column("tenant_id", String(128), nullable=False, index=True),
    Column("type", String(64), nullable=False),
    Column("title", String(256), nullable=False),
    Column("message", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("resource_type", String(32), nullable=True),
    Column("resource_id", String(64), nullable=True),
    Column("read", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=True),
)

cleanup_tasks = Table(
    "cleanup_tasks",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("tenant_id", String(128), nullable=False, index=True),
    Column("container_id", String(64), nullable=False, index=True),
    Column("resource_type", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("bytes_freed", BigInteger, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("tenant_id", String(128), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("prefix", String(32), nullable=False),
    Column("secret_hash", String(128), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)
