"""A throwaway PostgreSQL for the benchmarks (the same machinery the tests use)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.pg_server import start_server


@asynccontextmanager
async def postgres_databases(*names: str) -> AsyncIterator[list[str]]:
    """Start one private PostgreSQL server, create an empty database per name, yield their URLs,
    clean up."""
    import asyncpg

    server = await asyncio.to_thread(start_server)
    try:
        connection = await asyncpg.connect(host="127.0.0.1", port=server.port, user=server.user, database="postgres")
        try:
            for name in names:
                await connection.execute(f"CREATE DATABASE {name}")
        finally:
            await connection.close()
        yield [server.url(name) for name in names]
    finally:
        await asyncio.to_thread(server.stop)


@asynccontextmanager
async def postgres_database(name: str = "zhenggai_bench") -> AsyncIterator[str]:
    """One empty database on a private PostgreSQL server."""
    async with postgres_databases(name) as [url]:
        yield url
