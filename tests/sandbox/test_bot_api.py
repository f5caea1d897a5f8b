"""The Bot API surface, driven by PTB's Bot (types, exceptions) and raw HTTP (exact texts)."""

from __future__ import annotations

import asyncio
import struct
import zlib

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatFullInfo,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
    User,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.sandbox import RateLimits, Sandbox, SandboxUser

from .conftest import raw_call

# PTB 22 warns when RetryAfter.retry_after is read as int; the message text is what we check.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def make_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# ---------------------------------------------------------------------- basics


async def test_get_me_returns_a_bot_user_that_ptb_accepts(bot: Bot, sb: Sandbox) -> None:
    me = await bot.get_me()
    assert isinstance(me, User)
    assert me.is_bot
    assert me.id == 123456
    assert me.username == "zhenggai_demo_bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False


async def test_wrong_token_is_unauthorized_with_telegrams_body(sb: Sandbox) -> None:
    status, body = await raw_call(sb, "getMe", token="999:WRONG")
    assert status == 401
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=sb.base_url):
            pass


async def test_unknown_method_is_not_found(sb: Sandbox) -> None:
    status, body = await raw_call(sb, "fooBar")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_known_but_unsupported_method_is_a_clear_bad_request(sb: Sandbox) -> None:
    status, body = await raw_call(sb, "sendPoll", chat_id=1, question="?", options=["a", "b"])
    assert status == 400
    assert body["description"] == "Bad Request: method not supported by the sandbox: sendPoll"


async def test_method_names_are_case_insensitive_and_get_works(sb: Sandbox) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"{sb.base_url}{sb.token}/GETME")
    assert response.json()["result"]["username"] == "zhenggai_demo_bot"


async def test_log_out_and_close_answer_true(bot: Bot) -> None:
    assert await bot.log_out() is True
    assert await bot.close() is True


# ---------------------------------------------------------------------- sendMessage


async def test_send_message_accepts_form_and_json_bodies_with_string_chat_id(
    sb: Sandbox, user: SandboxUser
) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        form = await client.post(
            f"{sb.base_url}{sb.token}/sendMessage",
            data={"chat_id": str(user.id), "text": "表单", "reply_markup": '{"remove_keyboard": true}'},
        )
        query = await client.get(
            f"{sb.base_url}{sb.token}/sendMessage", params={"chat_id": user.id, "text": "q"}
        )
    status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text="json")
    assert form.json()["ok"]
    assert query.json()["ok"]
    assert status == 200
    assert [m.text for m in sb.messages(user.id)] == ["表单", "q", "json"]
    assert sb.messages(user.id)[0].reply_keyboard == {"remove_keyboard": True}
    message = Message.de_json(body["result"], None)
    assert message.chat.id == user.id
    assert message.from_user is not None
    assert message.from_user.is_bot


@pytest.mark.parametrize("text", ["", "   \n\t "])
async def test_send_message_rejects_empty_text(sb: Sandbox, user: SandboxUser, text: str) -> None:
    status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text=text)
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")


async def test_send_message_rejects_html_that_is_empty_after_parsing(sb: Sandbox, user: SandboxUser) -> None:
    status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text="<b> </b>", parse_mode="HTML")
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")


async def test_send_message_to_unknown_chat_is_chat_not_found(sb: Sandbox) -> None:
    status, body = await raw_call(sb, "sendMessage", chat_id=-987, text="hi")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    status, body = await raw_call(sb, "sendMessage", text="hi")
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")


async def test_send_message_to_user_who_never_started_the_bot_is_forbidden(bot: Bot, sb: Sandbox) -> None:
    stranger = sb.add_user("李娜")
    status, body = await raw_call(sb, "sendMessage", chat_id=stranger.id, text="hi")
    assert status == 403
    assert body["description"] == "Forbidden: bot can't initiate conversation with a user"
    await sb.send_text(stranger.id, "你好")
    assert (await bot.send_message(stranger.id, "现在可以了")).text == "现在可以了"


