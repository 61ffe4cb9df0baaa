"""Snapshots, and each container's snapshot and fork origin.

Revision ID: 0002_snapshots
Revises: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_snapshots"
down_revision = "0001_core"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the snapshots table; containers learn where they came from."""
    with op.batch_alter_table("containers") as batch:
        batch.add_column(sa.Column("source_snapshot_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("forked_from", sa.String(64), nullable=True))
        batch.create_index("ix_containers_source_snapshot_id", ["source_snapshot_id"])
    op.create_table(
        "snapshots",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False, index=True),
        sa.Column("source_container_id", sa.String(64), nullable=False, index=True),
        sa.Column("source_container_name", sa.String(128), nullable=True),
        sa.Column("parent_snapshot_id", sa.String(64), nullable=True, index=True),
        sa.Column("image", sa.String(256), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("consistency_mode", sa.String(32), nullable=False),
        sa.Column("network_mode", sa.String(32), nullable=False),
        sa.Column("volume_mode", sa.String(32), nullable=False),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.Column("ttl_seconds", sa.Integer, nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("snapshots")
    with op.batch_alter_table("containers") as batch:
        batch.drop_index("ix_containers_source_snapshot_id")
        batch.drop_column("forked_from")
        batch.drop_column("source_snapshot_id")
