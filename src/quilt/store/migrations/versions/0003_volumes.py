"""Volumes: named, tenant-scoped data that outlives containers.

Revision ID: 0003_volumes
Revises: 0002_snapshots
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_volumes"
down_revision = "0002_snapshots"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the volumes table."""
    op.create_table(
        "volumes",
        sa.Column("volume_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("driver", sa.String(32), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("size_limit_mb", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_volumes_tenant_name"),
    )


def downgrade() -> None:
    """Drop the volumes table."""
    op.drop_table("volumes")
