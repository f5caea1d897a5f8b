"""Load benchmark: a burst of updates through the sandbox, the real bot next to a bare PTB echo bot.

Run: .venv/bin/python -m benchmarks.load [--updates 10000] [--users 200] [--postgres]
     [--rate 0] [--concurrent-updates N] [--warmup N] [--profile] [--seed 1]

One process, one event loop: a local Bot API sandbox (rate limits off: we measure the bot, not
Telegram's limits) and, one after the other, the bot under test long-polling it.

A. Baseline: a bare python-telegram-bot Application with the bot's PTB settings (Defaults, no
   rate limiter, the same concurrent_updates) and one MessageHandler echoing the text.
B. The real bot (bot.app.build_application + start_application) on the sample data plus
   synthetic cadres owning synthetic measures (SQLite in a temporary directory, or PostgreSQL
   with --postgres), one cadre bound to each sandbox user.

Both get the same plan: the same users sending the same texts in the same order — questions
from tests/questions/sample.yaml, /mine, 逾期的有哪些, measure codes, off-topic — all at once
(--rate 0, a burst) or at a fixed rate. Each update is followed through the bot in process:
when PTB starts and finishes it and every message the bot sends while handling it, so replies
are attributed exactly even when a chat has many updates in flight and one update gets several
replies. Prints updates/s (updates replied to / time from the first send to the last reply),
reply latency (send → first reply), errors, lost and duplicate replies, and the command used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import cProfile
import datetime as dt
import functools
import gc
import html
import importlib.util
import logging
import os
import platform
import pstats
import random
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import telegram
import yaml
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ContextTypes, Defaults, MessageHandler, filters
from telegram.request import BaseRequest

from benchmarks.answers import DATA, ROOT, sentences
from bot import db
from bot.app import BotApplication, Services, allowed_updates, build_application, start_application, stop_application
from bot.config import Settings, load_settings
from bot.models import Cadre, Measure, MeasureStatus, Miss, Role
from bot.sandbox import RateLimits, Sandbox, SandboxUser
from bot.services.answers import AnswerEngine
from bot.services.seed import seed_sample_data
from bot.services.text import normalize
from handlers import render

#: The sample data's deadlines are fixed dates: "today" is pinned (as in tests/bot) so that the
#: overdue lists, and with them the replies, are the same whenever the benchmark runs.
TODAY = dt.date(2026, 11, 27)
#: What staff send, and how often (the share of each kind in the plan).
MIX = {"question": 0.55, "mine": 0.10, "overdue": 0.10, "code": 0.10, "offtopic": 0.15}
CHITCHAT = ["你好", "在吗", "谢谢", "好的，收到", "今天天气怎么样", "中午食堂吃什么", "hello", "哈哈哈",
            "明天放假吗", "帮我订一张去南宁的高铁票", "？", "👍"]
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup",
                          "answerCallbackQuery", "sendChatAction"})
#: Replies that mean the bot failed (handlers/common.DATABASE_DOWN, handlers/errors.APOLOGY, NOT_BOUND).
FAILURE_REPLIES = {"暂时无法访问数据库": "database unavailable (DATABASE_DOWN)",
                   "处理您的请求时出了点问题": "unhandled error (APOLOGY)",
                   "您还没有绑定身份": "not bound (NOT_BOUND)"}

Key = tuple[int, int]  # (chat id, the user's message id)


# ---- following each update through the bot -------------------------------------------------------

@dataclass
class Tracker:
    """Times per update, recorded from inside the process (cheap: a dict write per event)."""

    sent: dict[Key, float] = field(default_factory=dict)
    kind: dict[Key, str] = field(default_factory=dict)
    begun: dict[Key, float] = field(default_factory=dict)
    handled: dict[Key, float] = field(default_factory=dict)
    replies: dict[Key, list[tuple[float, str, str]]] = field(default_factory=lambda: defaultdict(list))
    failed_calls: Counter[str] = field(default_factory=Counter)
    unattributed: Counter[str] = field(default_factory=Counter)
    sql_statements: int = 0
    sql_commits: int = 0
    timers: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    gc_started: float = 0.0
    gc_pauses: list[tuple[int, float]] = field(default_factory=list)  # (generation, seconds)

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


TRACKER = Tracker()
_CURRENT: contextvars.ContextVar[Key | None] = contextvars.ContextVar("benchmark_update", default=None)


@contextlib.contextmanager
def instrumented() -> Iterator[None]:
    """Wrap PTB's Application.process_update (runs once per update, in the update's own task
    when updates are concurrent) and BaseRequest.post (every Bot API call) so that each call
    the bot makes is attributed to the update it is handling. Both bots get the same wrapping."""
    original_process = Application.process_update
    original_post = BaseRequest.post

    async def process_update(self: Application[Any, Any, Any, Any, Any, Any], update: object) -> None:
        key: Key | None = None
        if isinstance(update, Update) and update.effective_message is not None:
            key = (update.effective_message.chat_id, update.effective_message.message_id)
            if key not in TRACKER.sent:
                key = None
        token = _CURRENT.set(key)
        if key is not None:
            TRACKER.begun[key] = time.perf_counter()
        try:
            await original_process(self, update)
        finally:
            if key is not None:
                TRACKER.handled[key] = time.perf_counter()
            _CURRENT.reset(token)

    async def post(self: BaseRequest, url: str, request_data: Any = None, *args: Any, **kwargs: Any) -> Any:
        method = url.rsplit("/", 1)[-1]
        key = _CURRENT.get()
        try:
            result = await original_post(self, url, request_data, *args, **kwargs)
        except Exception:
            if key is not None:
                TRACKER.failed_calls[method] += 1
            raise
        if method in SEND_METHODS:
            if key is None:
                TRACKER.unattributed[method] += 1
            else:
                text = str(request_data.parameters.get("text", "")) if request_data is not None else ""
                TRACKER.replies[key].append((time.perf_counter(), method, text))
        return result

    def statement(*_args: Any) -> None:
        TRACKER.sql_statements += 1

    def commit(*_args: Any) -> None:
        TRACKER.sql_commits += 1

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                TRACKER.timers[name].append(time.perf_counter() - started)
        return wrapper

    # Synchronous CPU work on the event loop, timed exactly (a perf_counter pair per call).
    original_ask, original_split = AnswerEngine.ask, render.split_message
    AnswerEngine.ask = timed("answer engine: AnswerEngine.ask, per question", original_ask)  # type: ignore[method-assign]
    render.split_message = timed("render.split_message, per reply", original_split)
    def collecting(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            TRACKER.gc_started = time.perf_counter()
        else:
            TRACKER.gc_pauses.append((info["generation"], time.perf_counter() - TRACKER.gc_started))

    gc.callbacks.append(collecting)
    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "commit", commit)
    Application.process_update = process_update  # type: ignore[method-assign]
    BaseRequest.post = post  # type: ignore[method-assign,misc]
    try:
        yield
    finally:
        Application.process_update = original_process  # type: ignore[method-assign]
        BaseRequest.post = original_post  # type: ignore[method-assign,misc]
        AnswerEngine.ask = original_ask  # type: ignore[method-assign]
        render.split_message = original_split
        event.remove(Engine, "before_cursor_execute", statement)
        event.remove(Engine, "commit", commit)
        gc.callbacks.remove(collecting)


class LogCounter(logging.Handler):
    """Counts WARNING+ records by logger and message; prints the first few of each to stderr."""

    def __init__(self, show: int = 2) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.show = show

    def emit(self, record: logging.LogRecord) -> None:
        key = (record.levelname, record.name, str(record.msg)[:120])
        self.counts[key] += 1
        if self.counts[key] <= self.show:
            text = f"[log] {record.levelname} {record.name}: {record.getMessage()[:300]}"
            if record.exc_info and self.counts[key] == 1:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info))
            print(text, file=sys.stderr)

    def take(self) -> Counter[tuple[str, str, str]]:
        counts, self.counts = self.counts, Counter()
        return counts


# ---- the workload ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Planned:
    user_id: int
    kind: str
    text: str


def question_pools() -> tuple[list[str], list[str]]:
    items = yaml.safe_load((ROOT / "tests" / "questions" / "sample.yaml").read_text(encoding="utf-8"))
    answerable = [str(i["q"]) for i in items if i.get("expect") is not None]
    offtopic = [str(i["q"]) for i in items if i.get("expect") is None] + CHITCHAT
    return answerable, offtopic


def code_spelling(code: str, rng: random.Random) -> str:
    """A measure code as people type it: as written, lower case, or with dashes (ZG-2025-004)."""
    roll = rng.random()
    if roll < 0.6:
        return code
    if roll < 0.8:
        return code.lower()
    return f"{code[:2]}-{code[2:6]}-{code[6:]}"


def make_plan(count: int, users: list[SandboxUser], codes: dict[int, list[str]], all_codes: list[str],
              rng: random.Random) -> list[Planned]:
    answerable, offtopic = question_pools()
    kinds, weights = list(MIX), list(MIX.values())
    plan = []
    for _ in range(count):
        user = rng.choice(users)
        kind = rng.choices(kinds, weights)[0]
        if kind == "question":
            text = rng.choice(answerable)
        elif kind == "mine":
            text = "/mine"
        elif kind == "overdue":
            text = "逾期的有哪些"
        elif kind == "code":
            text = code_spelling(rng.choice(codes.get(user.id) or all_codes), rng)
        else:
            text = rng.choice(offtopic)
        plan.append(Planned(user.id, kind, text))
    return plan


@dataclass
class Prepared:
    codes: dict[int, list[str]]  # user id → codes of the measures their cadre owns
    all_codes: list[str]
    names: dict[int, str]  # user id → cadre name
    synthetic: int  # synthetic cadres made


async def prepare_database(url: str, users: list[SandboxUser], rng: random.Random) -> Prepared:
    """Schema, sample data, synthetic cadres (one per user beyond the sample's) owning 1–3
    synthetic measures each, and every user bound to a cadre."""
    engine = db.create_engine(url)
    await db.upgrade(engine)
    factory = db.create_session_factory(engine)
    await seed_sample_data(factory, DATA, only_if_empty=False)
    pool = sentences()
    async with db.transaction(factory) as session:
        cadres = list(await session.scalars(select(Cadre).order_by(Cadre.id)))
        leaders = [c for c in cadres if c.role is Role.LEADER]
        units = sorted({m.unit for m in await session.scalars(select(Measure)) if m.unit})
        categories = sorted({m.category for m in await session.scalars(select(Measure)) if m.category})
        synthetic = max(0, len(users) - len(cadres))
        number = 0
        for i in range(synthetic):
            cadre = Cadre(name=f"压测干部{i:04d}", unit=rng.choice(units), position="科员", role=Role.CADRE)
            session.add(cadre)
            cadres.append(cadre)
            for _ in range(rng.randint(1, 3)):
                number += 1
                session.add(Measure(
                    code=f"ZG3{number:06d}", problem=rng.choice(pool), measure=rng.choice(pool),
                    category=rng.choice(categories), unit=cadre.unit, owner=cadre, leader=rng.choice(leaders),
                    deadline=TODAY + dt.timedelta(days=rng.randint(-30, 120)),
                    status=rng.choice([MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS,
                                       MeasureStatus.IN_PROGRESS, MeasureStatus.DONE]),
                    progress=rng.choice(["", "正在推进。", "已完成初步排查，整改方案已报分管领导。"])))
        now = dt.datetime.now(dt.UTC)
        for user, cadre in zip(users, cadres, strict=False):
            cadre.telegram_user_id, cadre.bound_at = user.id, now
        await session.flush()
        by_owner: dict[int, list[str]] = defaultdict(list)
        for measure in await session.scalars(select(Measure).order_by(Measure.code)):
            by_owner[measure.owner_id].append(measure.code)
        pairs = list(zip(users, cadres, strict=False))
        prepared = Prepared({user.id: by_owner.get(cadre.id, []) for user, cadre in pairs},
                            sorted(code for owned in by_owner.values() for code in owned),
                            {user.id: cadre.name for user, cadre in pairs}, synthetic)
    if engine.url.get_backend_name() == "sqlite":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    await engine.dispose()
    return prepared


# ---- the two bots ---------------------------------------------------------------------------------

def bot_defaults(settings: Settings) -> Defaults:
    """bot.app.build_application's Defaults."""
    return Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz, link_preview_options=LinkPreviewOptions(
        is_disabled=True))


