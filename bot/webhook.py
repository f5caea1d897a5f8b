"""Webhook mode: our own small HTTP server in front of the PTB Application.

- POST /telegram — updates from Telegram (or a reverse proxy in front of several instances);
  every request must carry the secret token Telegram was given in setWebhook, else 403.
- GET /healthz — 200 when this instance can reach the database, 503 otherwise (for load
  balancers and `docker compose` health checks).
SIGTERM/SIGINT stop accepting requests, let the handlers that are running finish, then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import signal

from sqlalchemy import text
from telegram import Update
from tornado.httpserver import HTTPServer
from tornado.web import Application as WebApplication
from tornado.web import RequestHandler

from bot.app import BotApplication, allowed_updates, build_application, start_application, stop_application
from bot.config import Settings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # Telegram updates are small; refuse anything else early


def webhook_secret(settings: Settings, token: str) -> str:
    """WEBHOOK_SECRET, or one derived from the token: the same for every instance, never the token."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return hashlib.sha256(b"zhenggai-webhook:" + token.encode()).hexdigest()[:48]


class _UpdateHandler(RequestHandler):
    def initialize(self, bot_app: BotApplication, secret: str) -> None:
        self.bot_app = bot_app
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("webhook request with a wrong or missing secret token from %s", self.request.remote_ip)
            self.set_status(403)
            return
        try:
            data = json.loads(self.request.body)
            update = Update.de_json(data, self.bot_app.bot)
        except (ValueError, TypeError, KeyError):
            self.set_status(400)
            return
        if update is not None:
            await self.bot_app.update_queue.put(update)
        self.set_status(200)

    def data_received(self, chunk: bytes) -> None:  # pragma: no cover - not streaming
        pass


class _HealthHandler(RequestHandler):
    def initialize(self, bot_app: BotApplication) -> None:
        self.bot_app = bot_app

    async def get(self) -> None:
        services = self.bot_app.bot_data.services
        healthy = False
        if services is not None:
            try:
                async with services.engine.connect() as conn:
                    await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=3)
                healthy = True
            except Exception:  # any failure means unhealthy; the log says why
                log.warning("health check: database unreachable", exc_info=True)
        self.set_status(200 if healthy else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": "ok" if healthy else "unavailable", "database": healthy}))

    def data_received(self, chunk: bytes) -> None:  # pragma: no cover
        pass


def make_web_app(application: BotApplication, secret: str) -> WebApplication:
    return WebApplication([
        (WEBHOOK_PATH, _UpdateHandler, {"bot_app": application, "secret": secret}),
        ("/healthz", _HealthHandler, {"bot_app": application}),
    ])


async def serve(settings: Settings, token: str, *, webhook_url: str | None, listen: str, port: int,
                stop: asyncio.Event | None = None, set_webhook: bool = True, whole_process: bool = False) -> None:
    """Run until `stop` is set (or SIGTERM/SIGINT). `webhook_url`: registered with Telegram."""
    application = build_application(settings, token)
    application.bot_data.whole_process = whole_process
    secret = webhook_secret(settings, token)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or no signals
            loop.add_signal_handler(sig, stop.set)
    server = HTTPServer(make_web_app(application, secret), max_body_size=MAX_BODY)
    await start_application(application)
    services = application.bot_data.services

    def terminate() -> None:
        # SIGTERM: stop starting deliveries at once, then leave the wait below and shut down.
        if services is not None:
            services.delivery.request_stop()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, terminate)
    try:
        server.listen(port, address=listen)
        if set_webhook and webhook_url:
            await application.bot.set_webhook(webhook_url, secret_token=secret, allowed_updates=allowed_updates())
        log.info("webhook server listening on %s:%s%s", listen, port, WEBHOOK_PATH)
        await stop.wait()
    finally:
        log.info("shutting down: no new requests; finishing running handlers")
        server.stop()
        await server.close_all_connections()
        await stop_application(application)


def run_webhook(settings: Settings, token: str, *, webhook_url: str, listen: str, port: int) -> None:
    asyncio.run(serve(settings, token, webhook_url=webhook_url, listen=listen, port=port, whole_process=True))

