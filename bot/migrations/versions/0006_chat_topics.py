"""what the bot last answered in each private chat (follow-ups without reply)

One row per private chat: the regulation title (《…》) and article, or the measure code, of the
bot's last answer there, and when. A follow-up typed without using reply (第五条呢, 下一条,
谁负责) is asked within it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 01:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_topics",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("article", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_chat_topics")),
    )


def downgrade() -> None:
    op.drop_table("chat_topics")
