"""The JSON control API, the terminal chat client, and the command line."""

from __future__ import annotations

import asyncio
import base64
import io
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.sandbox import Sandbox
from bot.sandbox.chat import TerminalChat, render_entities

from .conftest import free_port, running_app
from .test_bot_api import make_png


async def control(sb: Sandbox, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(base_url=sb.url, trust_env=False) as client:
        response = await client.request(method, path, **kwargs)
    body = response.json()
    assert body["ok"], body
    return body["result"]


async def test_control_api_mirrors_the_python_api(sb: Sandbox) -> None:
    user = await control(sb, "POST", "/sandbox/users", json={"first_name": "张伟", "user_id": 42})
    assert user == {
        "id": 42,
        "is_bot": False,
        "first_name": "张伟",
        "language_code": "zh-hans",
        "started": False,
        "blocked": False,
    }
    assert await control(sb, "POST", "/sandbox/users", json={"first_name": "x", "user_id": 42}) == user
    group = await control(sb, "POST", "/sandbox/groups", json={"title": "群", "member_ids": [42]})
    assert group["type"] == "group"
    assert group["id"] < 0
    sent = await control(sb, "POST", "/sandbox/send", json={"user_id": 42, "text": "/start"})
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    photo = base64.b64encode(make_png(2, 2)).decode()
    await control(sb, "POST", "/sandbox/send", json={"user_id": 42, "photo": photo, "caption": "图"})
    document = base64.b64encode(b"data").decode()
    await control(
        sb, "POST", "/sandbox/send", json={"user_id": 42, "document": document, "filename": "a.txt"}
    )
    assert sb.pending_update_count == 3

    markup = {"inline_keyboard": [[{"text": "是", "callback_data": "yes"}]]}
    async with httpx.AsyncClient(trust_env=False) as client:
        await client.post(
            f"{sb.base_url}{sb.token}/sendMessage", json={"chat_id": 42, "text": "选", "reply_markup": markup}
        )
        await client.post(
            f"{sb.base_url}{sb.token}/sendDocument",
            files={"document": ("r.txt", b"xyz")},
            data={"chat_id": "42"},
        )
    messages = await control(sb, "GET", "/sandbox/messages", params={"chat_id": 42, "after": 0})
    assert [m["text"] for m in messages] == ["选", None]
    assert messages[1]["document"]["file_name"] == "r.txt"
    async with httpx.AsyncClient(base_url=sb.url, trust_env=False) as client:
        downloaded = await client.get(messages[1]["document"]["download"])
    assert downloaded.content == b"xyz"
    pressed = await control(
        sb,
        "POST",
        "/sandbox/press",
        json={"user_id": 42, "message_id": messages[0]["message_id"], "data": "yes"},
    )
    assert pressed["callback_query_id"]
    events = await control(sb, "GET", "/sandbox/events", params={"after": 0, "timeout": 0, "chat_id": 42})
    assert [e["type"] for e in events["events"]] == ["message", "message"]
    empty = await control(sb, "GET", "/sandbox/events", params={"after": events["last"], "timeout": 0.1})
    assert empty["events"] == []

    assert (await control(sb, "POST", "/sandbox/block", json={"user_id": 42}))["blocked"] is True
    fault = await control(
        sb, "POST", "/sandbox/faults", json={"method": "getMe", "error_code": 502, "times": 2}
    )
    assert fault["times"] == 2
    assert len(await control(sb, "GET", "/sandbox/faults")) == 1
    await control(sb, "DELETE", "/sandbox/faults")
    assert sb.faults == []
    stats = await control(sb, "GET", "/sandbox/stats")
    assert stats["methods"] == {"sendMessage": 1, "sendDocument": 1}
    assert stats["deliveries"] == {"42": 2}
    calls = await control(sb, "GET", "/sandbox/calls", params={"method": "sendDocument"})
    assert calls[0]["params"]["document"] == "<file r.txt, 3 bytes>"
    info = await control(sb, "GET", "/sandbox/info")
    assert info["token"] == sb.token
    assert info["bot"]["username"] == "zhenggai_demo_bot"


async def test_control_api_reports_misuse_as_400(sb: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=sb.url, trust_env=False) as client:
        unknown = await client.post("/sandbox/send", json={"user_id": 999, "text": "x"})
        missing = await client.post("/sandbox/users", json={})
        not_json = await client.post("/sandbox/press", content=b"{")
    assert unknown.status_code == 400
    assert "unknown user 999" in unknown.json()["error"]
    assert missing.status_code == 400
    assert not_json.status_code == 400


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("完成", callback_data="done"),
                InlineKeyboardButton("稍后", callback_data="later"),
            ],
            [InlineKeyboardButton("说明", url="https://example.cn/help")],
        ]
    )
    await update.effective_message.reply_html("<b>请选择</b>任务状态", reply_markup=keyboard)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_text(f"收到：{message.text}", do_quote=message.reply_to_message is not None)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("状态已更新")
    await query.edit_message_text(f"<i>状态：{query.data}</i>", parse_mode="HTML")


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    photo = await message.photo[-1].get_file()
    data = await photo.download_as_bytearray()
    await message.reply_document(f"{len(data)} bytes".encode(), filename="回执.txt", caption=message.caption)


CHAT_HANDLERS = [
    CommandHandler("start", start),
    CallbackQueryHandler(on_button),
    MessageHandler(filters.PHOTO, on_photo),
    MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
]