async def test_send_message_to_blocked_user_is_forbidden(bot: Bot, sb: Sandbox, user: SandboxUser) -> None:
    sb.block(user.id)
    status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text="hi")
    assert (status, body["description"]) == (403, "Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden):
        await bot.send_message(user.id, "hi")
    sb.unblock(user.id)
    await bot.send_message(user.id, "hi")


async def test_html_is_parsed_into_plain_text_and_utf16_entities(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    html = (
        '😀 <b>粗体</b> <i>斜</i> <a href="https://example.com/x">链接</a> '
        '<pre><code class="language-python">x = 1</code></pre> &lt;ok&gt; &#x4E2D;'
    )
    message = await bot.send_message(user.id, html, parse_mode=ParseMode.HTML)
    assert message.text == "😀 粗体 斜 链接 x = 1 <ok> 中"
    by_type = {e.type: e for e in message.entities}
    assert (by_type["bold"].offset, by_type["bold"].length) == (3, 2)  # the emoji counts as 2 units
    assert by_type["text_link"].url == "https://example.com/x"
    assert by_type["pre"].language == "python"
    assert message.text_html.startswith("😀 <b>粗体</b>")
    [stored] = sb.messages(user.id)
    assert stored.raw_text == html
    assert stored.parse_mode == "HTML"


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("Hello world <foo>x</foo>", 'Unsupported start tag "foo" at byte offset 12'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("中文<br>", 'Unsupported start tag "br" at byte offset 6'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("x <b", "Unclosed start tag at byte offset 2"),
    ],
)
async def test_html_parse_errors_match_telegram(
    sb: Sandbox, user: SandboxUser, html: str, error: str
) -> None:
    status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text=html, parse_mode="HTML")
    assert status == 400
    assert body["description"] == f"Bad Request: can't parse entities: {error}"


async def test_message_length_limit_counts_utf16_units_after_parsing(sb: Sandbox, user: SandboxUser) -> None:
    async def send(text: str, parse_mode: str | None = None) -> tuple[int, str]:
        status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text=text, parse_mode=parse_mode)
        return status, body.get("description", "")

    too_long = (400, "Bad Request: message is too long")
    assert (await send("a" * 4096))[0] == 200
    assert await send("a" * 4097) == too_long
    assert (await send("😀" * 2048))[0] == 200  # each emoji is two UTF-16 code units
    assert await send("😀" * 2048 + "a") == too_long
    assert (await send("中" * 4096))[0] == 200
    assert (await send("<b>" + "a" * 4096 + "</b>", "HTML"))[0] == 200  # tags do not count
    assert await send("&lt;" * 4097, "HTML") == too_long


async def test_send_message_rejects_callback_data_over_64_bytes(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    fits = "确" * 21 + "x"  # 63 + 1 = 64 bytes of UTF-8
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data=fits)]])
    await bot.send_message(user.id, "fits", reply_markup=markup)
    too_long = {"inline_keyboard": [[{"text": "x", "callback_data": "确" * 22}]]}  # 66 bytes
    status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text="no", reply_markup=too_long)
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(
            user.id,
            "no",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="a" * 65)]]),
        )


async def test_inline_keyboards_are_validated(sb: Sandbox, user: SandboxUser) -> None:
    async def send(markup: object) -> str:
        status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text="k", reply_markup=markup)
        return str(body.get("description", status))

    assert (
        await send({"inline_keyboard": [[{"text": "", "callback_data": "x"}]]})
        == "Bad Request: BUTTON_TEXT_INVALID"
    )
    assert (
        await send({"inline_keyboard": [[{"text": "x", "url": "not a url"}]]})
        == "Bad Request: BUTTON_URL_INVALID"
    )
    assert "Text buttons are unallowed" in await send({"inline_keyboard": [[{"text": "x"}]]})
    assert await send({"inline_keyboard": [[{"text": "x", "url": "https://t.me"}]]}) == "200"
    assert await send({"keyboard": [["是", {"text": "否"}]], "resize_keyboard": True}) == "200"
    assert await send({"force_reply": True}) == "200"
    assert sb.messages(user.id)[-2].reply_keyboard == {
        "keyboard": [[{"text": "是"}, {"text": "否"}]],
        "resize_keyboard": True,
    }


