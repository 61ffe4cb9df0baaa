"""Core tables: containers, addresses, operations, api keys, meta.

Revision ID: 0001_core
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the core tables."""
    op.create_table(
        "containers",
        sa.Column("container_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("image", sa.String(256), nullable=False),
        sa.Column("command", sa.JSON, nullable=True),
        sa.Column("environment", sa.JSON, nullable=False),
        sa.Column("working_directory", sa.Text, nullable=False),
        sa.Column("memory_limit_mb", sa.Integer, nullable=False),
        sa.Column("cpu_limit_percent", sa.Float, nullable=False),
        sa.Column("strict", sa.Boolean, nullable=False),
        sa.Column("gpu_count", sa.Integer, nullable=False),
        sa.Column("gpu_ids", sa.JSON, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("volumes", sa.JSON, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("exited_at", TS, nullable=True),
        sa.Column("stop_requested", sa.Boolean, nullable=False),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.UniqueConstraint("tenant_id", "name", name="uq_containers_tenant_name"),
    )
    op.create_table(
        "addresses",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False, unique=True),
        sa.Column("allocated_at", TS, nullable=False),
    )
    op.create_table(
        "operations",
        sa.Column("operation_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False, index=True),
        sa.Column("operation_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("target_resource_type", sa.String(64), nullable=True),
        sa.Column("target_resource_id", sa.String(64), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("reason_code", sa.String(64), nullable=True),
        sa.Column("reason_message", sa.Text, nullable=True),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("phases", sa.JSON, nullable=False),
        sa.Column("progress_pct", sa.Float, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop the core tables."""
    for table in ("meta", "api_keys", "operations", "addresses", "containers"):
        op.drop_table(table)
