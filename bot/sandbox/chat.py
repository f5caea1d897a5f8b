"""A terminal chat client that plays one user talking to the bot through the sandbox.

It only uses the HTTP control API, so it works against an in-process ``Sandbox``
and against ``python -m bot.sandbox serve`` alike.  Everything shown to the person
is Simplified Chinese; input and output streams are injectable so tests can
script a whole session.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import re
import sys
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from .entities import utf16_offsets

logger = logging.getLogger(__name__)

__all__ = ["HELP_TEXT", "TerminalChat", "render_entities", "stdin_lines"]

JSONDict = dict[str, Any]

HELP_TEXT = """输入说明：
  直接输入文字                 发送消息（例如 /start）
  :N                           点击最近一条带按钮消息的第 N 个按钮
  :N@消息号                    点击指定消息（#消息号）的第 N 个按钮
  :reply 消息号 文字           回复指定消息
  :photo 路径 [说明文字]       发送图片
  :file 路径 [说明文字]        发送文件
  :video 路径 [说明文字]       发送视频
  ::文字                       发送以冒号开头的文字
  :help                        显示本帮助
  :quit                        退出（也可以按 Ctrl-D）"""

#: The files a message may carry, as the chat names them.
_MEDIA_LABELS = {"photo": "图片", "video": "视频", "document": "文件"}

_ANSI = {
    "bold": "1",
    "italic": "3",
    "underline": "4",
    "strikethrough": "9",
    "code": "36",
    "pre": "36",
    "spoiler": "2",
    "text_link": "34;4",
    "url": "34;4",
    "text_mention": "34",
    "mention": "34",
    "bot_command": "34",
    "blockquote": "2",
    "expandable_blockquote": "2",
}
_PRESS_RE = re.compile(r"^(\d+)(?:@(\d+))?$")


class Writer(Protocol):
    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


def render_entities(text: str, entities: Sequence[JSONDict], *, color: bool) -> str:
    """Render Telegram text + entities for a terminal: ANSI styles when ``color``, plain otherwise.

    Link targets are appended in parentheses in both modes, because a terminal
    cannot make text clickable and the URL would otherwise be lost.
    """
    offsets = utf16_offsets(text)
    index_of = {unit: i for i, unit in enumerate(offsets)}
    spans: list[tuple[int, int, JSONDict]] = []
    for entity in entities:
        start = index_of.get(int(entity["offset"]))
        end = index_of.get(int(entity["offset"]) + int(entity["length"]))
        if start is not None and end is not None and end > start:
            spans.append((start, end, entity))
    pieces: list[str] = []
    boundaries = sorted({0, len(text)} | {s for s, _, _ in spans} | {e for _, e, _ in spans})
    for left, right in itertools.pairwise(boundaries):
        active = [entity for start, end, entity in spans if start <= left and right <= end]
        chunk = text[left:right]
        codes = [_ANSI[e["type"]] for e in active if e["type"] in _ANSI]
        if color and codes:
            chunk = f"\x1b[{';'.join(codes)}m{chunk}\x1b[0m"
        pieces.append(chunk)
        for start, end, entity in spans:
            if end == right and entity["type"] == "text_link" and entity.get("url") != text[start:end]:
                pieces.append(f" ({entity['url']})")
    return "".join(pieces)


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin, read in a daemon thread so the event loop never blocks.

    A daemon thread (not the default executor) because a thread stuck in
    readline() must not keep the process alive after ":quit".
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def deliver(item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may already be closed at exit
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def reader() -> None:
        for line in sys.stdin:
            deliver(line)
        deliver(None)

    threading.Thread(target=reader, name="sandbox-chat-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


def _load(path: Path) -> tuple[Path, bytes]:
    expanded = path.expanduser()
    return expanded, expanded.read_bytes()


def _save(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} 字节"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


class TerminalChat:
    """One user's private chat with the bot, in a terminal."""

    def __init__(
        self,
        url: str,
        user_id: int,
        *,
        first_name: str = "张伟",
        username: str | None = None,
        lines: AsyncIterable[str] | None = None,
        out: Writer | None = None,
        color: bool | None = None,
        echo: bool | None = None,
        downloads: Path | str = "downloads",
        poll_timeout: float = 10.0,
        linger: float = 0.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.user_id = user_id
        self.first_name = first_name
        self.username = username
        self.out: Writer = out if out is not None else sys.stdout
        is_tty = bool(getattr(self.out, "isatty", lambda: False)())
        self.color = is_tty if color is None else color
        # A person typing at a terminal already sees their own line; a script does not.
        self.echo = (lines is not None or not sys.stdin.isatty()) if echo is None else echo
        self.lines = lines
        self.downloads = Path(downloads)
        self.poll_timeout = poll_timeout
        self.linger = linger
        self.messages: dict[int, JSONDict] = {}  # the bot's messages as last seen
        self.printed = 0  # number of bot events shown, handy for scripted sessions
        self._client: httpx.AsyncClient | None = None
        self._last_seq = 0
        self._bot_name = "机器人"
        self._last_event_at = 0.0

    # ------------------------------------------------------------------ output

    @property
    def last_event_at(self) -> float:
        """Event-loop time of the last bot message shown (0 before any)."""
        return self._last_event_at

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    # ------------------------------------------------------------------ HTTP helpers

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self._client is not None
        response = await self._client.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise RuntimeError(f"沙盒返回了无法解析的响应（HTTP {response.status_code}）") from None
        if not body.get("ok"):
            raise RuntimeError(str(body.get("error") or body))
        return body["result"]

    # ------------------------------------------------------------------ main loop

    async def run(self) -> None:
        timeout = httpx.Timeout(self.poll_timeout + 10.0)
        async with httpx.AsyncClient(base_url=self.url, timeout=timeout, trust_env=False) as client:
            self._client = client
            try:
                info = await self._call("GET", "/sandbox/info")
                payload: JSONDict = {"user_id": self.user_id, "first_name": self.first_name}
                if self.username:
                    payload["username"] = self.username
                await self._call("POST", "/sandbox/users", json=payload)
            except (httpx.HTTPError, RuntimeError) as error:
                self.say(f"无法连接沙盒 {self.url}：{error}")
                return
            self._last_seq = int(info.get("last_event_seq", 0))
            bot = info["bot"]
            self._bot_name = str(bot.get("first_name") or "机器人")
            self.say(
                f"欢迎使用离线沙盒。你现在是用户「{self.first_name}」（ID {self.user_id}），"
                f"正在与机器人「{self._bot_name}」@{bot.get('username')} 私聊。"
            )
            self.say(HELP_TEXT)
            events = asyncio.create_task(self._follow_events(), name="sandbox-chat-events")
            try:
                source = self.lines if self.lines is not None else stdin_lines()
                async for line in source:
                    if not await self.handle_line(line):
                        break
                if self.linger > 0:
                    await self._linger()
            finally:
                events.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await events
                self._client = None
            self.say("再见！")

    async def _linger(self) -> None:
        """After scripted input ends, wait for the bot's answers: up to ``linger`` seconds,
        but stop once something arrived and the bot has been quiet for a moment."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger
        printed_before = self.printed
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            quiet_for = loop.time() - self._last_event_at
            if self.printed > printed_before and quiet_for > 0.5:
                return

    async def _follow_events(self) -> None:
        warned = False
        while True:
            try:
                result = await self._call(
                    "GET",
                    "/sandbox/events",
                    params={"after": self._last_seq, "timeout": self.poll_timeout, "chat_id": self.user_id},
                )
            except (httpx.HTTPError, RuntimeError) as error:
                if not warned:
                    self.say(f"（与沙盒的连接中断：{error}，正在重试…）")
                    warned = True
                await asyncio.sleep(1.0)
                continue
            warned = False
            for event in result["events"]:
                self._last_seq = max(self._last_seq, int(event["seq"]))
                await self._show_event(event)
                self._last_event_at = asyncio.get_running_loop().time()

    async def _show_event(self, event: JSONDict) -> None:
        kind = event["type"]
        if kind in ("message", "edited"):
            message = event["message"]
            self.messages[int(message["message_id"])] = message
            await self._show_message(message, edited=kind == "edited")
        elif kind == "deleted" and event.get("from_bot"):
            self.messages.pop(int(event["message_id"]), None)
            self.say(self._style(f"（{self._bot_name}删除了消息 #{event['message_id']}）", "2"))
        elif kind == "callback_answer" and int(event.get("user_id", 0)) == self.user_id:
            if event.get("text"):
                if event.get("show_alert"):
                    self.say(self._style(f"【{self._bot_name}弹窗提醒】{event['text']}", "1;33"))
                else:
                    self.say(self._style(f"（{self._bot_name}提示：{event['text']}）", "33"))
            if event.get("url"):
                self.say(f"（{self._bot_name}要求打开链接：{event['url']}）")
        else:
            return
        self.printed += 1

    async def _show_message(self, message: JSONDict, *, edited: bool) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(int(message.get("date") or time.time())))
        header = f"[{stamp}] {self._bot_name} #{message['message_id']}"
        if message.get("reply_to_message_id"):
            header += f"（回复 #{message['reply_to_message_id']}）"
        if edited:
            header += " (已编辑)"
        self.say(self._style(header + "：", "1;32"))
        body = message.get("text") if message.get("text") is not None else message.get("caption")
        if body:
            rendered = render_entities(body, message.get("entities") or [], color=self.color)
            for line in rendered.split("\n"):
                self.say("  " + line)
        for kind, label in _MEDIA_LABELS.items():
            info = message.get(kind)
            if info:
                saved = await self._download(message, info) if not edited else None
                line = f"  [{label}] {info['file_name']}（{_human_size(int(info['size']))}）"
                if saved is not None:
                    line += f"，已保存到 {saved}"
                self.say(line)
        number = 0
        for row_index, row in enumerate(message.get("reply_markup") or []):
            cells = []
            for button in row:
                number += 1
                cell = f"[{number}] {button.get('text', '')}"
                if button.get("url"):
                    cell += f" ↗ {button['url']}"
                cells.append(self._style(cell, "36"))
            prefix = "  按钮：" if row_index == 0 else "        "
            self.say(prefix + "  ".join(cells))
        keyboard = message.get("reply_keyboard") or {}
        if keyboard.get("keyboard"):
            options = " | ".join(b.get("text", "") for row in keyboard["keyboard"] for b in row)
            self.say(f"  快捷回复：{options}")

    async def _download(self, message: JSONDict, info: JSONDict) -> Path | None:
        assert self._client is not None
        try:
            response = await self._client.get(f"/sandbox/files/{info['file_id']}")
            response.raise_for_status()
            name = Path(str(info["file_name"])).name or "file"
            target = self.downloads / f"{message['message_id']}_{name}"
            await asyncio.to_thread(_save, target, response.content)
            return target
        except (httpx.HTTPError, OSError) as error:
            logger.warning("could not save file %s: %s", info.get("file_id"), error)
            return None

    # ------------------------------------------------------------------ input

    async def handle_line(self, raw: str) -> bool:
        """Act on one input line; returns False when the user wants to leave."""
        line = raw.rstrip("\r\n")
        if not line.strip():
            return True
        try:
            if line.startswith("::"):
                await self._send_text(line[1:])
            elif line.startswith(":"):
                return await self._command(line[1:].strip())
            else:
                await self._send_text(line)
        except (httpx.HTTPError, RuntimeError) as error:
            self.say(f"（操作失败：{error}）")
        return True

    async def _command(self, command: str) -> bool:
        name, _, rest = command.partition(" ")
        name = name.lower()
        rest = rest.strip()
        if name in ("quit", "q", "exit"):
            return False
        if name in ("help", "h", "?", "帮助"):
            self.say(HELP_TEXT)
        elif _PRESS_RE.match(name):
            await self._press(name)
        elif name == "reply":
            target, _, text = rest.partition(" ")
            if not target.lstrip("#").isdigit() or not text.strip():
                self.say("（用法：:reply 消息号 文字）")
            else:
                await self._send_text(text.strip(), reply_to=int(target.lstrip("#")))
        elif name in ("photo", "file", "video"):
            await self._upload(name, rest)
        else:
            self.say(f"（未知命令 :{name}，输入 :help 查看帮助）")
        return True

    async def _send_text(self, text: str, reply_to: int | None = None) -> None:
        payload: JSONDict = {"user_id": self.user_id, "text": text}
        if reply_to is not None:
            payload["reply_to"] = reply_to
        message = await self._call("POST", "/sandbox/send", json=payload)
        if self.echo:
            suffix = f"（回复 #{reply_to}）" if reply_to is not None else ""
            self.say(f"我 #{message['message_id']}{suffix}：{text}")

    async def _press(self, spec: str) -> None:
        match = _PRESS_RE.match(spec)
        assert match is not None
        number = int(match.group(1))
        if match.group(2):
            message_id = int(match.group(2))
            message = self.messages.get(message_id)
            if message is None:
                self.say(f"（没有找到机器人的消息 #{message_id}）")
                return
        else:
            with_buttons = [m for m in self.messages.values() if m.get("reply_markup")]
            if not with_buttons:
                self.say("（目前没有带按钮的消息）")
                return
            message = max(with_buttons, key=lambda m: int(m["message_id"]))
        buttons = [b for row in message.get("reply_markup") or [] for b in row]
        if not buttons:
            self.say(f"（消息 #{message['message_id']} 没有按钮）")
            return
        if not 1 <= number <= len(buttons):
            self.say(f"（消息 #{message['message_id']} 只有 {len(buttons)} 个按钮）")
            return
        button = buttons[number - 1]
        if button.get("url"):
            self.say(f"（这是链接按钮，请在浏览器中打开：{button['url']}）")
            return
        if self.echo:
            self.say(f"我点击了按钮 [{number}] {button.get('text', '')}（消息 #{message['message_id']}）")
        await self._call(
            "POST",
            "/sandbox/press",
            json={"user_id": self.user_id, "message_id": message["message_id"], "index": number - 1},
        )

    async def _upload(self, kind: str, rest: str) -> None:
        path_text, _, caption = rest.partition(" ")
        if not path_text:
            self.say(f"（用法：:{kind} 路径 [说明文字]）")
            return
        path = Path(path_text)
        try:
            path, data = await asyncio.to_thread(_load, path)
        except OSError:
            self.say(f"（找不到文件或无法读取：{path}）")
            return
        payload: JSONDict = {
            "user_id": self.user_id,
            {"file": "document"}.get(kind, kind): base64.b64encode(data).decode("ascii"),
            "filename": path.name,
        }
        if caption.strip():
            payload["caption"] = caption.strip()
        message = await self._call("POST", "/sandbox/send", json=payload)
        if self.echo:
            label = _MEDIA_LABELS[{"file": "document"}.get(kind, kind)]
            self.say(f"我 #{message['message_id']}：[{label}] {path.name}（{_human_size(len(data))}）")