async def test_reply_keyboard_from_ptb_is_accepted(bot: Bot, sb: Sandbox, user: SandboxUser) -> None:
    await bot.send_message(
        user.id, "选一个", reply_markup=ReplyKeyboardMarkup([["A", "B"]], one_time_keyboard=True)
    )
    keyboard = sb.last_message(user.id).reply_keyboard
    assert keyboard is not None
    assert keyboard["one_time_keyboard"] is True


async def test_bot_messages_get_command_mention_and_url_entities(bot: Bot, user: SandboxUser) -> None:
    message = await bot.send_message(
        user.id, "发送 /done@zhenggai_demo_bot 或联系 @admin_wang，见 https://example.cn/a。"
    )
    kinds = [(e.type, message.parse_entity(e)) for e in message.entities]
    assert kinds == [
        ("bot_command", "/done@zhenggai_demo_bot"),
        ("mention", "@admin_wang"),
        ("url", "https://example.cn/a"),
    ]


async def test_reply_parameters_and_legacy_reply_to_message_id(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    incoming = await sb.send_text(user.id, "问题")
    answer = await bot.send_message(user.id, "答复", reply_parameters=ReplyParameters(incoming["message_id"]))
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "问题"
    status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text="x", reply_to_message_id=999)
    assert (status, body["description"]) == (400, "Bad Request: message to be replied not found")
    status, _ = await raw_call(
        sb,
        "sendMessage",
        chat_id=user.id,
        text="x",
        reply_parameters={"message_id": 999, "allow_sending_without_reply": True},
    )
    assert status == 200
    assert sb.messages(user.id)[0].reply_to_message_id == incoming["message_id"]


async def test_markdown_v2_is_parsed_and_reserved_characters_must_be_escaped(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    message = await bot.send_message(
        user.id, r"*粗* _斜_ __下__ ~删~ ||剧透|| `c` [链](https://a.cn) 1\.0", "MarkdownV2"
    )
    assert message.text == "粗 斜 下 删 剧透 c 链 1.0"
    assert [e.type for e in message.entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    status, body = await raw_call(
        sb, "sendMessage", chat_id=user.id, text="版本 1.0", parse_mode="MarkdownV2"
    )
    assert status == 400
    assert body["description"] == (
        "Bad Request: can't parse entities: "
        "Character '.' is reserved and must be escaped with the preceding '\\'"
    )
    status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text="*open", parse_mode="MarkdownV2")
    assert (
        body["description"]
        == "Bad Request: can't parse entities: Can't find end of Bold entity at byte offset 0"
    )
    legacy = await bot.send_message(user.id, "*粗* [链](https://a.cn) 1.0", "Markdown")
    assert legacy.text == "粗 链 1.0"


# ---------------------------------------------------------------------- editing and deleting


async def test_edit_message_text_and_not_modified(bot: Bot, sb: Sandbox, user: SandboxUser) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("确认", callback_data="ok")]])
    sent = await bot.send_message(user.id, "<b>待办</b>", parse_mode="HTML", reply_markup=markup)
    edited = await bot.edit_message_text(
        "<b>已完成</b>", user.id, sent.message_id, parse_mode="HTML", reply_markup=markup
    )
    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    status, body = await raw_call(
        sb,
        "editMessageText",
        chat_id=user.id,
        message_id=sent.message_id,
        text="<b>已完成</b>",
        parse_mode="HTML",
        reply_markup=markup.to_dict(),
    )
    assert status == 400
    assert body["description"] == (
        "Bad Request: message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )
    current = sb.message(user.id, sent.message_id)
    assert (current.text, current.edit_count, current.button_texts) == ("已完成", 1, ["确认"])


async def test_editing_text_without_reply_markup_removes_the_keyboard(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("确认", callback_data="ok")]])
    sent = await bot.send_message(user.id, "待办", reply_markup=markup)
    await bot.edit_message_text("待办", user.id, sent.message_id)  # same text, keyboard dropped: modified
    assert sb.message(user.id, sent.message_id).reply_markup == []
    await bot.edit_message_reply_markup(user.id, sent.message_id, reply_markup=markup)
    assert sb.message(user.id, sent.message_id).button_texts == ["确认"]
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_reply_markup(user.id, sent.message_id, reply_markup=markup)