async def echo(update: Update, _context: Any) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(html.escape(message.text), do_quote=False)


def build_echo(sb: Sandbox, settings: Settings, concurrent: int) -> Application[Any, Any, Any, Any, Any, Any]:
    app = (Application.builder().token(sb.token).base_url(sb.base_url).base_file_url(sb.base_file_url)
           .defaults(bot_defaults(settings)).concurrent_updates(concurrent).build())
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


def build_real(settings: Settings, token: str, concurrent: int | None) -> BotApplication:
    """The production Application; with another concurrent_updates, a copy of build_application's
    builder settings (the handlers, post_init and jobs are the production ones)."""
    if concurrent is None:
        return build_application(settings, token, rate_limiter=False)
    from bot.app import BotContext, BotData, _post_init, _post_shutdown
    from handlers import register

    builder = (
        Application.builder().token(token).base_url(settings.bot_api_url).base_file_url(settings.bot_file_url)
        .defaults(bot_defaults(settings)).context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .post_init(_post_init).post_shutdown(_post_shutdown).concurrent_updates(concurrent))
    app: BotApplication = builder.build()  # type: ignore[assignment]
    app.bot_data.settings = settings
    register(app)
    return app


@contextlib.asynccontextmanager
async def running_echo(sb: Sandbox, settings: Settings, concurrent: int) -> AsyncIterator[Any]:
    app = build_echo(sb, settings, concurrent)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=allowed_updates())
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@contextlib.asynccontextmanager
async def running_real(sb: Sandbox, settings: Settings, concurrent: int | None) -> AsyncIterator[Any]:
    app = build_real(settings, sb.token, concurrent)
    original_today = Services.today
    Services.today = lambda self: TODAY  # type: ignore[method-assign]
    await start_application(app)
    # The reminder sweeps would send digests in the middle of the burst (tests/bot does the same).
    if app.job_queue is not None:
        for job in app.job_queue.jobs():
            if (job.name or "").startswith("remind"):
                job.schedule_removal()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=allowed_updates())
    try:
        yield app
    finally:
        if app.updater.running:
            await app.updater.stop()
        await stop_application(app)
        Services.today = original_today  # type: ignore[method-assign]


