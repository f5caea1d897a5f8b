"""Alembic environment: always run on a connection handed in by `bot.db` (async engines).

Running `alembic` directly is supported too: set DATABASE_URL and use
`zhenggai db upgrade` — which is the documented way — or the plain alembic CLI with
`-x url=…`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from bot.models import Base, UTCDateTime

target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import application types that may change later: render the plain type.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_standalone() -> None:
    from bot.config import load_settings
    from bot.db import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or load_settings().database_url

    async def go() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(go())


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    _run_standalone()