async def test_edit_of_missing_deleted_or_user_message_fails(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    status, body = await raw_call(sb, "editMessageText", chat_id=user.id, message_id=77, text="x")
    assert (status, body["description"]) == (400, "Bad Request: message to edit not found")
    sent = await bot.send_message(user.id, "临时")
    assert await bot.delete_message(user.id, sent.message_id) is True
    status, body = await raw_call(
        sb, "editMessageText", chat_id=user.id, message_id=sent.message_id, text="x"
    )
    assert body["description"] == "Bad Request: message to edit not found"
    status, body = await raw_call(sb, "deleteMessage", chat_id=user.id, message_id=sent.message_id)
    assert body["description"] == "Bad Request: message to delete not found"
    assert sb.messages(user.id) == []
    assert sb.messages(user.id, include_deleted=True)[0].deleted
    theirs = await sb.send_text(user.id, "用户的话")
    status, body = await raw_call(
        sb, "editMessageText", chat_id=user.id, message_id=theirs["message_id"], text="x"
    )
    assert body["description"] == "Bad Request: message can't be edited"


async def test_edit_message_caption_checks_limit_and_kind(bot: Bot, sb: Sandbox, user: SandboxUser) -> None:
    photo = await bot.send_photo(user.id, make_png(4, 3), caption="旧说明")
    edited = await bot.edit_message_caption(
        user.id, photo.message_id, caption="<i>新说明</i>", parse_mode="HTML"
    )
    assert isinstance(edited, Message)
    assert edited.caption == "新说明"
    _, body = await raw_call(
        sb, "editMessageCaption", chat_id=user.id, message_id=photo.message_id, caption="x" * 1025
    )
    assert body["description"] == "Bad Request: message caption is too long"
    text = await bot.send_message(user.id, "纯文本")
    _, body = await raw_call(
        sb, "editMessageCaption", chat_id=user.id, message_id=text.message_id, caption="c"
    )
    assert body["description"] == "Bad Request: there is no caption in the message to edit"


# ---------------------------------------------------------------------- callback queries


async def test_press_requires_an_existing_button(bot: Bot, sb: Sandbox, user: SandboxUser) -> None:
    from bot.sandbox import SandboxError

    plain = await bot.send_message(user.id, "无按钮")
    with pytest.raises(SandboxError, match="no inline buttons"):
        await sb.press(user.id, plain.message_id, index=0)
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("A", callback_data="a"), InlineKeyboardButton("网页", url="https://a.cn")]]
    )
    sent = await bot.send_message(user.id, "有按钮", reply_markup=markup)
    with pytest.raises(SandboxError, match="out of range"):
        await sb.press(user.id, sent.message_id, index=5)
    with pytest.raises(SandboxError, match="no button with data"):
        await sb.press(user.id, sent.message_id, data="zzz")
    with pytest.raises(SandboxError, match="url button"):
        await sb.press(user.id, sent.message_id, index=1)
    assert await sb.press(user.id, sent.message_id, data="a")