# ---- one phase ------------------------------------------------------------------------------------

@dataclass
class Phase:
    name: str
    updates: int = 0
    send_seconds: float = 0.0
    wall: float = 0.0
    replied: int = 0
    handled: int = 0
    replies: int = 0
    latencies: list[float] = field(default_factory=list)  # ms, send → first reply
    last_reply: list[float] = field(default_factory=list)  # ms, send → last reply
    queue_wait: list[float] = field(default_factory=list)  # ms, send → PTB starts the update
    service: list[float] = field(default_factory=list)  # ms, PTB starts → finishes the update
    by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    service_by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    multi_reply: int = 0
    duplicates: int = 0
    wrong_echo: int = 0
    failure_replies: Counter[str] = field(default_factory=Counter)
    failed_calls: Counter[str] = field(default_factory=Counter)
    unattributed: Counter[str] = field(default_factory=Counter)
    logs: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    sandbox_messages: int = 0
    cpu_process: float = 0.0
    cpu_loop: float = 0.0
    profile: pstats.Stats | None = None
    warmup_logs: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    sql_statements: int = 0
    sql_commits: int = 0
    timers: dict[str, list[float]] = field(default_factory=dict)
    gc_pauses: list[tuple[int, float]] = field(default_factory=list)
    heap_objects: int = 0
    notes: list[str] = field(default_factory=list)
    load: str = ""
    api_calls: Counter[str] = field(default_factory=Counter)  # Bot API calls the sandbox answered, by method

    @property
    def per_cpu(self) -> float:
        """Updates replied to per CPU-second of the event loop thread: the throughput the loop
        would reach if it had a core to itself (robust to other processes on a shared machine)."""
        return self.replied / self.cpu_loop if self.cpu_loop else 0.0

    @property
    def rate(self) -> float:
        return self.replied / self.wall if self.wall else 0.0


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[0]
    return "?"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def bot_message_count(sb: Sandbox, users: list[SandboxUser]) -> int:
    return sum(len(sb.messages(u.id, include_deleted=True)) for u in users)


