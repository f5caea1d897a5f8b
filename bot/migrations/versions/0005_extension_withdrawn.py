"""extension requests may be withdrawn

`extension_requests.status` gains the value "withdrawn" (the requester took the request back
before an admin decided). The status is a VARCHAR with a CHECK constraint (`models._enum`),
named `ck_extension_requests_extension_status` by the naming convention: it is replaced by one
that allows the new value. Batch mode, so that SQLite copies the table (it cannot alter a
constraint in place); the partial unique index on pending rows is carried over by the copy.

Downgrade: a withdrawn request becomes a refused one, its decision note saying it was withdrawn
(the older code knows no other closed state), then the old constraint is restored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_extension_requests_extension_status"
OLD_VALUES = ("pending", "approved", "refused")
NEW_VALUES = (*OLD_VALUES, "withdrawn")
#: What a withdrawn request's decision note says once the older schema calls it refused.
WITHDRAWN_NOTE = "申请人已撤回"


def _check(values: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def _replace_check(values: Sequence[str]) -> None:
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(CONSTRAINT), sa.text(_check(values)))


def upgrade() -> None:
    _replace_check(NEW_VALUES)


def downgrade() -> None:
    requests = sa.table("extension_requests", sa.column("status", sa.String(16)),
                        sa.column("decision_note", sa.Text()))
    op.execute(
        requests.update()
        .where(requests.c.status == "withdrawn")
        .values(
            status="refused",
            # Keep a note the requester or an admin wrote, after saying what happened.
            decision_note=sa.case(
                (requests.c.decision_note == "", sa.literal(WITHDRAWN_NOTE)),
                else_=sa.literal(WITHDRAWN_NOTE + "；") + requests.c.decision_note,
            ),
        )
    )
    _replace_check(OLD_VALUES)
