"""extension requests, bind attempts, invite issuer

Adds `extension_requests` (deadline extensions an admin decides; at most one pending per
measure, a partial unique index on both databases), `bind_attempts` (rate limit for invite
codes) and `invites.created_by_id` (who issued a code; NULL for the command line).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 22:26:49.456606
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bind_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bind_attempts")),
    )
    with op.batch_alter_table("bind_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bind_attempts_telegram_user_id"), ["telegram_user_id"], unique=False)

    op.create_table(
        "extension_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("old_deadline", sa.Date(), nullable=True),
        sa.Column("new_deadline", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "refused",
                name="extension_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["cadres.id"],
            name=op.f("fk_extension_requests_decided_by_id_cadres"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measures.id"], name=op.f("fk_extension_requests_measure_id_measures"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["cadres.id"],
            name=op.f("fk_extension_requests_requested_by_id_cadres"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extension_requests")),
    )
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_extension_requests_measure_id"), ["measure_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_extension_requests_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_extension_requests_one_pending",
            ["measure_id"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    # Batch mode: SQLite cannot add a foreign key in place, so the table is copied.
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_invites_created_by_id_cadres"), "cadres", ["created_by_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_invites_created_by_id_cadres"), type_="foreignkey")
        batch_op.drop_column("created_by_id")

    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_extension_requests_one_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_extension_requests_status"))
        batch_op.drop_index(batch_op.f("ix_extension_requests_measure_id"))

    op.drop_table("extension_requests")
    with op.batch_alter_table("bind_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bind_attempts_telegram_user_id"))

    op.drop_table("bind_attempts")
