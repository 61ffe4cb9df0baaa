"""Activity, notifications and cleanup tasks.

Revision ID: 0005_activity
Revises: 0004_network
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_activity"
down_revision = "0004_network"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the activity, notifications and cleanup_tasks tables."""
    op.create_table(
        "activity",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("activity_id", sa.String(64), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(128), nullable=False, index=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("resource_name", sa.String(128), nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.String(64), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(128), nullable=False, index=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=True),
        sa.Column("resource_id", sa.String(64), nullable=True),
        sa.Column("read", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("read_at", TS, nullable=True),
    )
    op.create_table(
        "cleanup_tasks",
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False, index=True),
        sa.Column("container_id", sa.String(64), nullable=False, index=True),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("bytes_freed", sa.BigInteger, nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("cleanup_tasks")
    op.drop_table("notifications")
    op.drop_table("activity")