async def send_all(sb: Sandbox, plan: list[Planned], rate: float, *, yield_every: int = 50) -> float:
    """Send the plan: as fast as the sandbox takes it (rate 0, yielding to the loop every
    `yield_every` messages so the bot can start meanwhile, as a real server's clients would), or
    at `rate` per second. Records each send time. Returns the time the last one was sent."""
    loop_start = time.perf_counter()
    for n, item in enumerate(plan):
        if rate > 0:
            delay = loop_start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        elif n % yield_every == 0:
            await asyncio.sleep(0)
        message = await sb.send_text(item.user_id, item.text)
        key = (item.user_id, int(message["message_id"]))
        TRACKER.sent[key] = time.perf_counter()
        TRACKER.kind[key] = item.kind
    return time.perf_counter()


async def wait_handled(count: int, stall: float) -> None:
    """Until every sent update was handled, or nothing progressed for `stall` seconds."""
    last, since = -1, time.perf_counter()
    while len(TRACKER.handled) < count:
        done = len(TRACKER.handled)
        if done != last:
            last, since = done, time.perf_counter()
        elif time.perf_counter() - since > stall:
            return
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # let tasks the handlers spawned finish


async def run_phase(name: str, sb: Sandbox, users: list[SandboxUser], start: Callable[[], Any],
                    warmup: list[Planned], plan: list[Planned], args: argparse.Namespace,
                    logs: LogCounter, prepared: Prepared) -> Phase:
    phase = Phase(name, updates=len(plan))
    async with start() as app:
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        if warmup:
            TRACKER.reset()
            await send_all(sb, warmup, 0.0)
            await wait_handled(len(warmup), args.stall)
        phase.warmup_logs = logs.take()
        misses_before = await misses_total(app)
        TRACKER.reset()
        before = bot_message_count(sb, users)
        methods_before = Counter(sb.stats.methods)
        profiler = cProfile.Profile() if args.profile else None
        cpu0, loop0 = time.process_time(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        first = time.perf_counter()
        sent_at = await send_all(sb, plan, args.rate)
        phase.send_seconds = sent_at - first
        await wait_handled(len(plan), args.stall)
        if profiler is not None:
            profiler.disable()
            phase.profile = pstats.Stats(profiler)
            if args.profile_out:
                profiler.dump_stats(f"{args.profile_out}-{name}.prof")
        phase.cpu_process, phase.cpu_loop = time.process_time() - cpu0, time.thread_time() - loop0
        phase.load = loadavg()
        phase.sandbox_messages = bot_message_count(sb, users) - before
        phase.api_calls = Counter(sb.stats.methods) - methods_before
        phase.logs = logs.take()
        phase.sql_statements, phase.sql_commits = TRACKER.sql_statements, TRACKER.sql_commits
        if args.gc_freeze:
            gc.unfreeze()
        phase.timers = {key: list(values) for key, values in TRACKER.timers.items()}
        phase.gc_pauses, phase.heap_objects = list(TRACKER.gc_pauses), len(gc.get_objects())
        collect(phase, plan, first, name == "echo")
        if misses_before is not None:
            phase.notes += await check_misses(app, plan, prepared, misses_before)
    return phase


async def misses_total(app: Any) -> tuple[int, int] | None:
    """(rows, sum of counts) of the real bot's `misses` table; None for the echo bot."""
    services = getattr(app.bot_data, "services", None)
    if not isinstance(services, Services):
        return None
    async with db.transaction(services.factory) as session:
        rows = await session.scalar(select(func.count()).select_from(Miss))
        total = await session.scalar(select(func.coalesce(func.sum(Miss.count), 0)))
    return int(rows or 0), int(total or 0)


async def check_misses(app: Any, plan: list[Planned], prepared: Prepared, before: tuple[int, int]) -> list[str]:
    """Every unanswered question counts once in `misses` (answers.record_miss): compare what
    the burst added with what asking the same questions one at a time says it should add."""
    services: Services = app.bot_data.services
    expected, texts = 0, set()
    for n, item in enumerate(plan):
        if n % 100 == 0:
            await asyncio.sleep(0)  # the bot's jobs keep their schedule (no "run time missed" warnings)
        if item.text.startswith("/"):
            continue
        answer = services.answers.ask(item.text, asker=prepared.names[item.user_id], today=TODAY)
        if answer.is_miss:
            expected += 1
            texts.add(normalize(item.text)[:512])
    after = await misses_total(app)
    assert after is not None
    added = after[1] - before[1]
    line = (f"misses counter (record_miss): the burst had {expected:,} unanswered questions ({len(texts)} distinct); "
            f"the table's counts grew by {added:,}")
    if added < expected:
        line += f" — {expected - added:,} increments LOST (concurrent read-modify-write of misses.count)"
    return [line]


def collect(phase: Phase, plan: list[Planned], first: float, echo_bot: bool) -> None:
    """Figures from TRACKER for the measured updates."""
    t = TRACKER
    texts = {key: text for key, text in zip(t.sent, (p.text for p in plan), strict=True)}
    last_reply = first
    for key, sent in t.sent.items():
        replies = [r for r in t.replies.get(key, []) if r[1] != "sendChatAction"]
        if key in t.handled:
            phase.handled += 1
            if key in t.begun:
                phase.queue_wait.append((t.begun[key] - sent) * 1000)
                phase.service.append((t.handled[key] - t.begun[key]) * 1000)
                phase.service_by_kind[t.kind[key]].append((t.handled[key] - t.begun[key]) * 1000)
        if not replies:
            continue
        phase.replied += 1
        phase.replies += len(replies)
        latency = (replies[0][0] - sent) * 1000
        phase.latencies.append(latency)
        phase.last_reply.append((replies[-1][0] - sent) * 1000)
        phase.by_kind[t.kind[key]].append(latency)
        last_reply = max(last_reply, replies[-1][0])
        bodies = [text for _, method, text in replies if method == "sendMessage"]
        phase.multi_reply += len(replies) > 1
        phase.duplicates += len(bodies) - len(set(bodies))
        if echo_bot and bodies != [html.escape(texts[key])]:
            phase.wrong_echo += 1
        for body in bodies:
            for marker, label in FAILURE_REPLIES.items():
                if marker in body:
                    phase.failure_replies[label] += 1
    phase.wall = last_reply - first
    phase.failed_calls, phase.unattributed = t.failed_calls, t.unattributed


# ---- reporting ------------------------------------------------------------------------------------

PACKAGES = [
    ("sandbox (bot/sandbox)", "/bot/sandbox/"),
    ("answer engine (bot/services/answers, retrieval, text)", "/bot/services/"),
    ("handlers/ + bot/ (other)", "/handlers/"),
    ("handlers/ + bot/ (other)", "/main/bot/"),
    ("python-telegram-bot", "/telegram/"),
    ("SQLAlchemy", "/sqlalchemy/"),
    ("aiosqlite / asyncpg drivers", "/aiosqlite/"),
    ("aiosqlite / asyncpg drivers", "/asyncpg/"),
    ("httpx / httpcore / h11 / anyio (PTB's client)", "/httpx/"),
    ("httpx / httpcore / h11 / anyio (PTB's client)", "/httpcore/"),
    ("httpx / httpcore / h11 / anyio (PTB's client)", "/h11/"),
    ("httpx / httpcore / h11 / anyio (PTB's client)", "/anyio/"),
    ("tornado (the sandbox's HTTP server)", "/tornado/"),
    ("jieba / numpy / pypinyin / opencc / rapidfuzz", "/jieba/"),
    ("jieba / numpy / pypinyin / opencc / rapidfuzz", "/numpy/"),
    ("jieba / numpy / pypinyin / opencc / rapidfuzz", "/pypinyin/"),
    ("jieba / numpy / pypinyin / opencc / rapidfuzz", "/opencc/"),
    ("jieba / numpy / pypinyin / opencc / rapidfuzz", "/rapidfuzz/"),
    ("asyncio + selectors (event loop)", "/asyncio/"),
    ("asyncio + selectors (event loop)", "/selectors.py"),
    ("json / copy / re / logging (stdlib)", "/json/"),
    ("json / copy / re / logging (stdlib)", "/copy.py"),
    ("json / copy / re / logging (stdlib)", "/re/"),
    ("json / copy / re / logging (stdlib)", "/logging/"),
    ("apscheduler / pydantic / other", "/apscheduler/"),
    ("importlib (failed imports re-scanning sys.path)", "importlib"),
    ("urllib.parse (form-encoded requests: PTB encodes, tornado decodes)", "/urllib/"),
    ("generated code (namedtuple/dataclass __new__, e.g. render._Item)", "<string>"),
    ("contextlib / threading / weakref / enum / typing (stdlib)", "/contextlib.py"),
    ("contextlib / threading / weakref / enum / typing (stdlib)", "/threading.py"),
    ("contextlib / threading / weakref / enum / typing (stdlib)", "/weakref.py"),
    ("contextlib / threading / weakref / enum / typing (stdlib)", "/enum.py"),
    ("contextlib / threading / weakref / enum / typing (stdlib)", "/typing.py"),
    ("the benchmark's own instrumentation", "/benchmarks/"),
]


def package_of(filename: str) -> str:
    for label, marker in PACKAGES:
        if marker in filename:
            return label
    if filename == "~":
        return "C functions called from C"
    return "other Python"


def print_profile(phase: Phase, top: int) -> None:
    stats = phase.profile
    if stats is None:
        return
    totals: Counter[str] = Counter()
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, callers) in raw.items():
        if filename != "~":
            totals[package_of(filename)] += tottime
            continue
        # A C function (socket.send, queue.put_nowait, tuple.__new__ …): charge it to its callers.
        charged = 0.0
        for (caller_file, _l, _n), caller_stats in callers.items():
            own = caller_stats[2]
            totals[package_of(caller_file) if caller_file != "~" else package_of("~")] += own
            charged += own
        totals[package_of("~")] += max(0.0, tottime - charged)
    overall = sum(totals.values()) or 1.0
    print(f"\nprofile of the {phase.name} bot's run (cProfile, event loop thread only; "
          f"{overall:.1f}s of own time), by package (C functions charged to their Python callers):")
    for label, seconds in totals.most_common():
        print(f"  {seconds:7.2f}s {seconds / overall:6.1%}  {label}")
    print(f"\n{phase.name} bot: top {top} functions by own time:")
    stats.sort_stats("tottime").print_stats(top)
    if phase.name != "echo":
        print(f"{phase.name} bot: top {top} by cumulative time:")
        stats.sort_stats("cumulative").print_stats(top)


