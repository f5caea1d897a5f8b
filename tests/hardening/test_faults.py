"""Faults: the Bot API failing (5xx, timeouts, 429 storms) while the bot answers people; the
database going away mid-run and coming back; SIGTERM in the middle of a reminder fan-out.

The bot here runs as in production: PTB's Application with the production rate limiter
(`bot.app.RateLimiter`) and, where it matters, its jobs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot import db
from bot.app import RateLimiter
from bot.db import SessionFactory, transaction
from bot.delivery import NO_RETRIES
from bot.models import Cadre, Measure, MeasureStatus, OutboxMessage, OutboxStatus, ReminderItem
from bot.sandbox import RateLimits, Sandbox
from bot.services.seed import seed_sample_data
from handlers.callbacks import Action, Ref, encode
from handlers.common import DATABASE_DOWN
from handlers.errors import APOLOGY
from tests.bot.conftest import Harness
from tests.cli_runner import PROJECT
from tests.conftest import DATA, start_server_or_skip
from tests.hardening.bot_support import BOT_USERNAME, TODAY, LogWatch, bot_on, problems_in, seeded_database, settle
from tests.pg_server import PostgresServer
from tests.reminders.support import add_overdue_cadres, outbox_statuses

CODE = "ZG2025009"  # 张伟's, under 陈建华


@pytest.fixture
def seeded(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return seeded_database(backend, request, tmp_path)


async def replies_to(harness: Harness, user_id: int, text: str, *, timeout: float = 30.0) -> list[str]:
    """Send `text`, wait until the bot has dealt with it; what it sent to this chat meanwhile."""
    sandbox = harness.sandbox
    seen = {m.message_id for m in sandbox.messages(user_id)}
    await sandbox.send_text(user_id, text)
    await settle(harness, timeout=timeout)
    return [m.body for m in sandbox.messages(user_id) if m.message_id not in seen]


# ---- a: the Bot API failing ------------------------------------------------------------------------

@pytest.fixture
async def limited(seeded: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Harness, LogWatch]]:
    """The bot with the production rate limiter (and short retry waits for 5xx, to keep tests quick)."""
    with LogWatch() as watch:
        async with bot_on(seeded, monkeypatch, rate_limiter=True) as harness:
            limiter = harness.app.bot.rate_limiter
            assert limiter is not None
            yield harness, watch


class _Flaky:
    """A Bot API call failing with `errors` in turn, then answering."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, *args: object, **kwargs: object) -> bool:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return True


@pytest.mark.parametrize(("errors", "rate_limit_args", "calls", "outcome"), [
    ([RetryAfter(0)] * 2, None, 3, True),  # a short 429 storm: waited out
    ([RetryAfter(0)] * 4, None, 4, RetryAfter),  # longer than max_retries: given up
    ([RetryAfter(30)], None, 1, RetryAfter),  # would wait longer than max_wait: at once
    ([RetryAfter(0)], NO_RETRIES, 1, RetryAfter),  # the outbox: no waiting with a claim held
    ([NetworkError("Bad Gateway"), NetworkError("Internal Server Error")], None, 3, True),  # 5xx: retried
    ([NetworkError("Bad Gateway")] * 3, None, 3, NetworkError),
    ([TimedOut()], None, 1, TimedOut),  # may have been accepted: never retried
    ([BadRequest("can't parse entities")], None, 1, BadRequest),
])
async def test_the_rate_limiters_retry_policy(errors: list[Exception], rate_limit_args: int | None, calls: int,
                                              outcome: object) -> None:
    limiter = RateLimiter(backoff=0.01)
    flaky = _Flaky(*errors)
    request = limiter.process_request(flaky, (), {}, "sendMessage", {"chat_id": 1}, rate_limit_args)
    if outcome is True:
        assert await request is True
    else:
        with pytest.raises(outcome):  # type: ignore[call-overload]
            await request
    assert flaky.calls == calls


async def test_5xx_on_replies_are_retried_and_answered_once(limited: tuple[Harness, LogWatch]) -> None:
    harness, watch = limited
    user = await harness.bind("张伟")
    harness.sandbox.inject("sendMessage", error_code=502, times=2)
    bodies = await replies_to(harness, user.id, "/mine")
    assert len(bodies) == 1 and "您负责的整改措施" in bodies[0], bodies
    assert [c.status for c in harness.sandbox.calls_to("sendMessage")][-3:] == [502, 502, 200]
    assert watch.errors() == []


