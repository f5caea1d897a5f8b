"""Fixtures for the sandbox tests: a running Sandbox, a PTB Bot pointed at it, PTB apps."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.ext import Application, BaseHandler

from bot.sandbox import RateLimits, Sandbox, SandboxUser

# Everything talks to loopback; a proxy from the environment must never get involved.
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(limits=RateLimits.off(), webhook_retry_delay=0.02) as sandbox:
        yield sandbox


@pytest.fixture
async def bot(sb: Sandbox) -> AsyncIterator[Bot]:
    async with Bot(sb.token, base_url=sb.base_url, base_file_url=sb.base_file_url) as client:
        yield client


@pytest.fixture
def user(sb: Sandbox) -> SandboxUser:
    """A user who has already opened the private chat with the bot."""
    return sb.add_user("张伟", username="zhangwei", started=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def raw_call(sb: Sandbox, method: str, *, token: str | None = None, **params: Any) -> tuple[int, Any]:
    """Call the Bot API with plain JSON, to check exact status codes and descriptions."""
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(f"{sb.url}/bot{token or sb.token}/{method}", json=params)
    return response.status_code, response.json()


@contextlib.asynccontextmanager
async def running_app(
    sb: Sandbox,
    handlers: Sequence[BaseHandler[Any, Any, Any]],
    *,
    webhook: bool = False,
    secret_token: str | None = None,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """An unmodified PTB Application talking to the sandbox, polling or via webhook."""
    app = Application.builder().token(sb.token).base_url(sb.base_url).base_file_url(sb.base_file_url).build()
    for handler in handlers:
        app.add_handler(handler)
    async with app:
        await app.start()
        assert app.updater is not None
        if webhook:
            port = free_port()
            await app.updater.start_webhook(
                listen="127.0.0.1",
                port=port,
                url_path="hook",
                webhook_url=f"http://127.0.0.1:{port}/hook",
                secret_token=secret_token,
            )
        else:
            await app.updater.start_polling(poll_interval=0.0, timeout=5)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
