"""Network: routes programmed inside containers, and published services.

Revision ID: 0004_network
Revises: 0003_volumes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_network"
down_revision = "0003_volumes"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add containers.routes and the services table."""
    with op.batch_alter_table("containers") as batch:
        batch.add_column(sa.Column("routes", sa.JSON, nullable=False, server_default="[]"))
    op.create_table(
        "services",
        sa.Column("service_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False, index=True),
        sa.Column("container_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("target_port", sa.Integer, nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("enable_websockets", sa.Boolean, nullable=False),
        sa.Column("auth_mode", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("ttl_secs", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
    )


def downgrade() -> None:
    """Drop the services table and containers.routes."""
    op.drop_table("services")
    with op.batch_alter_table("containers") as batch:
        batch.drop_column("routes")
