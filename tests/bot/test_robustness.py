"""When things go wrong: a handler crashing, the database failing, input the bot cannot use.
The user always gets a short answer, the admins hear about crashes, the log has the traceback
and never the token."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import OperationalError

from bot.logging_setup import RedactingFormatter
from bot.models import MeasureStatus
from bot.sandbox import RateLimits, Sandbox
from bot.services import measures as measure_service
from handlers import errors
from handlers import measures as measure_handlers
from handlers.common import DATABASE_DOWN
from tests.bot.conftest import BOT_USERNAME, Harness, running_bot

#: Shaped like a real BotFather token (the sandbox's default one is too short to be recognisable).
REAL_LOOKING_TOKEN = "7259183645:AAF3kL9xQ2mZ7vR1tY8uW4pN6sD0eH5jC2b"


@pytest.fixture
async def token_harness(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    async with Sandbox(REAL_LOOKING_TOKEN, limits=RateLimits.off(), bot_username=BOT_USERNAME) as sandbox, \
            running_bot(seeded_url, sandbox, monkeypatch) as harness:
        yield harness


async def test_a_crash_gets_an_apology_the_admins_an_alert_and_the_log_a_traceback(
        token_harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    harness = token_harness
    user, admin_one, admin_two = (await harness.bind("张伟"), await harness.bind("韦丽萍"),
                                  await harness.bind("刘洋"))

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom while talking to https://api.telegram.org/bot{REAL_LOOKING_TOKEN}/getMe")

    monkeypatch.setattr(measure_service, "measures_of_owner", broken)
    monkeypatch.setattr(errors, "_last_alert", errors.NEVER)
    # Seconds after the machine booted (the monotonic clock starts near zero): an alert still goes out.
    monkeypatch.setattr(errors, "_clock", lambda: 5.0)
    # As in production (bot.logging_setup): httpx, which logs request URLs, is held at WARNING.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="httpx")
    caplog.set_level(logging.WARNING, logger="httpcore")
    reply = await harness.one(user, "/mine")
    assert reply.body == errors.APOLOGY
    alerts = [(await harness.sandbox.wait_for_messages(admin.id))[0] for admin in (admin_one, admin_two)]
    for alert in alerts:
        assert alert.body.startswith("⚠️ 整改助手出错：RuntimeError")
        assert REAL_LOOKING_TOKEN not in alert.body and REAL_LOOKING_TOKEN.split(":")[1] not in alert.body
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled error while handling an update"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    formatted = RedactingFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert "Traceback (most recent call last)" in formatted and "RuntimeError: boom" in formatted
    assert REAL_LOOKING_TOKEN.split(":")[1] not in formatted
    # Nothing else that was logged carries the token either (the raw records, unformatted).
    secret = REAL_LOOKING_TOKEN.split(":")[1]
    leaks = [r.getMessage() for r in caplog.records if secret in r.getMessage() and r is not record]
    assert leaks == []
    # A second crash soon after: an apology again, but no new alert (no flooding).
    assert (await harness.one(user, "/mine")).body == errors.APOLOGY
    await harness.one(admin_one, "/help")  # the next message the admin sees is the answer to this
    assert "整改助手" in harness.sandbox.last_message(admin_one.id).body
    assert len(harness.sandbox.messages(admin_one.id)) == 3  # bound, alert, help


async def test_a_crash_in_a_button_apologises_with_a_toast(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    user = await harness.bind("张伟")
    card = await harness.one(user, "ZG2025009")

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("unexpected")

    monkeypatch.setattr(measure_handlers, "done_confirm_keyboard", broken)
    after, toast = await harness.unchanged_by(lambda: harness.tap(user, card, "完成"))
    assert toast == errors.APOLOGY and after.edit_count == 0


async def test_a_database_outage_gets_a_short_apology(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    user = await harness.bind("张伟")

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(measure_service, "mark_done", unreachable)
    reply = await harness.one(user, "/done ZG2025009")
    assert reply.body == DATABASE_DOWN
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.IN_PROGRESS


async def test_acknowledgements_and_a_full_width_slash_are_read_as_meant(harness: Harness) -> None:
    user = await harness.bind("张伟")
    card = await harness.one(user, "/status ZG2025009")

    async def said() -> list[str]:
        return [(await harness.one(user, "ok")).body, (await harness.one(user, "ok", reply_to=card.message_id)).body,
                (await harness.one(user, "👍")).body, (await harness.one(user, "🙏🙏")).body,
                (await harness.one(user, "／mine")).body, (await harness.one(user, "？？")).body]

    ok, ok_to_card, thumb, thanks, wide, puzzled = await harness.unchanged_by(said)
    assert ok == ok_to_card == thumb == thanks == "好的。还有问题随时问我。"  # not a done report
    assert wide == "命令请用半角斜杠：/mine（点击即可发送）"
    assert puzzled.startswith("您好！我是整改助手。")
    assert (await harness.one(user, "ZG2025009 ok")).body.startswith("已报告完成")  # with a code, it is


async def test_input_the_bot_cannot_use_gets_a_clear_answer(harness: Harness) -> None:
    user = await harness.bind("张伟")
    cases = {
        "/done ZG2099999": "没有编号为 ZG2099999 的整改措施",
        "/done": "要报告哪一项已完成？请选择",  # as a bare 完成: the cadre's own open measures
        "/status": "用法：/status",
        "/nosuchcommand": "没有这个命令",
        "/done ZG2025009 " + "很长的说明" * 500: "说明过长（最多 2000 字）",
        "/start <b>CODE</b>": "邀请码无效",
        "/todo": "/todo 供分管领导和管理员使用",
    }

    async def all_cases() -> list[str]:
        return [(await harness.one(user, text)).body for text in cases]

    for (text, expected), answer in zip(cases.items(), await harness.unchanged_by(all_cases), strict=True):
        assert expected in answer, (text[:40], answer)
    assert all(call.ok for call in harness.sandbox.calls)