def row(label: str, values: list[str]) -> str:
    return f"{label:<46}" + "".join(f"{v:>16}" for v in values)


def report(phases: list[Phase], args: argparse.Namespace, database: str, prepared: str) -> None:
    a, b = phases
    print()
    print(f"command: {Path(sys.executable).name} -m benchmarks.load {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"python-telegram-bot {telegram.__version__}; sandbox rate limits off; one process, one event loop")
    print(f"workload: {args.updates:,} text updates from {args.users} users "
          f"({', '.join(f'{k} {v:.0%}' for k, v in MIX.items())}), "
          + ("a burst (as fast as the sandbox takes them)" if args.rate <= 0 else f"at {args.rate:g}/s")
          + f"; warm-up {args.warmup} updates first (not counted)")
    print(f"real bot: {database}; {prepared}; concurrent_updates "
          f"{args.concurrent_updates or '16 (build_application, unmodified)'}")
    print(f"sniffio: {args.sniffio}; load average before: {args.load_before}"
          + ("; gc.freeze() after start" if args.gc_freeze else "; --no-gc-freeze"))
    print()
    print(row("", ["echo bot", "real bot"]))

    def both(label: str, fn: Callable[[Phase], str]) -> None:
        print(row(label, [fn(a), fn(b)]))

    both("updates sent", lambda p: f"{p.updates:,}")
    both("  sent in (s)", lambda p: f"{p.send_seconds:.2f}")
    both("updates handled by PTB", lambda p: f"{p.handled:,}")
    both("updates replied to", lambda p: f"{p.replied:,}")
    both("replies sent (all messages)", lambda p: f"{p.replies:,}")
    both("  messages the sandbox stored", lambda p: f"{p.sandbox_messages:,}")
    both("wall time, first send → last reply (s)", lambda p: f"{p.wall:.2f}")
    both("THROUGHPUT (updates replied to / s)", lambda p: f"{p.rate:.1f}")
    for q in (50, 90, 99):
        both(f"reply latency p{q} (ms)", functools.partial(lambda p, q: f"{pct(p.latencies, q):,.0f}", q=q))
    both("reply latency max (ms)", lambda p: f"{max(p.latencies, default=float('nan')):,.0f}")
    both("  queue wait p50 / p99 (ms)",
         lambda p: f"{pct(p.queue_wait, 50):,.0f}/{pct(p.queue_wait, 99):,.0f}")
    both("  in PTB handler p50 / p99 (ms)", lambda p: f"{pct(p.service, 50):.1f}/{pct(p.service, 99):.1f}")
    both("CPU, whole process (s)", lambda p: f"{p.cpu_process:.1f}")
    both("CPU, event loop thread (s)", lambda p: f"{p.cpu_loop:.1f}")
    both("  event loop busy (CPU / wall)", lambda p: f"{p.cpu_loop / p.wall:.0%}" if p.wall else "-")
    both("  loop CPU per update (ms)", lambda p: f"{p.cpu_loop / max(1, p.replied) * 1000:.2f}")
    both("updates / s of event loop CPU", lambda p: f"{p.per_cpu:.1f}")
    both("machine load average (1 min) at the end", lambda p: p.load)
    both("no reply (lost)", lambda p: f"{p.updates - p.replied:,}")
    both("not handled (timed out)", lambda p: f"{p.updates - p.handled:,}")
    both("updates with several replies", lambda p: f"{p.multi_reply:,}")
    both("duplicate replies (same text twice)", lambda p: f"{p.duplicates:,}")
    both("failed Bot API calls", lambda p: f"{sum(p.failed_calls.values()):,}")
    both("error replies (apology, DB down …)", lambda p: f"{sum(p.failure_replies.values()):,}")
    both("log records WARNING+", lambda p: f"{sum(p.logs.values()):,}")
    both("messages not caused by an update", lambda p: f"{sum(p.unattributed.values()):,}")
    if a.wrong_echo:
        print(f"echo replies that differ from the text: {a.wrong_echo}")
    ratio = b.rate / a.rate if a.rate else 0.0
    verdict = "MET" if ratio >= 0.5 else "MISSED"
    cpu_ratio = b.per_cpu / a.per_cpu if a.per_cpu else 0.0
    if args.rate > 0:
        print(f"\npaced at {args.rate:g}/s, so throughput is the offered rate; the ≥ 50% target applies to a burst. "
              f"Real bot / echo bot per CPU-second of the event loop: {cpu_ratio:.0%}")
    else:
        print(f"\nreal bot / echo bot throughput: {ratio:.0%} (target ≥ 50%: {verdict}); "
              f"per CPU-second of the event loop: {cpu_ratio:.0%}")
    if min(a.cpu_loop / a.wall if a.wall else 1, b.cpu_loop / b.wall if b.wall else 1) < 0.9:
        print("  (an event loop busy under 90% of the time means the bot waited — on other processes for the CPU "
              "when the load average exceeds the CPU count, or on the database — so compare the CPU figures too)")
    print("\nreal bot by kind:        n   reply p50   reply p99   handler p50   handler p99 (ms)")
    for kind in MIX:
        lat, svc = b.by_kind.get(kind, []), b.service_by_kind.get(kind, [])
        print(f"  {kind:<12} {len(lat):>9,} {pct(lat, 50):>11,.0f} {pct(lat, 99):>11,.0f} "
              f"{pct(svc, 50):>13.1f} {pct(svc, 99):>13.1f}")
    for phase in phases:
        print_details(phase)
    for phase in phases:
        print_profile(phase, args.top)


def print_details(phase: Phase) -> None:
    name = phase.name
    for label, count in phase.failure_replies.most_common():
        print(f"{name}: {count:,} replies: {label}")
    for method, count in phase.failed_calls.most_common():
        print(f"{name}: {count:,} failed {method} calls")
    for method, count in phase.unattributed.most_common():
        print(f"{name}: {count:,} {method} calls outside any update (jobs)")
    for (level, logger, message), count in phase.logs.most_common(10):
        print(f"{name}: {count:,} × {level} {logger}: {message}")
    for (level, logger, message), count in phase.warmup_logs.most_common(10):
        print(f"{name}, during the warm-up: {count:,} × {level} {logger}: {message}")
    if phase.api_calls:
        print(f"{name}: Bot API calls per update: "
              + ", ".join(f"{method} {count / phase.updates:.2f}" for method, count in phase.api_calls.most_common()))
    if phase.sql_statements:
        print(f"{name}: SQL per update: {phase.sql_statements / phase.updates:.1f} statements, "
              f"{phase.sql_commits / phase.updates:.2f} commits")
    for label, seconds in phase.timers.items():
        ms = [x * 1000 for x in seconds]
        print(f"{name}: {label}: {len(ms):,} calls, p50 {pct(ms, 50):.2f} ms, p99 {pct(ms, 99):.2f} ms, "
              f"total {sum(ms) / 1000:.1f}s = {sum(ms) / max(1, phase.updates):.2f} ms per update")
    if phase.gc_pauses:
        full = [seconds for generation, seconds in phase.gc_pauses if generation == 2]
        print(f"{name}: garbage collector: {len(phase.gc_pauses):,} collections, "
              f"{sum(s for _, s in phase.gc_pauses):.2f}s in all; {len(full)} full (gen 2) taking "
              f"{sum(full):.2f}s, longest {max(full, default=0) * 1000:.0f} ms; "
              f"{phase.heap_objects:,} objects tracked at the end")
    for note in phase.notes:
        print(f"{name}: {note}")


# ---- main -----------------------------------------------------------------------------------------

async def run(args: argparse.Namespace, url: str, database: str) -> None:
    logs = LogCounter()
    root = logging.getLogger()
    root.handlers[:] = [logs]
    root.setLevel(logging.WARNING)
    rng = random.Random(args.seed)
    async with Sandbox(limits=RateLimits.off(), bot_username="zhenggai_load_bot") as sb:
        users = [sb.add_user(f"用户{n:04d}", started=True) for n in range(args.users)]
        started = time.perf_counter()
        prepared = await prepare_database(url, users, rng)
        described = (f"sample data + {prepared.synthetic} synthetic cadres owning {len(prepared.all_codes) - 30} "
                     f"synthetic measures, {len(users)} users bound (prepared in {time.perf_counter() - started:.1f}s)")
        plan = make_plan(args.updates, users, prepared.codes, prepared.all_codes, rng)
        warmup = make_plan(args.warmup, users, prepared.codes, prepared.all_codes, random.Random(args.seed + 1))
        settings = load_settings(database_url=url, telegram_api_base_url=sb.url)
        concurrent = args.concurrent_updates or 16
        phases = []
        with instrumented():
            for name, start in (("echo", lambda: running_echo(sb, settings, concurrent)),
                                ("real", lambda: running_real(sb, settings, args.concurrent_updates))):
                if name not in args.only:
                    continue
                print(f"{name} bot: {len(plan):,} updates …", file=sys.stderr, flush=True)
                phase = await run_phase(name, sb, users, start, warmup, plan, args, logs, prepared)
                print(f"{name} bot: {phase.rate:.1f} updates/s, p99 {pct(phase.latencies, 99):,.0f} ms",
                      file=sys.stderr, flush=True)
                phases.append(phase)
    if len(phases) == 2:
        report(phases, args, database, described)
    else:
        for phase in phases:
            print(f"{phase.name}: {phase.rate:.1f} updates/s, p50 {pct(phase.latencies, 50):,.0f} ms, "
                  f"p99 {pct(phase.latencies, 99):,.0f} ms, lost {phase.updates - phase.replied}")
            print_details(phase)
            print_profile(phase, args.top)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000, help="updates in the measured burst")
    parser.add_argument("--users", type=int, default=200, help="sandbox users, each bound to a cadre")
    parser.add_argument("--rate", type=float, default=0.0, help="updates per second (0: a burst, as fast as possible)")
    parser.add_argument("--warmup", type=int, default=200, help="updates sent (and waited for) before measuring")
    parser.add_argument("--concurrent-updates", type=int, default=None,
                        help="PTB concurrent_updates for both bots (default 16, build_application's value; "
                             "another value rebuilds the real bot with a copy of build_application's settings)")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="do not gc.freeze() once each bot has started (`zhenggai run` does, see "
                             "bot.app._settle_memory; by default both bots get it here)")
    parser.add_argument("--postgres", action="store_true", help="the real bot on a throwaway PostgreSQL database")
    parser.add_argument("--database-url", help="an EMPTY database for the real bot (default: SQLite in a temp dir)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the workload")
    parser.add_argument("--stall", type=float, default=60.0, help="give up after this many seconds without progress")
    parser.add_argument("--profile", action="store_true", help="cProfile the measured runs (slows them down)")
    parser.add_argument("--top", type=int, default=30, help="functions listed with --profile")
    parser.add_argument("--profile-out", metavar="PREFIX",
                        help="with --profile, also save the raw stats as PREFIX-echo.prof and PREFIX-real.prof")
    parser.add_argument("--only", choices=["echo", "real"], nargs="+", default=["echo", "real"],
                        help="run one bot only (no side-by-side report)")
    args = parser.parse_args()
    args.load_before = loadavg()
    args.sniffio = "installed" if importlib.util.find_spec("sniffio") is not None else \
        "not installed (httpcore looks for it on sys.path on every request)"
    if args.postgres:
        from benchmarks.pg import postgres_database

        async with postgres_database("zg_load") as url:
            await run(args, url, "PostgreSQL (throwaway server)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/load.db"
        await run(args, url, url.split("://")[0] if args.database_url else "SQLite file in a temporary directory")


if __name__ == "__main__":
    asyncio.run(main())