async def test_a_5xx_storm_loses_the_reply_with_a_warning_and_then_the_bot_answers_again(
        limited: tuple[Harness, LogWatch]) -> None:
    harness, watch = limited
    user = await harness.bind("张伟")
    harness.sandbox.inject("sendMessage", error_code=503, times=3)  # longer than the retries
    assert await replies_to(harness, user.id, "/mine") == []
    assert any("network trouble" in w for w in watch.warnings()), watch.warnings()
    assert watch.errors() == []
    bodies = await replies_to(harness, user.id, "/mine")
    assert len(bodies) == 1 and "您负责的整改措施" in bodies[0]


async def test_a_timeout_is_not_retried_and_the_late_reply_is_not_duplicated(
        limited: tuple[Harness, LogWatch]) -> None:
    harness, watch = limited
    user = await harness.bind("张伟")
    # Telegram answers only after PTB gave up waiting (its read timeout is 5 s), but it does send.
    harness.sandbox.inject("sendMessage", delay=5.6, times=1, chat_id=user.id)
    await replies_to(harness, user.id, "/help")
    await asyncio.sleep(0.8)
    bodies = [m.body for m in harness.sandbox.messages(user.id)]
    assert sum("使用帮助" in b or "整改助手" in b for b in bodies[-2:]) >= 1
    assert len(harness.sandbox.calls_to("sendMessage")) == 2  # bound, then help: not sent twice
    assert watch.errors() == []
    assert any("Timed out" in w or "network trouble" in w for w in watch.warnings())
    assert len(await replies_to(harness, user.id, "/mine")) == 1


async def test_a_400_for_a_reply_is_a_bug_the_user_and_admins_hear_of(
        limited: tuple[Harness, LogWatch], monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB's BadRequest is a NetworkError: it must not pass for network trouble (silence)."""
    from handlers import errors

    harness, watch = limited
    user, admin = await harness.bind("张伟"), await harness.bind("刘洋")
    monkeypatch.setattr(errors, "_last_alert", errors.NEVER)
    harness.sandbox.inject("sendMessage", error_code=400, description="Bad Request: can't parse entities",
                           times=1, chat_id=user.id)
    bodies = await replies_to(harness, user.id, "/mine")
    assert bodies == [APOLOGY]
    await harness.sandbox.wait_until(lambda: any("整改助手出错" in m.body for m in harness.sandbox.messages(admin.id)))
    assert any("unhandled error" in e for e in watch.errors())


async def test_a_429_storm_longer_than_the_retries(limited: tuple[Harness, LogWatch]) -> None:
    """Telegram throttles every reply for a while: replies wait and are retried (all requests
    pause, as Telegram asks); a storm longer than the limiter waits drops the reply with a
    warning — no apology (it would be throttled too), no alert, no error — and when it is over
    the bot answers normally; the notifications queued meanwhile are delivered afterwards."""
    harness, watch = limited
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    limiter = harness.app.bot.rate_limiter
    assert limiter is not None
    # A short storm: within the limiter's retries, the reply just comes late.
    harness.sandbox.inject("sendMessage", error_code=429, retry_after=1, times=2)
    bodies = await replies_to(harness, owner.id, "/mine")
    assert len(bodies) == 1 and "您负责的整改措施" in bodies[0]
    # A long one: more 429s than the limiter retries.
    monkeypatch_retries(limiter, 2)
    harness.sandbox.inject("sendMessage", error_code=429, retry_after=1, times=1000)
    harness.sandbox.inject("answerCallbackQuery", error_code=429, retry_after=1, times=1000)
    logged = len(watch.records)
    await harness.sandbox.send_text(owner.id, f"/done {CODE} 已完成")  # the change itself goes through
    await harness.sandbox.send_text(leader.id, "/mine")
    await settle(harness, timeout=60)
    assert (await harness.measure(CODE)).status is MeasureStatus.DONE
    assert watch.errors(logged) == [], watch.errors(logged)
    assert any("rate limit" in w.lower() for w in watch.warnings(logged)), watch.warnings(logged)
    assert not any(m.body == APOLOGY for chat in (owner.id, leader.id) for m in harness.sandbox.messages(chat))
    harness.sandbox.clear_faults()
    # Afterwards: normal answers, and the leader's notification (queued with the change) arrives.
    bodies = await replies_to(harness, leader.id, "/mine")
    assert bodies and ("您负责的整改措施" in bodies[0] or "没有找到您负责的整改措施" in bodies[0]), bodies
    def notified() -> bool:
        return any(m.body.startswith(f"☑️ {CODE}") for m in harness.sandbox.messages(leader.id))

    for _ in range(50):  # the message was put back for after retry_after
        await harness.services.delivery.deliver_due(wait=True)
        if notified():
            break
        await asyncio.sleep(0.2)
    assert notified()
    async with transaction(harness.factory) as session:
        left = list(await session.execute(select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.last_error,
                                                 OutboxMessage.chat_id).where(
            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED]))))
    assert left == [], left


