"""Building the python-telegram-bot Application: defaults, long-lived services, handlers, jobs.

Long-lived services (database engine, session factory, answer index, outbox delivery) are
built in `post_init` — after the Bot API is reachable, never at import — and reached from
handlers through the typed context: `context.services`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import gc
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, Application, CallbackContext, ContextTypes, Defaults, ExtBot, JobQueue

from bot import db
from bot.config import Settings
from bot.db import SessionFactory
from bot.delivery import Delivery
from bot.errors import ZhenggaiError
from bot.services.answers import AnswerEngine

log = logging.getLogger(__name__)

#: The command menu (setMyCommands): what staff see when they type "/".
COMMANDS = [
    ("start", "开始 / 用邀请码绑定身份"),
    ("help", "使用帮助"),
    ("mine", "我的整改措施"),
    ("status", "查询整改措施：/status 编号或关键词"),
    ("overdue", "逾期的整改措施"),
    ("todo", "待我处理（销号、延期审批）"),
    ("done", "报告完成：/done 编号 说明"),
    ("verify", "销号：/verify 编号"),
    ("reject", "退回：/reject 编号 原因"),
    ("extend", "申请延期：/extend 编号 日期 原因"),
    ("history", "办理记录与佐证材料：/history 编号"),
    ("regs", "浏览规章制度"),
    ("report", "整改公示汇总"),
    ("export", "导出整改台账（管理员）"),
    ("invite", "生成邀请码（管理员）"),
    ("misses", "未能回答或答错的问题（管理员）"),
    ("cancel", "取消当前操作"),
]

INDEX_REFRESH_SECONDS = 30
DELIVERY_SECONDS = 10


def retry_seconds(error: RetryAfter) -> float:
    """How long Telegram asked us to wait (PTB gives an int or a timedelta, depending on its settings)."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class RateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter (30 requests/s overall, 20/min per group) with a retry policy fit for
    answering people (PTB's own retries a 429 a fixed number of times, then logs an error with a
    traceback, and never retries a 5xx):

    - 429: wait `retry_after` (all requests pause meanwhile) and try again, up to `max_retries`
      times and `max_wait` seconds in all; beyond that a flood storm is not worth holding a reply
      for (nor a shutdown: systemd and compose give 30 s): RetryAfter reaches the caller, logged
      as a warning, and the handlers' error handler drops the reply. A call made with
      ``rate_limit_args=NO_RETRIES`` is not retried at all: the outbox delivery puts a throttled
      message back in the queue itself rather than hold its claim while waiting.
    - 5xx and connection errors (Telegram did not take the request): retried `server_retries`
      times after `backoff`, 2×`backoff` … seconds.
    - Timeouts are not retried: Telegram may have accepted the request, and a retry would send the
      message twice. 4xx are final.
    """

    def __init__(self, *, max_retries: int = 3, max_wait: float = 20.0, server_retries: int = 2,
                 backoff: float = 0.5) -> None:
        super().__init__(max_retries=max_retries)
        self.max_wait = max_wait
        self.server_retries = server_retries
        self.backoff = backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        max_retries = self._max_retries if rate_limit_args is None else max(0, rate_limit_args)
        chat_id = data.get("chat_id")
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)  # type: ignore[arg-type]
        group: int | str | bool = chat_id if (isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str) \
            else False
        limited, server_failures, waited = 0, 0, 0.0
        while True:
            try:
                return await self._run_request(chat=chat_id is not None, group=group,
                                               allow_paid_broadcast=bool(data.get("allow_paid_broadcast", False)),
                                               callback=callback, args=args, kwargs=kwargs)
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                if max_retries == 0:
                    raise  # the caller deals with it
                if limited >= max_retries or waited + seconds > self.max_wait:
                    log.warning("%s: Telegram is still rate limiting after %d retries (%.0fs waited); giving up",
                                endpoint, limited, waited)
                    raise
                limited += 1
                waited += seconds
                log.info("%s: rate limited, retrying in %.1fs", endpoint, seconds)
                self._retry_after_event.clear()  # every request waits, as Telegram asked
                try:
                    await asyncio.sleep(seconds + 0.1)
                finally:
                    self._retry_after_event.set()
            except (BadRequest, TimedOut):
                raise
            except NetworkError as exc:
                if server_failures >= self.server_retries:
                    raise
                server_failures += 1
                delay = self.backoff * 2 ** (server_failures - 1)
                log.info("%s: %s; retrying in %.1fs", endpoint, exc, delay)
                await asyncio.sleep(delay)


@dataclass
class Services:
    """Everything a handler needs besides the update; built once per process in post_init."""

    settings: Settings
    engine: AsyncEngine
    factory: SessionFactory
    answers: AnswerEngine
    delivery: Delivery
    bot_username: str
    extras: dict[str, Any] = field(default_factory=dict)

    def today(self) -> dt.date:
        return dt.datetime.now(self.settings.tz).date()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class BotData:
    """`application.bot_data`: holds the services (typed, unlike PTB's default dict)."""

    services: Services | None = None
    settings: Settings
    own_signals: bool = False  # run_polling owns the process: install the graceful SIGTERM handler
    whole_process: bool = False  # the only application in this process (`zhenggai run`): see _settle_memory


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The callback context of every handler and job, with typed access to the services."""

    @property
    def services(self) -> Services:
        services = self.bot_data.services
        if services is None:
            raise ZhenggaiError("机器人正在启动，请稍后再试。")
        return services


BotApplication = Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, JobQueue[BotContext]]


def build_application(settings: Settings, token: str, *, rate_limiter: bool = True) -> BotApplication:
    """The application, pointed at `TELEGRAM_API_BASE_URL` (Telegram, a self-hosted Bot API, or the sandbox)."""
    from handlers import register

    context_types = ContextTypes(context=BotContext, bot_data=BotData)
    builder = (
        Application.builder()
        .token(token)
        .base_url(settings.bot_api_url)
        .base_file_url(settings.bot_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz,
                           link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .context_types(context_types)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        # Handlers keep no per-process conversation state, so updates may run concurrently.
        .concurrent_updates(16)
    )
    if rate_limiter:
        # 30 msg/s overall and 20/min per group; 429s and 5xx retried (the outbox has its own pacing).
        builder = builder.rate_limiter(RateLimiter())  # type: ignore[arg-type]
    application: BotApplication = builder.build()  # type: ignore[assignment]
    application.bot_data.settings = settings
    register(application)
    return application


async def _post_init(application: BotApplication) -> None:
    settings = application.bot_data.settings
    engine = db.create_engine(settings.database_url)
    await _check_schema(engine, settings)
    factory = db.create_session_factory(engine)
    answers = await AnswerEngine.load(factory, settings)
    me = await application.bot.get_me()
    delivery = Delivery(application.bot, factory, stale_after=dt.timedelta(seconds=settings.outbox_stale_seconds))
    application.bot_data.services = Services(settings, engine, factory, answers, delivery, me.username or "")
    if application.bot_data.own_signals:
        _graceful_signals(delivery)
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
    jobs = application.job_queue
    if jobs is not None:
        jobs.run_repeating(_refresh_index, interval=INDEX_REFRESH_SECONDS, first=INDEX_REFRESH_SECONDS,
                           name="refresh-answers")
        jobs.run_repeating(_deliver, interval=DELIVERY_SECONDS, first=1, name="deliver-outbox")
        # The daily sweep at REMINDER_TIME, plus a catch-up every REMINDER_CHECK_SECONDS within the
        # allowed hours (after downtime or a database outage); both are idempotent.
        jobs.run_daily(_remind, time=settings.reminder_time, name="reminders-daily")
        check = settings.reminder_check_seconds
        jobs.run_repeating(_remind, interval=check, first=min(20, check), name="reminders-catch-up")
    log.info("bot @%s ready: %d documents indexed in %.1fs", me.username, answers.document_count(),
             answers.build_seconds)
    if application.bot_data.whole_process:
        _settle_memory()


def _settle_memory() -> None:
    """Move what start-up built (the answer index, jieba's dictionary, the models) out of the
    cyclic garbage collector's sight: it lives as long as the process, and rescanning it on
    every full collection shows up as pauses under load (see benchmarks/load.py --gc-freeze).
    Only for a process that runs one application, since frozen cycles are never collected."""
    gc.collect()
    gc.freeze()


def _graceful_signals(delivery: Delivery) -> None:
    """On SIGTERM/SIGINT stop starting deliveries before PTB shuts down, so that a fan-out in
    progress ends with every message either sent and recorded or handed back as pending."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        delivery.request_stop()
        raise SystemExit(0)  # what PTB's own handler does: run_polling then stops cleanly

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)


async def _check_schema(engine: AsyncEngine, settings: Settings) -> None:
    current, head = await db.current_revision(engine), db.head_revision()
    if current == head:
        return
    if settings.is_sqlite:
        await db.upgrade(engine)
        return
    await engine.dispose()
    raise ZhenggaiError(f"数据库结构版本为 {current or '空'}，需要 {head}：请先运行 zhenggai db upgrade")


async def _post_shutdown(application: BotApplication) -> None:
    services = application.bot_data.services
    if services is not None:
        await services.delivery.stop()
        await services.engine.dispose()


_Job = Callable[[BotContext], Coroutine[Any, Any, None]]


def _outage_tolerant(job: _Job) -> _Job:
    """A job that meets a database outage logs a warning and tries again at its next run (the
    outage is not a bug: no traceback, no alert to the admins)."""

    @functools.wraps(job)
    async def run(context: BotContext) -> None:
        try:
            await job(context)
        except Exception as error:
            if not db.is_unavailable(error):
                raise
            log.warning("%s: database unavailable, trying again at the next run: %s", job.__name__.strip("_"), error)

    return run


@_outage_tolerant
async def _refresh_index(context: BotContext) -> None:
    """Pick up imports and aliases made by other processes (the CLI, other instances)."""
    services = context.services
    async with db.transaction(services.factory) as session:
        changed = await services.answers.refresh(session)
    if changed:
        log.info("answer index refreshed: %s documents", "all" if changed < 0 else changed)


@_outage_tolerant
async def _deliver(context: BotContext) -> None:
    await context.services.delivery.deliver_due()


async def start_application(application: BotApplication) -> None:
    """Initialise and start without run_polling/run_webhook (which would own the event loop).

    PTB calls post_init only from its run_* helpers, so it is called here explicitly.
    """
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()


async def stop_application(application: BotApplication) -> None:
    if application.running:
        await application.stop()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)
    await application.shutdown()


@_outage_tolerant
async def _remind(context: BotContext) -> None:
    """A reminder sweep, only between REMINDER_TIME and REMINDER_LATEST local time (never at night)."""
    from handlers.reminders import run_sweep

    services = context.services
    settings = services.settings
    now = dt.datetime.now(settings.tz)
    if not settings.reminder_time <= now.time().replace(tzinfo=None) < settings.reminder_latest:
        return
    result = await run_sweep(services.factory, settings, services.today())
    if result.digests:
        await services.delivery.deliver_due()


def deliver_soon(context: BotContext) -> None:
    """Send what a handler just queued without waiting for the next delivery tick."""
    context.application.create_task(_deliver(context), update=None)


def allowed_updates() -> list[str]:
    return [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