async def test_answer_callback_query_is_recorded_and_stale_ids_are_rejected(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    sent = await bot.send_message(
        user.id,
        "q",
        reply_markup=InlineKeyboardMarkup.from_button(InlineKeyboardButton("go", callback_data="go")),
    )
    query_id = await sb.press(user.id, sent.message_id, index=0)
    [update] = await bot.get_updates()
    assert update.callback_query is not None
    assert update.callback_query.data == "go"
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == sent.message_id
    with pytest.raises(BadRequest):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert await bot.answer_callback_query(query_id, text="已收到", show_alert=True)
    assert sb.callback_answers[query_id].text == "已收到"
    assert sb.callback_answers[query_id].show_alert
    _, body = await raw_call(sb, "answerCallbackQuery", callback_query_id=query_id)
    assert body["description"] == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    sb.callback_query_timeout = 0.0
    late = await sb.press(user.id, sent.message_id, index=0)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(late)


# ---------------------------------------------------------------------- files


async def test_bot_uploads_photo_and_document_then_downloads_them(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    png = make_png(32, 20)
    photo = await bot.send_photo(
        user.id, png, caption="<b>现场</b>照片", parse_mode="HTML", filename="site.png"
    )
    assert photo.caption == "现场照片"
    assert photo.caption_entities[0].type == "bold"
    assert (photo.photo[-1].width, photo.photo[-1].height) == (32, 20)
    document = await bot.send_document(user.id, "整改清单\n".encode(), filename="清单.txt")
    assert document.document is not None
    assert document.document.file_name == "清单.txt"
    assert document.document.mime_type == "text/plain"
    photo_file = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await photo_file.download_as_bytearray()) == png
    doc_file = await bot.get_file(document.document.file_id)
    assert (await doc_file.download_as_bytearray()).decode() == "整改清单\n"
    views = sb.messages(user.id)
    assert views[0].photo is not None
    assert views[0].photo.data == png
    assert views[1].document is not None
    assert views[1].document.file_name == "清单.txt"
    again = await bot.send_photo(user.id, photo.photo[-1].file_id)  # resend by file_id
    assert again.photo[-1].file_unique_id == photo.photo[-1].file_unique_id


async def test_user_uploads_can_be_fetched_and_downloaded_by_the_bot(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    jpeg_header = b"\xff\xd8\xff\xc0\x00\x11\x08\x01\xe0\x02\x80" + b"\x00" * 20
    await sb.send_photo(user.id, jpeg_header, caption="整改后")
    await sb.send_document(user.id, b"%PDF-1.4 fake", filename="报告.pdf", caption="报告")
    photo_update, document_update = await bot.get_updates()
    assert photo_update.message is not None
    assert document_update.message is not None
    size = photo_update.message.photo[-1]
    assert (size.width, size.height, photo_update.message.caption) == (640, 480, "整改后")
    document = document_update.message.document
    assert document is not None
    assert document.mime_type == "application/pdf"
    file = await bot.get_file(document.file_id)
    assert file.file_path is not None
    assert file.file_path.startswith(f"{sb.base_file_url}{sb.token}/")
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 fake"


async def test_file_errors(bot: Bot, sb: Sandbox, user: SandboxUser) -> None:
    _, body = await raw_call(sb, "getFile", file_id="nope")
    assert body["description"] == "Bad Request: invalid file_id"
    _, body = await raw_call(sb, "sendPhoto", chat_id=user.id, photo="nope")
    assert body["description"] == "Bad Request: wrong file identifier/HTTP URL specified"
    _, body = await raw_call(sb, "sendPhoto", chat_id=user.id, photo="", caption="c")
    assert body["description"] == "Bad Request: there is no photo in the request"
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_photo(user.id, make_png(1, 1), caption="长" * 1025)
    async with httpx.AsyncClient(trust_env=False) as client:
        missing = await client.get(f"{sb.base_file_url}{sb.token}/photos/none.jpg")
        wrong = await client.get(f"{sb.base_file_url}1:X/photos/none.jpg")
    assert (missing.status_code, wrong.status_code) == (404, 401)


# ---------------------------------------------------------------------- commands, chats, profile


async def test_commands_are_stored_per_scope_and_validated(bot: Bot, sb: Sandbox, user: SandboxUser) -> None:
    await bot.set_my_commands([BotCommand("start", "开始"), BotCommand("done", "标记完成")])
    await bot.set_my_commands([BotCommand("admin", "管理")], scope=BotCommandScopeChat(user.id))
    assert [c.command for c in await bot.get_my_commands()] == ["start", "done"]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(user.id))] == ["admin"]
    assert sb.commands()[1] == {"command": "done", "description": "标记完成"}
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "x")])
    with pytest.raises(BadRequest, match="Bot_command_description_invalid"):
        await bot.set_my_commands([BotCommand("ok", "")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_chat_info_members_menu_button_and_descriptions(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    other = sb.add_user("王芳", started=True)
    group = sb.add_group("整改工作群", [user.id, other.id], admin_ids=[user.id])
    chat = await bot.get_chat(group.id)
    assert isinstance(chat, ChatFullInfo)
    assert chat.title == "整改工作群"
    assert chat.type == "group"
    private = await bot.get_chat(user.id)
    assert private.first_name == "张伟"
    assert private.username == "zhangwei"
    assert (await bot.get_chat_member(group.id, user.id)).status == ChatMemberStatus.OWNER
    assert (await bot.get_chat_member(group.id, other.id)).status == ChatMemberStatus.MEMBER
    assert (await bot.get_chat_member(group.id, sb.bot_id)).status == ChatMemberStatus.MEMBER
    assert [m.user.id for m in await bot.get_chat_administrators(group.id)] == [user.id]
    assert await bot.get_chat_member_count(group.id) == 3
    await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert isinstance(await bot.get_chat_menu_button(), MenuButtonCommands)
    await bot.set_my_description("整改助手帮助你跟踪整改任务")
    await bot.set_my_short_description("整改任务助手")
    assert (await bot.get_my_description()).description == "整改助手帮助你跟踪整改任务"
    assert (await bot.get_my_short_description()).short_description == "整改任务助手"
    assert sb.descriptions[""] == "整改助手帮助你跟踪整改任务"
    assert await bot.send_chat_action(user.id, "typing")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(-1)


async def test_group_messages_use_group_chats_and_privacy_mode(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    group = sb.add_group("整改工作群", [user.id])
    await sb.send_text(user.id, "大家好", chat_id=group.id)  # invisible in privacy mode
    await sb.send_text(user.id, "/status@zhenggai_demo_bot", chat_id=group.id)
    await sb.send_text(user.id, "/status@other_bot", chat_id=group.id)
    await sb.send_text(user.id, "@zhenggai_demo_bot 在吗", chat_id=group.id)
    updates = await bot.get_updates()
    texts = [u.message.text for u in updates if u.message]
    assert texts == ["/status@zhenggai_demo_bot", "@zhenggai_demo_bot 在吗"]
    assert updates[0].message is not None
    assert updates[0].message.chat.type == "group"
    reply = await bot.send_message(group.id, "收到")
    assert reply.chat.title == "整改工作群"
    await sb.send_text(
        user.id, "好的", chat_id=group.id, reply_to=reply.message_id
    )  # replies to the bot are seen
    [seen] = await bot.get_updates(offset=updates[-1].update_id + 1)
    assert seen.message is not None
    assert seen.message.reply_to_message is not None


# ---------------------------------------------------------------------- rate limits


async def test_rate_limits_produce_429_with_retry_after_and_ptb_raises_retry_after(user: SandboxUser) -> None:
    limits = RateLimits(per_chat_per_second=0.1, per_chat_burst=2)
    async with Sandbox(limits=limits) as sb:
        sb.add_user("赵", user_id=user.id, started=True)
        async with Bot(sb.token, base_url=sb.base_url) as bot:
            await bot.send_message(user.id, "1")
            await bot.send_message(user.id, "2")
            with pytest.raises(RetryAfter, match=r"Retry in (10 seconds|0:00:10)"):
                await bot.send_message(user.id, "3")
        status, body = await raw_call(sb, "sendMessage", chat_id=user.id, text="4")
        assert status == 429
        assert body == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 10",
            "parameters": {"retry_after": 10},
        }
        assert sb.stats.rate_limited == 2
        assert sb.stats.deliveries[user.id] == 2
        assert sb.stats.methods["sendMessage"] == 4


async def test_group_and_global_limits_are_separate_buckets() -> None:
    limits = RateLimits(per_group_per_minute=6, per_group_burst=1, global_per_second=0.2, global_burst=3)
    async with Sandbox(limits=limits) as sb:
        a, b, c = (sb.add_user(name, started=True) for name in "甲乙丙")
        group = sb.add_group("群", [a.id])
        assert (await raw_call(sb, "sendMessage", chat_id=group.id, text="1"))[0] == 200
        assert (await raw_call(sb, "sendMessage", chat_id=group.id, text="2"))[0] == 429
        assert (await raw_call(sb, "sendMessage", chat_id=a.id, text="x"))[0] == 200
        assert (await raw_call(sb, "sendMessage", chat_id=b.id, text="x"))[0] == 200
        status, body = await raw_call(sb, "sendMessage", chat_id=c.id, text="x")  # global burst of 3 used up
        assert status == 429
        assert body["parameters"]["retry_after"] == 5
        assert (await raw_call(sb, "getMe"))[0] == 200  # only message-producing calls are limited


# ---------------------------------------------------------------------- fault injection


async def test_injected_server_errors_raise_network_errors(bot: Bot, sb: Sandbox, user: SandboxUser) -> None:
    sb.inject("sendMessage", error_code=500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(user.id, "x")
    await bot.send_message(user.id, "third time works")
    sb.inject("sendMessage", error_code=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(user.id, "x")
    assert [m.text for m in sb.messages(user.id)] == ["third time works"]
    assert sb.stats.errors[500] == 2
    assert sb.stats.errors[502] == 1


async def test_injected_429_403_and_chat_filters(bot: Bot, sb: Sandbox, user: SandboxUser) -> None:
    other = sb.add_user("王芳", started=True)
    sb.inject("sendMessage", error_code=429, retry_after=7, chat_id=other.id)
    sb.inject("sendmessage", error_code=403, chat_id=user.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(user.id, "x")
    with pytest.raises(RetryAfter, match=r"Retry in (7 seconds|0:00:07)"):
        await bot.send_message(other.id, "x")
    await bot.send_message(user.id, "ok")
    sb.inject(None, error_code=400, description="Bad Request: custom")
    with pytest.raises(BadRequest, match="Custom"):
        await bot.get_me()
    sb.inject("getMe", error_code=500, times=5)
    sb.clear_faults()
    await bot.get_me()


async def test_injected_delay_times_out_the_client_but_the_message_is_delivered(
    sb: Sandbox, user: SandboxUser
) -> None:
    sb.inject("sendMessage", delay=0.5)
    request = HTTPXRequest(read_timeout=0.1)
    async with Bot(sb.token, base_url=sb.base_url, request=request) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(user.id, "慢")
    [late] = await sb.wait_for_messages(user.id, timeout=2)
    assert late.text == "慢"


# ---------------------------------------------------------------------- request log


async def test_calls_log_records_method_params_status_and_error(
    bot: Bot, sb: Sandbox, user: SandboxUser
) -> None:
    await bot.send_message(user.id, "记录", disable_notification=True)
    await raw_call(sb, "sendMessage", chat_id=user.id, text="")
    ok, failed = sb.calls_to("sendMessage")
    assert ok.ok
    assert ok.params["chat_id"] == str(user.id)
    assert ok.params["disable_notification"] == "true"
    assert ok.result["text"] == "记录"
    assert (failed.status, failed.error) == (400, "Bad Request: message text is empty")
    assert sb.messages(user.id)[0].raw["chat"]["id"] == user.id
    assert asyncio.iscoroutinefunction(sb.wait_for_call)