def monkeypatch_retries(limiter: object, retries: int) -> None:
    limiter._max_retries = retries  # type: ignore[attr-defined]


async def test_5xx_on_button_edits_and_toasts_are_retried(limited: tuple[Harness, LogWatch]) -> None:
    harness, watch = limited
    owner = await harness.bind("张伟")
    data = encode(Action.DONE_YES, Ref(key=CODE))
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("完成", callback_data=data)]])
    sent = await harness.app.bot.send_message(owner.id, CODE, reply_markup=markup)
    harness.sandbox.inject("editMessageText", error_code=502, times=1)
    harness.sandbox.inject("answerCallbackQuery", error_code=500, times=1)
    query = await harness.sandbox.press(owner.id, sent.message_id, data=encode(Action.DONE_YES, Ref(key=CODE)))
    await settle(harness)
    await harness.sandbox.wait_until(lambda: query in harness.sandbox.callback_answers, timeout=10)
    assert harness.sandbox.callback_answers[query].text == "已报告完成，等待审核销号"
    assert "已完成" in harness.sandbox.message(owner.id, sent.message_id).body
    assert watch.errors() == []


# ---- b: the database going away and coming back ----------------------------------------------------

@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, to stop and start again."""
    server = start_server_or_skip()
    try:
        yield server
    finally:
        server.stop()


async def _seeded_on(server: PostgresServer) -> str:
    from tests.conftest import _admin_execute

    await _admin_execute(server, "CREATE DATABASE zhenggai")
    url = server.url("zhenggai")
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        await seed_sample_data(db.create_session_factory(engine), DATA)
    finally:
        await engine.dispose()
    return url


async def run_jobs(harness: Harness) -> list[str]:
    """Every job once, as the JobQueue runs them (errors go to the error handler)."""
    assert harness.app.job_queue is not None
    names = []
    for job in harness.app.job_queue.jobs():
        await job.run(harness.app)
        names.append(job.name or "")
    return names


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("error", "unavailable"), [
    (ConnectionRefusedError(111, "Connect call failed"), True),
    (TimeoutError(), True),
    (OperationalError("SELECT 1", {}, Exception("database is locked")), True),
    (InterfaceError("SELECT 1", {}, Exception("connection is closed")), True),
    (DBAPIError("SELECT 1", {}, Exception("terminating connection"), connection_invalidated=True), True),
    (DBAPIError("SELECT 1", {}, _DriverError("57P01")), True),  # admin shutdown
    (_DriverError("57P03"), True),  # asyncpg while connecting: the database system is shutting down
    (_DriverError("08006"), True),  # connection failure
    (DataError("INSERT", {}, _DriverError("22021")), False),  # bad data (NUL in text): a bug, not an outage
    (IntegrityError("INSERT", {}, _DriverError("23505")), False),
    (ValueError("x"), False),
])
def test_what_counts_as_the_database_being_unavailable(error: BaseException, unavailable: bool) -> None:
    assert db.is_unavailable(error) is unavailable


@pytest.mark.postgres
@pytest.mark.slow
async def test_the_database_going_away_and_coming_back(own_server: PostgresServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = await _seeded_on(own_server)
    with LogWatch() as watch:
        async with bot_on(url, monkeypatch, reminders=True, reminder_time="00:00", reminder_latest="23:59",
                          skip_non_workdays=False, outbox_stale_seconds=1) as harness:
            sandbox = harness.sandbox
            owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
            stranger = harness.stranger()
            # Recorded before the outage: a done report, its notification, the leader's card.
            assert "已报告完成" in (await harness.one(owner, f"/done {CODE} 材料已上报")).body
            await harness.deliver()
            card = await harness.one(leader, f"/status {CODE}")
            before = await harness.snapshot()
            events_before = [e.id for e in await harness.events(CODE)]
            logged = len(watch.records)

            await asyncio.to_thread(own_server.pause)
            try:
                for user, text in [(owner, "/mine"), (owner, "/done ZG2025008 已完成"), (owner, "请假超过三天要谁批？"),
                                   (leader, f"/verify {CODE}"), (stranger, "/start ABCDEFGHJK"), (owner, "/help")]:
                    bodies = await replies_to(harness, user.id, text)
                    assert bodies == [DATABASE_DOWN], (text, bodies)
                query = await sandbox.press(leader.id, card.message_id, index=card.button_texts.index("✔️ 销号"))
                await settle(harness)
                await sandbox.wait_until(lambda: query in sandbox.callback_answers)
                assert harness.toast(query) == DATABASE_DOWN
                ran = await run_jobs(harness)
                assert {"refresh-answers", "deliver-outbox", "reminders-daily", "reminders-catch-up"} <= set(ran)
                assert harness.app.running and harness.app.updater is not None and harness.app.updater.running
                problems = problems_in(sandbox.calls, [], []) + watch.errors(logged)
                assert problems == [], problems
                assert any("database" in w.lower() for w in watch.warnings(logged)), watch.warnings(logged)
            finally:
                await asyncio.to_thread(own_server.resume)

            # Back: answers as usual at once (stale pooled connections are replaced), nothing lost.
            bodies = await replies_to(harness, owner.id, "/mine")
            assert bodies and "您负责的整改措施" in bodies[0], bodies
            assert await harness.snapshot() == before
            assert [e.id for e in await harness.events(CODE)] == events_before
            _, toast = await harness.tap(leader, await harness.press(leader, card, "销号"), "确认销号")
            assert toast == "已销号" and (await harness.measure(CODE)).status is MeasureStatus.CLOSED
            await run_jobs(harness)  # the sweep that the outage prevented, and its delivery
            await harness.deliver()
            async with transaction(harness.factory) as session:
                statuses = Counter((await session.execute(select(OutboxMessage.status))).scalars())
            assert statuses[OutboxStatus.PENDING] == statuses[OutboxStatus.SENDING] == 0, statuses
            assert statuses[OutboxStatus.FAILED] == 0
            # The reminder the outage held up came (陈建华 supervises measures overdue for weeks).
            assert any("整改催办" in m.body for m in sandbox.messages(leader.id))
            assert watch.errors() == []


async def add_cadres_with_overdue_measures(factory: SessionFactory, sandbox: Sandbox, count: int) -> dict[int, str]:
    """`count` more cadres, each bound (pressed Start) and owning one measure overdue since
    yesterday: a reminder fan-out of at least `count` digests. Returns chat id → name of all bound."""
    await add_overdue_cadres(factory, count, TODAY)
    chats: dict[int, str] = {}
    async with transaction(factory) as session:
        for cadre in await session.scalars(select(Cadre)):
            if cadre.telegram_user_id is None:
                cadre.telegram_user_id = sandbox.add_user(cadre.name, started=True).id
            chats[cadre.telegram_user_id] = cadre.name
    return chats


@pytest.mark.postgres
@pytest.mark.slow
async def test_the_database_going_away_in_the_middle_of_a_fan_out(own_server: PostgresServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Sends under way when the database goes are the only ones that can repeat (their outcome
    could not be recorded); delivery stops sending at once instead of sending what it could not
    record, and after the outage every message goes out."""
    from handlers.reminders import run_sweep

    url = await _seeded_on(own_server)
    with LogWatch() as watch:
        async with bot_on(url, monkeypatch, outbox_stale_seconds=1) as harness:
            assert harness.app.job_queue is not None
            for job in harness.app.job_queue.jobs():  # this test runs the delivery itself
                job.schedule_removal()
            sandbox, factory = harness.sandbox, harness.factory
            chats = await add_cadres_with_overdue_measures(factory, sandbox, 40)
            result = await run_sweep(factory, harness.settings, TODAY)
            assert result.digests >= 40
            delivery = harness.services.delivery
            delivery.concurrency = 4
            sandbox.inject("sendMessage", delay=0.15, times=10_000)

            def delivered() -> int:
                return sum(len(sandbox.messages(chat)) for chat in chats)

            fan_out = asyncio.create_task(delivery.deliver_due())
            await sandbox.wait_until(lambda: delivered() >= 10, timeout=30)
            await asyncio.to_thread(own_server.pause)
            try:
                [stopped] = await asyncio.gather(asyncio.wait_for(fan_out, 30), return_exceptions=True)
                assert isinstance(stopped, Exception) and db.is_unavailable(stopped), repr(stopped)
                at_outage = delivered()
                await asyncio.sleep(1.0)
                assert delivered() == at_outage  # nothing more is sent while nothing can be recorded
            finally:
                await asyncio.to_thread(own_server.resume)
            await asyncio.sleep(1.1)  # the claims left behind go stale
            sandbox.clear_faults()
            await delivery.deliver_due(wait=True)
            counts = await outbox_statuses(factory)
            assert counts[OutboxStatus.PENDING] == counts[OutboxStatus.SENDING] == counts[OutboxStatus.FAILED] == 0
            assert counts[OutboxStatus.SENT] == result.digests
            per_chat = Counter({chat: len(sandbox.messages(chat)) for chat in chats})
            async with transaction(factory) as session:
                owed = {m.chat_id for m in await session.scalars(select(OutboxMessage))
                        if m.status is OutboxStatus.SENT}
            assert all(per_chat[chat] >= 1 for chat in owed)  # nothing dropped
            duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
            assert duplicates <= delivery.concurrency, per_chat  # only sends under way could repeat
            assert watch.errors() == []