async def until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def test_terminal_chat_scripted_end_to_end(sb: Sandbox, tmp_path: Path) -> None:
    out = io.StringIO()
    picture = tmp_path / "现场.png"
    picture.write_bytes(make_png(3, 3))

    async def script() -> AsyncIterator[str]:
        yield "/start\n"
        await until(lambda: "[3] 说明" in out.getvalue())
        yield ":3"
        yield ":2"
        await until(lambda: "(已编辑)" in out.getvalue())
        yield f":photo {picture} 整改后照片"
        await until(lambda: "回执.txt" in out.getvalue())
        yield ":reply 2 好的"
        await until(lambda: "收到：好的" in out.getvalue())
        yield "::冒号开头"
        await until(lambda: "收到：:冒号开头" in out.getvalue())
        yield ":1"  # the keyboard is gone after the edit
        yield ":9@2"
        yield ":frobnicate"
        yield ":help"
        yield ":quit"
        yield "never sent"

    chat = TerminalChat(
        sb.url, 777, first_name="测试员", lines=script(), out=out, downloads=tmp_path / "dl", poll_timeout=1.0
    )
    async with running_app(sb, CHAT_HANDLERS):
        await asyncio.wait_for(chat.run(), 15)
    text = out.getvalue()
    assert "欢迎使用离线沙盒。你现在是用户「测试员」（ID 777）" in text
    assert text.count("输入说明：") == 2
    assert "我 #1：/start" in text
    assert "  请选择任务状态" in text
    assert "按钮：[1] 完成  [2] 稍后" in text
    assert "[3] 说明 ↗ https://example.cn/help" in text
    assert "（这是链接按钮，请在浏览器中打开：https://example.cn/help）" in text
    assert "我点击了按钮 [2] 稍后（消息 #2）" in text
    assert "（整改助手提示：状态已更新）" in text
    assert "#2 (已编辑)：\n  状态：later" in text
    receipt = f"{len(picture.read_bytes())} bytes".encode()
    saved = tmp_path / "dl" / "4_回执.txt"
    assert f"[文件] 回执.txt（{len(receipt)} 字节），已保存到 {saved}" in text
    assert saved.read_bytes() == receipt
    assert "我 #3：[图片] 现场.png" in text
    assert "我 #5（回复 #2）：好的" in text
    assert "#6（回复 #5）：\n  收到：好的" in text
    assert "我 #7：:冒号开头" in text
    assert "（目前没有带按钮的消息）" in text
    assert "（消息 #2 没有按钮）" in text
    assert "（未知命令 :frobnicate，输入 :help 查看帮助）" in text
    assert "\x1b[" not in text  # no ANSI codes when the output is not a terminal
    assert text.rstrip().endswith("再见！")
    assert "never sent" not in [m.text for m in sb.history(777)]


def test_render_entities_for_terminals() -> None:
    text = "粗体 链接 😀x"
    entities = [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "text_link", "offset": 3, "length": 2, "url": "https://a.cn"},
        {"type": "italic", "offset": 8, "length": 1},
    ]
    assert render_entities(text, entities, color=False) == "粗体 链接 (https://a.cn) 😀x"
    colored = render_entities(text, entities, color=True)
    assert colored.startswith("\x1b[1m粗体\x1b[0m")
    assert colored.endswith("😀\x1b[3mx\x1b[0m")


def test_command_line_serve_and_chat_processes(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.sandbox", "serve", "--port", str(port), "--no-rate-limits"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        chat = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot.sandbox",
                "chat",
                "--url",
                f"http://127.0.0.1:{port}",
                "--user-id",
                "5",
                "--name",
                "张伟",
                "--downloads",
                str(tmp_path),
            ],
            input="你好\n:quit\n",
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert "正在与机器人「整改助手」@zhenggai_demo_bot 私聊" in chat.stdout
        assert "我 #1：你好" in chat.stdout
        updates = httpx.get(
            f"http://127.0.0.1:{port}/bot123456:SANDBOX-TOKEN/getUpdates", trust_env=False
        ).json()
        assert updates["result"][0]["message"]["text"] == "你好"
        assert updates["result"][0]["message"]["from"]["first_name"] == "张伟"
    finally:
        server.terminate()
        server.wait(10)
    help_text = subprocess.run(
        [sys.executable, "-m", "bot.sandbox", "demo", "--help"], capture_output=True, text=True, timeout=20
    ).stdout
    assert "{base_url}" in help_text


ECHO_BOT = """
import os
from telegram.ext import Application, MessageHandler, filters


async def echo(update, context):
    await update.message.reply_html(f"<b>回声</b>：{update.message.text}")


app = (
    Application.builder()
    .token(os.environ["SANDBOX_BOT_TOKEN"])
    .base_url(os.environ["SANDBOX_BASE_URL"])
    .base_file_url(os.environ["SANDBOX_BASE_FILE_URL"])
    .build()
)
app.add_handler(MessageHandler(filters.TEXT, echo))
app.run_polling()
"""


def test_demo_runs_the_bot_as_a_child_process_and_chats_with_it(tmp_path: Path) -> None:
    script = tmp_path / "echo_bot.py"
    script.write_text(ECHO_BOT, encoding="utf-8")
    log = tmp_path / "bot.log"
    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.sandbox",
            "demo",
            "--linger",
            "15",
            "--bot-log",
            str(log),
            "--downloads",
            str(tmp_path),
            "--",
            sys.executable,
            str(script),
        ],
        input="你好\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "机器人进程已启动" in demo.stdout
    assert "我 #1：你好" in demo.stdout
    assert "回声：你好" in demo.stdout, log.read_text(encoding="utf-8")
    assert demo.stdout.rstrip().endswith("再见！")
