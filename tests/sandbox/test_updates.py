"""Getting updates: long polling and webhooks, with PTB Applications and raw HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.sandbox import BotMessage, Sandbox, SandboxUser

from .conftest import raw_call, running_app


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("完成", callback_data="done"),
                InlineKeyboardButton("稍后", callback_data="later"),
            ]
        ]
    )
    await update.effective_message.reply_html(f"<b>欢迎</b> 参数={context.args}", reply_markup=keyboard)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    assert update.effective_message.text is not None
    await update.effective_message.reply_text(f"你说：{update.effective_message.text}")


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(f"已选择 {query.data}")
    await query.edit_message_text(f"你选择了 {query.data}")


HANDLERS = [
    CommandHandler("start", start),
    CommandHandler("done", echo),
    CallbackQueryHandler(on_button),
    MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
]


async def test_long_polling_delivers_commands_messages_and_button_presses(
    sb: Sandbox, user: SandboxUser
) -> None:
    async with running_app(sb, HANDLERS):
        await sb.send_text(user.id, "/start ABC")
        [welcome] = await sb.wait_for_messages(user.id)
        assert welcome.text == "欢迎 参数=['ABC']"
        assert welcome.button_texts == ["完成", "稍后"]
        await sb.send_text(user.id, "/done@zhenggai_demo_bot X")
        await sb.send_text(user.id, "第二条")
        done, second = await sb.wait_for_messages(user.id, count=2)
        assert (done.text, second.text) == ("你说：/done@zhenggai_demo_bot X", "你说：第二条")
        query_id = await sb.press(user.id, welcome.message_id, data="later")

        def edited_version() -> BotMessage | None:
            current = sb.message(user.id, welcome.message_id)
            return current if current.edit_count else None

        edited = await sb.wait_until(edited_version, timeout=5)
        assert edited.text == "你选择了 later"
        assert edited.reply_markup == []
        assert sb.callback_answers[query_id].text == "已选择 later"
    assert sb.pending_update_count == 0  # PTB confirmed everything on shutdown


async def test_wait_for_messages_reports_what_arrived_on_timeout(sb: Sandbox, user: SandboxUser) -> None:
    async with running_app(sb, HANDLERS):
        await sb.send_text(user.id, "只有一条")
        with pytest.raises(
            TimeoutError, match=r"expected 2 new bot message\(s\).*got 1: #2: '你说：只有一条'"
        ):
            await sb.wait_for_messages(user.id, count=2, timeout=1.0)


async def test_webhook_mode_delivers_updates_with_the_secret_token(sb: Sandbox, user: SandboxUser) -> None:
    async with running_app(sb, HANDLERS, webhook=True, secret_token="s3cret-Token_1"):
        info = await raw_call(sb, "getWebhookInfo")
        assert info[1]["result"]["url"].endswith("/hook")
        await sb.send_text(user.id, "走 webhook")
        [reply] = await sb.wait_for_messages(user.id)
        assert reply.text == "你说：走 webhook"
        status, body = await raw_call(sb, "getUpdates")
        assert status == 409
        assert body["description"] == (
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first"
        )


class _Recorder(tornado.web.RequestHandler):
    """A webhook endpoint that fails the first ``failures`` requests."""

    def initialize(self, log: list[tuple[dict[str, str], Any]], failures: list[int]) -> None:
        self.log = log
        self.failures = failures

    def post(self) -> None:
        self.log.append((dict(self.request.headers), json.loads(self.request.body)))
        if self.failures[0] > 0:
            self.failures[0] -= 1
            self.set_status(500)
        self.finish("")


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], Any]], list[int]]]:
    log: list[tuple[dict[str, str], Any]] = []
    failures = [0]
    app = tornado.web.Application([(r"/hook", _Recorder, {"log": log, "failures": failures})])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook", log, failures
    server.stop()
    await server.close_all_connections()


async def test_webhook_posts_in_order_with_secret_and_retries_after_errors(
    sb: Sandbox, user: SandboxUser, recorder: tuple[str, list[tuple[dict[str, str], Any]], list[int]]
) -> None:
    url, log, failures = recorder
    failures[0] = 2
    await sb.send_text(user.id, "早于 webhook")
    _, body = await raw_call(sb, "setWebhook", url=url, secret_token="abc", drop_pending_updates=True)
    assert body == {"ok": True, "result": True, "description": "Webhook was set"}
    await sb.send_text(user.id, "一")
    await sb.send_text(user.id, "二")
    await sb.wait_until(lambda: sb.pending_update_count == 0 and len(log) >= 4, timeout=5)
    texts = [update["message"]["text"] for _, update in log]
    assert texts == ["一", "一", "一", "二"]  # two failures, then in order
    assert all(headers["X-Telegram-Bot-Api-Secret-Token"] == "abc" for headers, _ in log)
    info = (await raw_call(sb, "getWebhookInfo"))[1]["result"]
    assert info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
    assert info["pending_update_count"] == 0
    assert sb.stats.webhook_failures == 2
    _, body = await raw_call(sb, "deleteWebhook")
    assert body["description"] == "Webhook was deleted"
    await sb.send_text(user.id, "三")
    _, body = await raw_call(sb, "getUpdates")
    assert [u["message"]["text"] for u in body["result"]] == ["三"]


async def test_webhook_urls_must_be_loopback_unless_allowed(sb: Sandbox) -> None:
    status, body = await raw_call(sb, "setWebhook", url="https://example.com/hook")
    assert status == 400
    assert body["description"].startswith("Bad Request: bad webhook: ")
    async with Sandbox(allow_remote_webhooks=True) as remote:
        status, _ = await raw_call(remote, "setWebhook", url="https://example.com/hook")
        assert status == 200
        await raw_call(remote, "deleteWebhook")


async def test_updates_are_kept_until_confirmed_by_a_higher_offset(sb: Sandbox, user: SandboxUser) -> None:
    for text in ("1", "2", "3"):
        await sb.send_text(user.id, text)
    _, first = await raw_call(sb, "getUpdates", limit=2)
    ids = [u["update_id"] for u in first["result"]]
    assert len(ids) == 2
    _, again = await raw_call(sb, "getUpdates")
    assert len(again["result"]) == 3  # nothing confirmed yet
    _, rest = await raw_call(sb, "getUpdates", offset=ids[-1] + 1)
    assert [u["message"]["text"] for u in rest["result"]] == ["3"]
    _, last = await raw_call(sb, "getUpdates", offset=-1)
    assert len(last["result"]) == 1
    await raw_call(sb, "getUpdates", offset=rest["result"][0]["update_id"] + 1)
    assert sb.pending_update_count == 0


async def test_long_poll_returns_as_soon_as_an_update_arrives(sb: Sandbox, user: SandboxUser) -> None:
    async def later() -> None:
        await asyncio.sleep(0.2)
        await sb.send_text(user.id, "来了")

    started = time.monotonic()
    task = asyncio.create_task(later())
    status, body = await raw_call(sb, "getUpdates", timeout=10)
    elapsed = time.monotonic() - started
    await task
    assert status == 200
    assert body["result"][0]["message"]["text"] == "来了"
    assert 0.15 < elapsed < 2
    started = time.monotonic()
    status, body = await raw_call(sb, "getUpdates", timeout=0.3, offset=body["result"][0]["update_id"] + 1)
    assert body["result"] == []
    assert time.monotonic() - started >= 0.25


async def test_a_second_get_updates_terminates_the_older_one_with_conflict(
    sb: Sandbox, user: SandboxUser
) -> None:
    older = asyncio.create_task(raw_call(sb, "getUpdates", timeout=10))
    await asyncio.sleep(0.1)
    newer = asyncio.create_task(raw_call(sb, "getUpdates", timeout=10))
    status, body = await asyncio.wait_for(older, 2)
    assert status == 409
    assert body["description"] == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    )
    await sb.send_text(user.id, "给新的")
    status, body = await asyncio.wait_for(newer, 2)
    assert status == 200
    assert body["result"][0]["message"]["text"] == "给新的"


async def test_allowed_updates_filter_new_updates(sb: Sandbox, user: SandboxUser) -> None:
    await raw_call(sb, "getUpdates", allowed_updates=["callback_query"])
    await sb.send_text(user.id, "被过滤")
    assert sb.pending_update_count == 0
    await raw_call(sb, "getUpdates", allowed_updates=[])
    await sb.send_text(user.id, "默认")
    assert sb.pending_update_count == 1


async def test_stopping_the_sandbox_releases_a_waiting_long_poll(user: SandboxUser) -> None:
    sb = Sandbox()
    await sb.start()
    async with httpx.AsyncClient(trust_env=False) as client:
        poll = asyncio.create_task(client.post(f"{sb.base_url}{sb.token}/getUpdates", json={"timeout": 30}))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await sb.stop()
        response = await asyncio.wait_for(poll, 5)
    assert response.json() == {"ok": True, "result": []}
    assert time.monotonic() - started < 2