@pytest.fixture
def sqlite_seeded(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return seeded_database("sqlite", request, tmp_path)


async def test_a_sqlite_file_locked_beyond_the_busy_timeout(sqlite_seeded: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's equivalent of an outage: another process (a long import, a backup tool) holds the
    write lock for longer than the busy timeout. Reading goes on (WAL); a change gets the
    database-unavailable answer rather than an apology, the delivery job a warning; once the lock
    is gone everything works again."""
    import sqlite3

    def short_busy_timeout(dbapi_connection: object, record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=300")
        cursor.close()

    monkeypatch.setattr(db, "_sqlite_pragmas", short_busy_timeout)
    path = sqlite_seeded.removeprefix("sqlite+aiosqlite:///")
    with LogWatch() as watch:
        async with bot_on(sqlite_seeded, monkeypatch) as harness:
            owner = await harness.bind("张伟")
            before = await harness.snapshot()
            blocker = sqlite3.connect(path, timeout=0.1, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                assert await replies_to(harness, owner.id, f"/done {CODE} 已完成") == [DATABASE_DOWN]
                bodies = await replies_to(harness, owner.id, f"/status {CODE}")  # reading still works
                assert len(bodies) == 1 and CODE in bodies[0]
                await run_jobs(harness)
                assert watch.errors() == []
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            assert await harness.snapshot() == before
            bodies = await replies_to(harness, owner.id, f"/done {CODE} 已完成")
            assert bodies and bodies[0].startswith("已报告完成"), bodies
            assert watch.errors() == []


# ---- c: SIGTERM during a reminder fan-out --------------------------------------------------------

def _real_today() -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def _overdue_for_real(factory: SessionFactory, sandbox: Sandbox, count: int) -> dict[int, str]:
    """Like `add_cadres_with_overdue_measures`, but overdue by the clock the subprocess reads."""
    chats = await add_cadres_with_overdue_measures(factory, sandbox, count)
    async with transaction(factory) as session:
        await session.execute(update(Measure).where(Measure.code.like("BULK%"))
                              .values(deadline=_real_today() - dt.timedelta(days=1)))
    return chats


def _tail(log: Path, size: int = 3000) -> str:
    return log.read_text(errors="replace")[-size:]


def _bot_process_env(url: str, sandbox: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TELEGRAM_", "REMINDER_"))}
    env.update(DATABASE_URL=url, TELEGRAM_BOT_TOKEN=sandbox.token, TELEGRAM_API_BASE_URL=sandbox.url,
               REMINDER_TIME="00:00", REMINDER_LATEST="23:59", SKIP_NON_WORKDAYS="false",
               REMINDER_CHECK_SECONDS="1", OUTBOX_STALE_SECONDS="120", PYTHONIOENCODING="utf-8")
    return env


async def _start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    handle = log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=PROJECT, env=env,
                                                    stdin=asyncio.subprocess.DEVNULL, stdout=handle, stderr=handle)
    finally:
        handle.close()


async def _terminate(process: asyncio.subprocess.Process, log: Path, grace: float = 25.0) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"the bot did not stop within {grace}s of SIGTERM:\n{_tail(log)}")


@pytest.mark.slow
async def test_sigterm_during_a_reminder_fan_out(seeded: str, tmp_path: Path) -> None:
    engine = db.create_engine(seeded)
    factory = db.create_session_factory(engine)
    log = tmp_path / "bot.log"
    try:
        async with Sandbox(limits=RateLimits(), bot_username=BOT_USERNAME) as sandbox:
            chats = await _overdue_for_real(factory, sandbox, 80)
            sandbox.inject("sendMessage", delay=0.3, times=100_000)  # a fan-out of several seconds
            env = _bot_process_env(seeded, sandbox)

            def received() -> Counter[int]:
                return Counter({chat: len(sandbox.messages(chat)) for chat in chats if sandbox.messages(chat)})

            process = await _start_bot(env, log)
            try:
                await sandbox.wait_until(lambda: sum(received().values()) >= 20, timeout=90)
            except TimeoutError:
                process.kill()
                raise AssertionError(_tail(log)) from None
            code = await _terminate(process, log)
            assert code == 0, _tail(log)

            got = received()
            async with transaction(factory) as session:
                rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id.is_not(None))))
            by_status = Counter(r.status for r in rows)
            assert by_status[OutboxStatus.SENDING] == 0, by_status  # a clean stop leaves no claim behind
            assert by_status[OutboxStatus.FAILED] == 0
            assert by_status[OutboxStatus.PENDING] > 0, "the fan-out was over before SIGTERM: nothing tested"
            for row in rows:
                assert row.chat_id is not None
                if row.status is OutboxStatus.SENT:
                    assert got[row.chat_id] == 1 and row.message_id == sandbox.messages(row.chat_id)[0].message_id
                else:
                    assert row.status is OutboxStatus.PENDING and got[row.chat_id] == 0, (row.key, row.status)
            sent_before = by_status[OutboxStatus.SENT]
            assert sum(got.values()) == sent_before  # nothing went out unrecorded
            # Whole digests only: one row per recipient, each listing every item recorded for them.
            async with transaction(factory) as session:
                recipients = set(await session.scalars(select(ReminderItem.cadre_id).distinct()))
                digests = [r for r in await session.scalars(select(OutboxMessage)) if r.kind == "reminder"]
            assert {r.cadre_id for r in digests} == recipients and len(digests) == len(recipients)

            # The next start delivers the rest, each exactly once.
            sandbox.clear_faults()
            restarted = await _start_bot(env, log)
            try:
                await sandbox.wait_until(lambda: len(received()) == len({r.chat_id for r in rows}), timeout=90)
                await asyncio.sleep(1.5)  # anything sent twice would show up now
            finally:
                code = await _terminate(restarted, log)
            assert code == 0, _tail(log)
            assert all(n == 1 for n in received().values()), received()
            async with transaction(factory) as session:
                statuses = Counter(await session.scalars(select(OutboxMessage.status)))
            assert set(statuses) <= {OutboxStatus.SENT, OutboxStatus.SKIPPED}, statuses
            assert "Traceback" not in _tail(log, 10**7), _tail(log)
    finally:
        await engine.dispose()
