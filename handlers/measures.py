"""Measures: /mine /status /overdue /todo /done /verify /reject /extend, done by reply or photo,
extension requests made, withdrawn and decided, answers to the bot's questions (退回原因, 进展,
延期), and the measure buttons."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.app import BotContext, deliver_soon
from bot.db import transaction
from bot.errors import ConflictError, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from bot.models import Cadre, ExtensionRequest, Measure, MeasureStatus, Role
from bot.services import measures as service
from bot.services import pending
from bot.services.measures import Evidence, ExtensionOutcome
from bot.services.text import (
    DATE_AND_REASON,
    EXTENSION_VERB,
    DateFormatError,
    add_months,
    clean_display,
    parse_chat_date,
    split_chat_date,
    to_simplified,
)
from handlers import notify, render
from handlers.callbacks import (
    EXPIRED,
    Action,
    Callback,
    Ref,
    done_confirm_keyboard,
    encode,
    verify_confirm_keyboard,
    withdraw_keyboard,
)
from handlers.common import (
    Attachment,
    Pressed,
    addressed_to_bot,
    current_cadre,
    is_private,
    measure_of_button,
    send,
    send_attachments,
)
from handlers.render import Reply, esc

NOT_BOUND_PLAIN = "您还没有绑定身份：请向管理员索取邀请码，然后在私聊中发送 /start 邀请码。"
#: A reply to a card or reminder that means "this is done": the words alone, or followed by
#: punctuation and a note ("已完成，材料已上报"); never a question that merely starts with one of
#: them ("完成时限是哪天？", "落实情况如何").
DONE_WORDS = re.compile(
    r"^\s*(?:(?:已经?|都|均)?(?:完成|办结|办完|做完|整改完|落实|搞定|弄完|干完|整改到位)(?:了|啦|啦啦)?"
    # 整改 alone names the campaign; 已整改 / 整改了 say it is done.
    r"|(?:已经?|都|均)整改(?:了|啦)?|整改了|done|ok了?)"
    r"(?:[。！!.，,；;：:\s]+(?P<note>.*?))?[。！!.\s]*$",
    re.IGNORECASE | re.DOTALL,
)
#: "ok" alone acknowledges (a reminder, an answer) as 好的 does; after a code it says done.
_JUST_OK = re.compile(r"\s*ok(?:ay)?[了啦]?[。！!.\s]*", re.IGNORECASE)


def says_done(text: str) -> re.Match[str] | None:
    """完成 said with no code: in reply to a card, or alone (which one? — `bare_action`)."""
    return None if _JUST_OK.fullmatch(text) else DONE_WORDS.match(text)


#: The owner takes back a 已完成 not yet signed off: "ZG2025009 撤回完成", or "撤回" in reply to its card.
UNDO_WORDS = re.compile(r"\s*(?:撤回|撤销|收回)(?:完成|完成报告|报告|上报)?(?:了|吧)?[。！!.\s]*")
#: The requester takes back a pending extension request: "ZG2025009 撤回延期申请", "撤回延期" in
#: reply to the card, "延期申请撤回". Never a bare 撤回, which is 撤回完成 (UNDO_WORDS).
WITHDRAW_EXTENSION = re.compile(
    r"\s*(?:我)?(?:要|想)?(?:撤回|撤销|收回|取消)(?:我的)?(?:这个|这条)?(?:延期|延长时限|推迟)(?:申请)?(?:了|吧)?[。！!.\s]*"
    r"|\s*(?:延期|延长时限)申请(?:我)?(?:要|想)?(?:撤回|撤销|收回|取消)(?:了|吧)?[。！!.\s]*")
#: `/extend ZG2025009 撤回`: the command's way of saying it.
_WITHDRAW_ARG = re.compile(r"(?:撤回|撤销|收回|取消)(?:申请|延期申请)?")
#: The bot's confirmation of a request just made (see `request_extension`): a bare 撤回 in reply
#: to it takes that request back rather than a done report.
_SUBMITTED = re.compile(r"\s*已提交 \S+ 的延期申请")
#: "ZG2025009 办理记录" / "ZG2025009 的佐证材料": its trail, with the evidence.
TRAIL_WORDS = re.compile(r"\s*的?(?:(?:办理|操作|处理|审核|整改)?(?:记录|历史|过程|经过)"
                         r"|(?:佐证|证明)(?:材料|照片|文件)?)(?:呢|吧)?[。！!.?？\s]*")
#: An action named with no measure (申请延期, 我要报进展): the bot asks which, as for a bare 完成.
EXTEND_ALONE = re.compile(r"\s*(?:我)?(?:要|想|需要)?申请(?:延期|延长时限|推迟)[。！!.\s]*"
                          r"|\s*(?:我)?(?:要|想|需要)(?:延期|推迟)[。！!.\s]*")
PROGRESS_ALONE = re.compile(r"\s*(?:我)?(?:要|想)?(?:报|填报|更新|上报|汇报|报送)(?:一下)?(?:整改)?"
                            r"(?:进展|进度)(?:情况)?[。！!.\s]*")


async def require_cadre(session: AsyncSession, update: Update) -> Cadre:
    cadre = await current_cadre(session, update)
    if cadre is None:
        raise PermissionDenied(NOT_BOUND_PLAIN)
    return cadre


def resolve_code(context: BotContext, typed: str) -> str:
    """The measure code a user typed, in any spelling (zg-2025-4 → ZG2025004)."""
    codes = context.services.answers.find_codes(typed)
    return codes[0] if codes else typed.strip()


def card(context: BotContext, update: Update, measure: Measure, viewer: Cadre,
         pending: service.Pending | None = None) -> Reply:
    public = not is_private(update)
    owner, verifier = render.viewer_rights(measure, viewer)
    return render.measure_card(measure, context.services.today(), public=public,
                               owner=owner and not public, verifier=verifier and not public, pending=pending)


def _sync_index(context: BotContext, measure: Measure) -> None:
    # Called right after the change: a measure closed now was closed today (本周销号的 lists it).
    context.services.answers.update_measure(measure.code, status=measure.status, deadline=measure.deadline,
                                            closed_on=context.services.today())


# ---- lists ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Listed:
    measures: list[Measure]
    title: str
    show_owner: bool = False


async def _owned(session: AsyncSession, cadre: Cadre, today: dt.date) -> _Listed:
    return _Listed(await service.measures_of_owner(session, cadre.id), "您负责的整改措施")


async def _led(session: AsyncSession, cadre: Cadre, today: dt.date) -> _Listed:
    led = [m for m in await service.measures_of_leader(session, cadre.id) if m.status.is_open]
    return _Listed(led, "您分管的未完成整改措施", show_owner=True)


async def _overdue(session: AsyncSession, cadre: Cadre, today: dt.date) -> _Listed:
    if cadre.role is Role.ADMIN:
        return _Listed(await service.overdue(session, today), "全部逾期整改措施", show_owner=True)
    if cadre.role is Role.LEADER:
        return _Listed(await service.overdue(session, today, leader_id=cadre.id), "您分管的逾期整改措施",
                       show_owner=True)
    return _Listed(await service.overdue(session, today, owner_id=cadre.id), "您负责的逾期整改措施")


async def _open(session: AsyncSession, cadre: Cadre, today: dt.date) -> _Listed:
    return _Listed(await service.open_measures_of_owner(session, cadre.id), "您待完成的整改措施")


async def _awaiting(session: AsyncSession, cadre: Cadre, today: dt.date) -> _Listed:
    return _Listed(await service.awaiting_verification(session, cadre.id), "待您审核销号的整改措施", show_owner=True)


#: The lists that come in pages, by the kind their « 上一页 · 下一页 » buttons name. Each is
#: looked up afresh for the cadre who presses: a page shows the list as it is now.
_LISTS: dict[str, Callable[[AsyncSession, Cadre, dt.date], Awaitable[_Listed]]] = {
    "mine": _owned, "led": _led, "od": _overdue, "open": _open, "aw": _awaiting,
}


async def _list_page(session: AsyncSession, context: BotContext, update: Update, cadre: Cadre, kind: str,
                     page: int = 0) -> Reply:
    listed = await _LISTS[kind](session, cadre, context.services.today())
    return _shown(context, update, kind, listed, page)


def _shown(context: BotContext, update: Update, kind: str, listed: _Listed, page: int = 0) -> Reply:
    return render.measure_list(listed.measures, context.services.today(), title=listed.title,
                               show_owner=listed.show_owner, public=not is_private(update), paged=kind, page=page)


async def list_page(update: Update, context: BotContext, callback: Callback, cadre: Cadre) -> Pressed:
    """« 上一页 · 下一页 » under a list: the same message shows that page of the list as it is now."""
    if callback.kind not in _LISTS:
        return Pressed(toast=EXPIRED)
    async with transaction(context.services.factory) as session:
        return Pressed(await _list_page(session, context, update, cadre, callback.kind, callback.page or 0))


async def mine(update: Update, context: BotContext) -> None:
    services = context.services
    replies: list[Reply] = []
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        replies.append(await _list_page(session, context, update, cadre, "mine"))
        if cadre.role in (Role.LEADER, Role.ADMIN):
            led = await _led(session, cadre, services.today())
            if led.measures:
                replies.append(_shown(context, update, "led", led))
            waiting = await service.awaiting_verification(session, cadre.id)
            if waiting and is_private(update):  # /todo is for a private chat; a group need not know
                replies.append(Reply(f"另有 {len(waiting)} 项已完成、等待您审核销号：发送 /todo 处理。"))
    for reply in replies:
        await send(update, reply)


async def overdue(update: Update, context: BotContext) -> None:
    async with transaction(context.services.factory) as session:
        cadre = await require_cadre(session, update)
        reply = await _list_page(session, context, update, cadre, "od")
    await send(update, reply)


async def todo(update: Update, context: BotContext) -> None:
    """Leader/admin: measures awaiting sign-off (with buttons) and extension requests to decide."""
    async with transaction(context.services.factory) as session:
        cadre = await require_cadre(session, update)
        if cadre.role is Role.CADRE:
            raise PermissionDenied("/todo 供分管领导和管理员使用；您的整改措施请用 /mine 查看。")
        total, replies = await _todo_replies(session, update, context, cadre)
    await _send_todo(update, total, replies)


#: More measures than this awaiting sign-off come as one list (a button opens each card), not a
#: message per measure: forty cards would bury the chat.
TODO_CARDS = 5


async def _todo_replies(session: AsyncSession, update: Update, context: BotContext, cadre: Cadre
                        ) -> tuple[int, list[Reply]]:
    """How many things wait for this leader or admin, and the messages showing them."""
    if not is_private(update):
        # Sign-off buttons and who asked for what are not for a group.
        raise PermissionDenied("请在与机器人的私聊中使用 /todo。")
    awaiting = await service.awaiting_verification(session, cadre.id)
    if len(awaiting) > TODO_CARDS:
        replies = [await _list_page(session, context, update, cadre, "aw")]
    else:
        replies = [card(context, update, measure, cadre) for measure in awaiting]
    requests = await service.pending_extensions(session) if cadre.role is Role.ADMIN else []
    for request in requests[:TODO_CARDS]:
        text, buttons = notify.extension_message(request, request.measure)
        replies.append(Reply(text, markup(buttons)))
    if len(requests) > TODO_CARDS:
        more = len(requests) - TODO_CARDS
        replies.append(Reply(f"另有 {more} 项延期申请未列出：处理完以上申请后，再发送 /todo 查看。"))
    return len(awaiting) + len(requests), replies


async def _send_todo(update: Update, total: int, replies: list[Reply]) -> None:
    if not replies:
        await send(update, "没有待您处理的事项。")
        return
    await send(update, f"待您处理 {total} 项：")
    for reply in replies:
        await send(update, reply)


#: "What is on my plate" in words (待我处理的, 我的待办, 我今天有什么要处理的): /todo for those who
#: judge measures, the open measures they own for everyone else.
TODO_ASKED = re.compile(
    r"(我的)?(待办|待办事项|待处理事项)(有哪些|有什么|呢)?|(待|等|需要|要)我(来)?处理的?(有哪些|有什么|事项|事)?|"
    r"我?(今天)?(还)?(有)?(什么|哪些|啥)(事情?)?要(我)?(处理|办)的?"
)


def asks_todo(text: str) -> bool:
    return TODO_ASKED.fullmatch(to_simplified(re.sub(r"[\s？?。！!，,]+", "", text))) is not None


async def my_todo(update: Update, context: BotContext) -> None:
    services = context.services
    owned: Reply | None = None
    replies: list[Reply] = []
    total = 0
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        if cadre.role is Role.CADRE:
            owned = await _list_page(session, context, update, cadre, "open")
        else:
            # A leader's or admin's: /todo, from this same unit of work.
            total, replies = await _todo_replies(session, update, context, cadre)
    if owned is None:
        await _send_todo(update, total, replies)
        return
    await send(update, owned)


def markup(buttons: notify.Buttons | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in row]
                                 for row in buttons])


async def status(update: Update, context: BotContext) -> None:
    from handlers.questions import answer_question

    typed = " ".join(context.args or []).strip()
    async with transaction(context.services.factory) as session:
        cadre = await require_cadre(session, update)
        if not typed:
            raise InvalidInput("用法：/status 编号或关键词，例如 /status ZG2025004 或 /status 港南区补贴")
        codes = context.services.answers.find_codes(typed)
        if codes:
            measure = await service.get_measure(session, codes[0])
            reply = card(context, update, measure, cadre, pending=await service.pending_matters(session, measure))
        else:
            reply = await answer_question(session, context, update, cadre, typed)
    await send(update, reply)


# ---- changes --------------------------------------------------------------------------------------

async def command_args(update: Update, context: BotContext, usage: str, *, minimum: int = 1) -> list[str]:
    """The command's words; too few: its usage (to a bound cadre — strangers hear how to bind)."""
    args = context.args or []
    if len(args) < minimum:
        async with transaction(context.services.factory) as session:
            await require_cadre(session, update)
        raise InvalidInput(usage)
    return args


def code_and_rest(context: BotContext, args: list[str]) -> tuple[str, str]:
    """The code a command's words start with and the rest as typed: /done ZG2025008，规划已批复 puts
    a comma, not a space, after the code, and the note must not be lost for it."""
    text = " ".join(args)
    codes = context.services.answers.find_codes(args[0])
    plain = unicodedata.normalize("NFKC", text)
    if codes and len(plain) == len(text):  # NFKC kept every position: cut the original there
        run = next((r for r in _CODE_RUN.finditer(plain)
                    if context.services.answers.find_codes(r.group(0)) == codes[:1]), None)
        if run is not None and not plain[:run.start()].strip():
            return codes[0], text[run.end():].strip(" \t\n,，.。:：;；、")
    return resolve_code(context, args[0]), " ".join(args[1:])


async def done_command(update: Update, context: BotContext) -> None:
    if not context.args and is_private(update) and await offer_choice(update, context, "done"):
        return  # /done alone: which one? as a bare 完成
    args = await command_args(update, context,
                              "用法：/done 编号 说明，例如 /done ZG2025004 已全部补发到位（可同时附照片作为佐证）")
    code, note = code_and_rest(context, args)
    await mark_done(update, context, code, note, evidence=None)


async def mark_done(update: Update, context: BotContext, code: str, note: str, evidence: Evidence | None) -> None:
    """A typed 完成 acts at once; the card that comes back offers 撤回完成."""
    services = context.services
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        transition = await service.mark_done(session, cadre.id, code, note or None, evidence, services.today())
        await notify.queue_transition(session, "done", transition)
        reply = card(context, update, transition.measure, cadre)
    _sync_index(context, transition.measure)
    deliver_soon(context)
    proof = "，佐证材料已保存" if evidence else ""
    undo = "如有误可点“撤回完成”。" if reply.keyboard is not None else ""
    await send(update, Reply(f"已报告完成{proof}，等待分管领导审核销号。{undo}\n\n{reply.html}", reply.keyboard))


async def undo_done(update: Update, context: BotContext, code: str) -> None:
    """A typed 撤回完成: as the ↩️ button, the measure is open again and the card says so."""
    services = context.services
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        transition = await service.undo_done(session, cadre.id, code)
        await notify.queue_transition(session, "undo", transition)
        reply = card(context, update, transition.measure, cadre)
    _sync_index(context, transition.measure)
    deliver_soon(context)
    await send(update, Reply(f"已撤回完成报告。\n\n{reply.html}", reply.keyboard))


#: Evidence files sent with a 办理记录: the latest few (each is a message of its own).
TRAIL_FILES = 5


async def trail_of(context: BotContext, session: AsyncSession, cadre: Cadre, code: str
                   ) -> tuple[Reply, tuple[Attachment, ...]]:
    """A measure's 办理记录 and its latest evidence files, for its owner, leader or an admin."""
    tz = context.services.settings.tz
    events = await service.events_of(session, code, actor_id=cadre.id)  # checks both
    reply = render.measure_trail(code, events, tz)
    with_files = [e for e in events if e.evidence_file_id]
    files = tuple(
        Attachment(e.evidence_kind or "document", e.evidence_file_id or "",
                   f"{code} 佐证材料 · {e.actor.name if e.actor else '系统'} "
                   f"{e.at.astimezone(tz):%Y-%m-%d %H:%M}")
        for e in with_files[-TRAIL_FILES:])
    if len(with_files) > TRAIL_FILES:
        reply = Reply(reply.html + f"\n（共 {len(with_files)} 份佐证材料，下面发送最近 {TRAIL_FILES} 份）")
    return reply, files


async def history_command(update: Update, context: BotContext) -> None:
    args = await command_args(update, context, "用法：/history 编号，例如 /history ZG2025004")
    await show_trail(update, context, resolve_code(context, args[0]))


#: A trail names people and their notes: 公示-level groups never see it.
TRAIL_IN_PRIVATE = "办理记录和佐证材料请在与机器人的私聊中查看"


async def show_trail(update: Update, context: BotContext, code: str) -> None:
    async with transaction(context.services.factory) as session:
        cadre = await require_cadre(session, update)
        if not is_private(update):
            raise InvalidInput(TRAIL_IN_PRIVATE)
        reply, files = await trail_of(context, session, cadre, code)
    await send(update, reply)
    chat = update.effective_chat
    if files and chat is not None:
        await send_attachments(context.bot, chat.id, files)


async def verify_command(update: Update, context: BotContext) -> None:
    args = await command_args(update, context, "用法：/verify 编号 [说明]，例如 /verify ZG2025004")
    code, note = code_and_rest(context, args)
    await verify(update, context, code, note)


async def verify(update: Update, context: BotContext, code: str, note: str) -> None:
    services = context.services
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        transition = await service.verify(session, cadre.id, code, note or None, services.today())
        await notify.queue_transition(session, "verify", transition)
        reply = card(context, update, transition.measure, cadre)
    _sync_index(context, transition.measure)
    deliver_soon(context)
    await send(update, Reply("已销号。\n\n" + reply.html, reply.keyboard))


async def reject_command(update: Update, context: BotContext) -> None:
    args = await command_args(update, context, "用法：/reject 编号 原因，例如 /reject ZG2025004 佐证材料不全")
    code, reason = code_and_rest(context, args)
    if not reason:
        await ask_rest(update, context, Action.REJECT, code)  # as the ↩️ 退回 button: the reason is asked for
        return
    await reject(update, context, code, reason)


async def reject(update: Update, context: BotContext, code: str, reason: str) -> None:
    services = context.services
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        transition = await service.reject(session, cadre.id, code, reason)
        await notify.queue_transition(session, "reject", transition)
    _sync_index(context, transition.measure)
    deliver_soon(context)
    await send(update, f"已退回 <b>{esc(transition.measure.code)}</b>，已通知责任人。原因：{esc(reason)}")


async def extend_command(update: Update, context: BotContext) -> None:
    if not context.args and is_private(update) and await offer_choice(update, context, "extend"):
        return  # /extend alone: which one? as a bare 申请延期
    args = await command_args(update, context,
                              "用法：/extend 编号 新时限 理由，例如 /extend ZG2025004 2027-03-31 资金尚未到位")
    code = resolve_code(context, args[0])
    if len(args) == 1:
        await ask_rest(update, context, Action.EXTEND, code)  # as the ⏰ button: date and reason asked for
        return
    if len(args) == 2 and _WITHDRAW_ARG.fullmatch(args[1]):
        await withdraw_extension(update, context, code)  # /extend ZG2025009 撤回
        return
    if len(args) == 2:
        async with transaction(context.services.factory) as session:
            await require_cadre(session, update)  # strangers hear how to bind, nothing else
        raise InvalidInput(f"请同时写明延期理由，例如：/extend {code} {args[1]} 资金尚未到位")
    await request_extension(update, context, code, args[1], " ".join(args[2:]))


async def request_extension(update: Update, context: BotContext, code: str, date_text: str, reason: str) -> None:
    services = context.services
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        measure = await service.get_measure(session, code)
        try:
            # 延期一个月 counts from the current deadline (or from today once it has passed).
            new_deadline = parse_chat_date(date_text, services.today(), current=measure.deadline)
        except DateFormatError as exc:
            example = clean_display(code, 32)
            raise InvalidInput(f"{exc}。用法：/extend 编号 新时限 理由，"
                               f"例如 /extend {example} 2027-03-31 资金尚未到位") from None
        outcome = await service.request_extension(session, cadre.id, code, new_deadline, reason, services.today())
        await notify.queue_extension(session, outcome)
    deliver_soon(context)
    # A wrong date typed is taken back at once (↩️ 撤回申请), not left for an admin to refuse.
    # Buttons only in a private chat, as under a card.
    await send(update, Reply(f"已提交 <b>{esc(outcome.measure.code)}</b> 的延期申请"
                             f"（→ {render.cn_date(new_deadline)}），等待管理员审批。",
                             withdraw_keyboard(outcome.request.id) if is_private(update) else None))


async def withdraw_extension(update: Update, context: BotContext, code: str | None, *,
                             request_id: int | None = None) -> Reply:
    """The requester takes back their pending extension request; those told of it are told it is
    withdrawn. Typed, the answer is sent; by button (`request_id`), it is returned to edit the
    pressed message with."""
    async with transaction(context.services.factory) as session:
        cadre = await require_cadre(session, update)
        if code is None:  # a button names the request, not its measure
            assert request_id is not None
            code = (await service.get_extension(session, request_id)).measure.code
        outcome = await service.withdraw_extension(session, cadre.id, code, request_id=request_id)
        await notify.queue_extension(session, outcome)
    deliver_soon(context)
    told = "，已通知管理员无需审批" if outcome.notify else ""
    reply = Reply(f"已撤回 <b>{esc(outcome.measure.code)}</b> 的延期申请"
                  f"（→ {render.cn_date(outcome.request.new_deadline)}）{told}。如仍需延期，可重新申请。")
    if request_id is None:
        await send(update, reply)
    return reply


async def add_progress(update: Update, context: BotContext, code: str, text: str) -> None:
    services = context.services
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        transition = await service.add_progress(session, cadre.id, code, text)
        reply = card(context, update, transition.measure, cadre)
    _sync_index(context, transition.measure)
    await send(update, Reply("进展已更新。\n\n" + reply.html, reply.keyboard))


# ---- messages: done by reply, evidence, answers to the bot's questions ---------------------------

def codes_in_reply(context: BotContext, message: Message) -> list[str]:
    """Measure codes in this bot's message being replied to (a card, a list or a reminder)."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return []
    return context.services.answers.find_codes(without_examples(replied.text or replied.caption or ""))


def without_examples(text: str) -> str:
    """A message less its examples (例如 /done ZG2025004 …, and the • lines under 例如：): 已完成 in
    reply to /help or a usage hint is about no measure, least of all the example's."""
    kept: list[str] = []
    listing = False
    for line in text.splitlines():
        if listing and line.lstrip().startswith("•"):
            continue
        head, cue, _ = line.partition("例如")
        kept.append(head)
        listing = bool(cue)
    return "\n".join(kept)


async def answer_pending(update: Update, context: BotContext, waiting: pending.Waiting, text: str) -> None:
    """The user's answer to a question the bot asked (退回原因, 进展, 延期)."""
    if waiting.kind == "reject":
        await reject(update, context, waiting.target, text)
    elif waiting.kind == "progress":
        await add_progress(update, context, waiting.target, text)
    elif waiting.kind == "extend":
        # "明年6月底，资金未到位" or "2027-03-31 资金未到位" (a Chinese IME types U+3000).
        date_text, reason = split_chat_date(text)
        await request_extension(update, context, waiting.target, date_text, reason)
    elif waiting.kind == "extension_refuse":
        outcome = await decide_extension(update, context, int(waiting.target), approve=False, note=text)
        await send(update, f"已拒绝 <b>{esc(outcome.measure.code)}</b> 的延期申请，已通知申请人。")


async def on_reply_text(update: Update, context: BotContext, text: str) -> bool:
    """完成 as a reply to a card or reminder. Returns False when the message is not that."""
    message = update.effective_message
    if message is None:
        return False
    said = says_done(text)
    if said is None:
        return False
    codes = codes_in_reply(context, message)
    if not codes:
        return False
    if len(codes) > 1:
        if not is_private(update):
            await send(update, "这条消息里有多项措施，请发送 <code>/done 编号</code> 报告其中一项完成。")
            return True
        rows = [[InlineKeyboardButton(f"✅ {code} 完成", callback_data=encode(Action.DONE_ASK, Ref(key=code)))]
                for code in codes[:8]]
        await send(update, Reply("这条消息里有多项措施，请选择已完成的一项：", InlineKeyboardMarkup(rows)))
        return True
    await mark_done(update, context, codes[0], (said.group("note") or "").strip(), evidence=None)
    return True


@dataclass(frozen=True)
class Typed:
    """A change to one measure said in a plain message, as its command would say it."""

    action: Literal["done", "undo", "trail", "progress", "extend", "withdraw", "verify", "reject", "approve",
                    "refuse", "unclear"]
    code: str
    text: str = ""  # done, verify: the note; progress: the progress; extend, reject, refuse: the reason
    date: str = ""  # extend: the new deadline as typed


#: "进展：招生片区已重新划定" after a code: progress to record, not a question on it.
#: A space does as a colon (ZG2025009进展 主体已封顶), and staff who mix in English write progress:.
_PROGRESS = re.compile(r"(?:(?:最新)?(?:进展|进度)(?:情况)?|progress|update)(?:\s*[：:，,]\s*|\s+)(?P<text>\S.+)",
                       re.DOTALL | re.IGNORECASE)
#: A progress text that is a question after all (进展，怎么样了 / 进度：到哪一步了？).
_ASKED = re.compile(r"[吗么?？]|怎么样|如何|咋样|多少|哪|什么|啥|了没|没有$|没$")
#: A leader's sign-off ("同意销号", "可以销号") or return ("退回，佐证材料不全"): as the 销号 and
#: 退回 buttons. Never a bare 同意/不同意, which in reply to an extension request means that.
SIGN_OFF = re.compile(r"(?:(?:同意|准予|可以|确认)?[销消]号(?:了|吧)?|(?:审核|验收)通过|通过验收|同意验收)[。！!.\s]*")
RETURN = re.compile(r"(?:退回|驳回|打回)去?(?:[，,：:；;。.\s]*(?:(?:原因|理由)(?:是)?\s*[：:]?\s*)?(?P<reason>.*))?",
                    re.DOTALL)
#: An admin's decision on the measure's extension request: "同意延期", "不同意延期，资金已到位".
EXTENSION_DECISION = re.compile(
    r"(?P<no>不)?(?:同意|批准)(?:延期|延长)(?:申请)?(?:[，,：:；;。.\s]+(?:(?:原因|理由)(?:是)?\s*[：:]?\s*)?(?P<note>.*))?",
    re.DOTALL)
#: "申请延期到2027年1月31日，工程还没验收" / "延期至2027-01-31 原因：…".
_EXTEND = re.compile(EXTENSION_VERB + DATE_AND_REASON, re.DOTALL)
#: An extension asked for with no date we can read (申请延期，资金没到位 / 申请延期到下半年).
_EXTEND_UNDATED = re.compile(r"(?:我)?(?:要|想)?申请(?:延期|延长|推迟|顺延).*", re.DOTALL)
#: What follows a date when the message asks rather than requests (延期到6月底可以吗).
#: Or states a fact (延期3天了).
_MAY_I = re.compile(r"(?:可以|可不可以|行|行不行|能|能不能|好|是不是)?[吗么嘛呢不了啦]?[?？。！!]*")


def typed_action(context: BotContext, text: str) -> Typed | None:
    """One measure code and what is to be done with it, as a plain message to the bot:
    "ZG2025009 完成了" / "已完成 zg-2025-9，材料已上报" (see DONE_WORDS), "ZG2025009 进展：…",
    "ZG2025009 申请延期到2027年1月31日，…". None for anything else, questions included
    ("ZG2025009 完成了吗", "ZG2025009 完成情况", "ZG2025009 进展怎么样")."""
    codes = context.services.answers.find_codes(text)
    if len(codes) != 1:
        return None
    plain = unicodedata.normalize("NFKC", text)
    run = next((r for r in _CODE_RUN.finditer(plain) if context.services.answers.find_codes(r.group(0)) == codes),
               None)
    if run is None:
        return None
    # Read with traditional characters simplified (已經完成, 進展) and full-width forms folded; what
    # is kept (the note, the reason) is then cut from the message as typed (`_as_typed`).
    joined = f"{plain[:run.start()]} {plain[run.end():]}"
    start, end = len(joined) - len(joined.lstrip()), len(joined.rstrip())
    rest = to_simplified(joined[start:end])
    original = f"{text[:run.start()]} {text[run.end():]}"[start:end] if len(plain) == len(text) else rest
    return _as_typed(_typed_after_code(codes[0], rest), rest, original)


def _as_typed(typed: Typed | None, read: str, typed_text: str) -> Typed | None:
    """`typed` with its text punctuated as the user typed it (the 台账 keeps ，not ,), in simplified
    characters as the 台账 is written: `read` is `typed_text` folded character for character, so a
    span of one is the same span of the other."""
    if typed is None or not typed.text or len(read) != len(typed_text):
        return typed
    at = read.rfind(typed.text)
    return typed if at < 0 else replace(typed, text=to_simplified(typed_text[at:at + len(typed.text)]))


def _typed_after_code(code: str, rest: str) -> Typed | None:
    said = DONE_WORDS.match(rest)
    if said:
        return Typed("done", code, (said.group("note") or "").strip())
    if WITHDRAW_EXTENSION.fullmatch(rest):
        return Typed("withdraw", code)
    if UNDO_WORDS.fullmatch(rest):
        return Typed("undo", code)
    if TRAIL_WORDS.fullmatch(rest):
        return Typed("trail", code)
    judged = judgement(code, rest)
    if judged is not None:
        return judged
    return progress_or_extension(code, rest)


def progress_or_extension(code: str, rest: str) -> Typed | None:
    """进展：… or 申请延期到…，原因：… said of `code` (after it, or in reply to its card)."""
    progress = _PROGRESS.fullmatch(rest)
    if progress and not _ASKED.search(progress.group("text")):
        return Typed("progress", code, progress.group("text").strip())
    extend = _EXTEND.fullmatch(rest)
    if extend:
        reason = extend.group("reason").strip()
        if reason and _MAY_I.fullmatch(reason):
            return None  # a question about extending, for the answer engine
        return Typed("extend", code, reason, extend.group("date"))
    if _EXTEND_UNDATED.fullmatch(rest) and not _ASKED.search(rest):
        return Typed("extend", code, rest)
    return None


def judged_in_reply(context: BotContext, message: Message, text: str) -> Typed | None:
    """同意销号 / 退回，… said in reply to the card or notification of one measure; a bare 同意 there
    is unclear (sign-off? the extension asked for?) and gets asked what is meant."""
    codes = codes_in_reply(context, message)
    if len(codes) != 1:
        return None
    typed = text.strip()
    said = to_simplified(typed)
    if _BARE_YES_OR_NO.fullmatch(said):
        return Typed("unclear", codes[0])
    if WITHDRAW_EXTENSION.fullmatch(said):
        return Typed("withdraw", codes[0])
    if UNDO_WORDS.fullmatch(said):
        # 撤回 is 撤回完成, except in reply to the confirmation of an extension request just made.
        replied = message.reply_to_message
        submitted = replied is not None and _SUBMITTED.match(replied.text or "") is not None
        return Typed("withdraw" if submitted else "undo", codes[0])
    # 进展：… or 申请延期到… in reply to the card: recorded as if typed after its code.
    return _as_typed(judgement(codes[0], said) or progress_or_extension(codes[0], said), said, typed)


#: Words of a decision without what is decided (not 好的/收到: a reminder acknowledged).
_BARE_YES_OR_NO = re.compile(r"(?:同意|不同意|批准|不批准|准予|通过|不通过)[。！!.\s]*")


def judgement(code: str, said: str) -> Typed | None:
    """销号 or 退回 said of `code` (typed after it, or in reply to its card or notification)."""
    if SIGN_OFF.fullmatch(said):
        return Typed("verify", code)
    decided = EXTENSION_DECISION.fullmatch(said)
    if decided:
        return Typed("refuse" if decided.group("no") else "approve", code, (decided.group("note") or "").strip())
    returned = RETURN.fullmatch(said)
    return Typed("reject", code, (returned.group("reason") or "").strip()) if returned else None


async def act_typed(update: Update, context: BotContext, typed: Typed) -> None:
    if typed.action == "done":
        await mark_done(update, context, typed.code, typed.text, evidence=None)
    elif typed.action == "undo":
        await undo_done(update, context, typed.code)
    elif typed.action == "withdraw":
        await withdraw_extension(update, context, typed.code)
    elif typed.action == "trail":
        await show_trail(update, context, typed.code)
    elif typed.action == "verify":
        await verify(update, context, typed.code, typed.text)
    elif typed.action in ("approve", "refuse"):
        await decide_extension_of(update, context, typed)
    elif typed.action == "unclear":
        await send(update, f"请说明对 <b>{esc(typed.code)}</b> 要做什么：销号请回复“同意销号”，退回请回复“退回，原因”；"
                           "延期申请请回复“同意延期”或“不同意延期，理由”。")
    elif typed.action == "reject":
        if not typed.text:
            raise InvalidInput(f"请同时写明退回原因，例如：{typed.code} 退回，佐证材料不全")
        await reject(update, context, typed.code, typed.text)
    elif typed.action == "progress":
        await add_progress(update, context, typed.code, typed.text)
    elif typed.action == "extend":
        if not typed.date:
            raise InvalidInput(f"请写明延期到哪一天，例如：{typed.code} 申请延期到2027-03-31"
                               "（或“明年3月底”“延期一个月”），原因：资金尚未到位")
        if not typed.text:
            # 延期两周 → 申请延期两周; 2027年3月31日 → 申请延期到2027年3月31日.
            to = "" if re.match(r"\s*(?:延期|推迟|延长)", typed.date) or _SPAN_WORDS.search(typed.date) else "到"
            raise InvalidInput(f"请同时写明延期理由，例如：{typed.code} 申请延期{to}{typed.date.strip()}，"
                               "原因：资金尚未到位")
        await request_extension(update, context, typed.code, typed.date, typed.text)


#: By how much rather than until when (两周, 一个月, 3天): 申请延期两周, not 申请延期到两周.
_SPAN_WORDS = re.compile(r"^\s*[0-9一二两三四五六七八九十半几]+\s*(?:个\s*)?(?:月|周|星期|礼拜|天|年)\s*$")

#: How a code is typed (ZG2025009, zg-2025-9, 2025009), after NFKC: see text.code_candidates.
_CODE_RUN = re.compile(r"[a-z]{0,8}[\s\-_/#.]*[0-9]+(?:[\s\-_/#.]+[0-9]+)*", re.IGNORECASE)


#: Most measures offered by a chooser (a phone shows about this many buttons without scrolling).
CHOOSER_LIMIT = 8


@dataclass(frozen=True)
class _Choice:
    """What a bare 完成 / 撤回 / 申请延期 / 报进展 offers: the cadre's measures it can apply to, as buttons."""

    action: Action
    label: tuple[str, str]  # around the code on each button: ✅ ZG2025009 完成
    question: str
    hint: str
    nothing: str | None  # said when there is nothing to offer; None: answer it as a question instead


_CHOICES: dict[str, _Choice] = {
    "done": _Choice(Action.DONE_ASK, ("✅", "完成"), "要报告哪一项已完成？",
                    "也可以回复措施卡片说“已完成”，或发送 <code>/done 编号 说明</code>（说明和照片可一并附上）。",
                    "您目前没有待完成的整改措施。要报告其他措施完成，请发送 <code>/done 编号 说明</code>。"),
    "undo": _Choice(Action.DONE_UNDO, ("↩️", "撤回完成"), "要撤回哪一项的完成报告？", "",
                    "您目前没有等待销号、可以撤回的完成报告。"),
    "withdraw": _Choice(Action.EXTEND_WITHDRAW, ("↩️", "撤回延期申请"), "要撤回哪一项的延期申请？", "",
                        "您目前没有待审批、可以撤回的延期申请。"),
    "extend": _Choice(Action.EXTEND, ("⏰", "申请延期"), "要为哪一项申请延期？",
                      "也可以发送“编号 申请延期到2027-03-31，原因：……”。", None),
    "progress": _Choice(Action.PROGRESS, ("📝", "进展"), "要填报哪一项的进展？", "也可以发送“编号 进展：……”。", None),
}


def bare_action(text: str) -> str | None:
    """完成 / 撤回 / 撤回延期申请 / 申请延期 / 报进展 said with no measure named (a key of _CHOICES),
    or None."""
    if says_done(text):
        return "done"
    for kind, pattern in (("undo", UNDO_WORDS), ("withdraw", WITHDRAW_EXTENSION), ("extend", EXTEND_ALONE),
                          ("progress", PROGRESS_ALONE)):
        if pattern.fullmatch(text):
            return kind
    return None


async def offer_choice(update: Update, context: BotContext, kind: str) -> bool:
    """Which measure? The cadre's own it can apply to, as buttons (each then works as on the card),
    rather than reading 完成 or 申请延期 as a question about the rules. False when there is nothing
    to offer and the kind is then a question (申请延期: the rules on extensions)."""
    choice = _CHOICES[kind]
    async with transaction(context.services.factory) as session:
        cadre = await require_cadre(session, update)
        if kind == "withdraw":  # the requests they made, still undecided: a button names the request
            options = [(r.measure.code, encode(choice.action, r.id))
                       for r in await service.pending_extensions_of_requester(session, cadre.id)]
        else:
            if kind == "undo":
                measures = await service.undoable_reports(session, cadre.id)  # the reports they made
            else:
                measures = [m for m in await service.open_measures_of_owner(session, cadre.id)
                            if kind != "extend" or m.deadline is not None]
            options = [(m.code, encode(choice.action, Ref.of(m))) for m in measures]
    if not options:
        if choice.nothing is None:
            return False
        await send(update, choice.nothing)
        return True
    rows = [[InlineKeyboardButton(f"{choice.label[0]} {code} {choice.label[1]}", callback_data=data)]
            for code, data in options[:CHOOSER_LIMIT]]
    more = f"（共 {len(options)} 项，只列出前 {CHOOSER_LIMIT} 项）" if len(options) > CHOOSER_LIMIT else ""
    hint = f"\n{choice.hint}" if choice.hint else ""
    await send(update, Reply(f"{choice.question}请选择{more}：{hint}", InlineKeyboardMarkup(rows)))
    return True


async def on_media(update: Update, context: BotContext) -> None:
    """A photo or document: evidence for the measure named in its caption or in the replied card."""
    message = update.effective_message
    if message is None:
        return
    caption = (message.caption or "").strip()
    if not addressed_to_bot(update, context.services.bot_username) and not caption.startswith("/done"):
        return  # a group's own pictures and files
    if message.photo:
        evidence = Evidence("photo", message.photo[-1].file_id, None)
    elif message.video is not None:
        # 现场视频: a walk through the repaired building is evidence as a photo is.
        evidence = Evidence("video", message.video.file_id, message.video.file_name)
    elif message.document is not None:
        evidence = Evidence("document", message.document.file_id, message.document.file_name)
    else:
        return
    async with transaction(context.services.factory) as session:
        sender = await require_cadre(session, update)
    caption = re.sub(rf"@{re.escape(context.services.bot_username)}\b", " ", caption).strip() \
        if context.services.bot_username else caption
    codes = context.services.answers.find_codes(caption) or codes_in_reply(context, message)
    still_asked = False
    chat, user = update.effective_chat, update.effective_user
    if not codes and is_private(update) and chat is not None and user is not None:
        # A photo right after 📝 进展 (the bot asked for that measure's progress): for that measure;
        # its caption is the progress, and without one the progress is still to come.
        async with transaction(context.services.factory) as session:
            waiting = await pending.peek(session, chat.id, user.id)
            if waiting is not None and waiting.kind == "progress":
                codes = [waiting.target]
                if caption:
                    await pending.clear(session, chat.id, user.id)
                    caption = caption if _PROGRESS.fullmatch(caption) else f"进展：{caption}"
                still_asked = not caption
    if not codes:
        if is_private(update):
            # The example is one of the sender's own measures, so that it works as shown.
            async with transaction(context.services.factory) as session:
                own = await service.open_measures_of_owner(session, sender.id)
            what = {"photo": "照片", "video": "视频"}.get(evidence.kind, "文件")
            example = f"{esc(own[0].code)} 已完成" if own else "编号 已完成"
            await send(update, f"收到{what}。要作为佐证材料，请回复对应的措施卡片重新发送，或在说明中写明编号，"
                               f"例如 <code>/done {example}</code>。")
        return
    code = codes[0]
    command = re.match(r"/done(@\w+)?(\s|$)", caption)
    note = caption[command.end():] if command else caption
    for typed in context.services.answers.find_codes(note):
        note = note.replace(typed, "")
    note = re.sub(r"(?i)zg[-\s]*\d[\d\s-]*", "", note).strip()
    said = DONE_WORDS.match(note)
    wants_done = command is not None or said is not None
    if command is None and said is not None:
        note = (said.group("note") or "").strip()  # "ZG2025004 已完成，见照片" → 见照片
    if wants_done:
        await mark_done(update, context, code, note, evidence)
        return
    # "ZG2025005 进展：第二批已立项" on a photo: the evidence, and the progress it reports.
    reported = progress_or_extension(code, note)
    progress_text = reported.text if reported is not None and reported.action == "progress" else ""
    services = context.services
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        transition = await service.add_evidence(session, cadre.id, code, evidence,
                                                None if progress_text else note or None)
        await notify.queue_transition(session, "evidence", transition)
        if progress_text:
            transition = await service.add_progress(session, cadre.id, code, progress_text)
    if progress_text:
        _sync_index(context, transition.measure)
    deliver_soon(context)
    saved = f"已将{service.EVIDENCE_NAMES[evidence.kind]}作为 <b>{esc(code)}</b> 的佐证材料保存"
    if progress_text:
        saved += f"，进展已更新：{esc(progress_text)}"
    if still_asked:
        await send(update, f"{saved}。请接着输入最新进展（发送 /cancel 取消）。")
    elif transition.measure.status is MeasureStatus.DONE:
        await send(update, f"{saved}。分管领导审核销号时可以看到。")
    else:
        await send(update, f"{saved}。完成后请发送 /done 编号，或回复卡片“已完成”。")


async def decide_extension_of(update: Update, context: BotContext, typed: Typed) -> None:
    """同意延期 / 不同意延期，理由 said of a measure: its pending request, decided as by the buttons."""
    if typed.action == "refuse" and not typed.text:
        raise InvalidInput(f"请同时写明不同意的理由，例如：{typed.code} 不同意延期，资金已到位")
    async with transaction(context.services.factory) as session:
        request_id = (await service.pending_extension_of(session, typed.code)).id
    outcome = await decide_extension(update, context, request_id, approve=typed.action == "approve", note=typed.text)
    if typed.action == "approve":
        await send(update, f"已同意 <b>{esc(outcome.measure.code)}</b> 的延期申请（→ "
                           f"{render.cn_date(outcome.request.new_deadline)}），已通知申请人。")
    else:
        await send(update, f"已拒绝 <b>{esc(outcome.measure.code)}</b> 的延期申请，已通知申请人。")


async def decide_extension(update: Update, context: BotContext, request_id: int, *, approve: bool,
                           note: str) -> ExtensionOutcome:
    """An admin's decision on an extension request; the requester (and owner) are told."""
    services = context.services
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        outcome = await service.decide_extension(session, cadre.id, request_id, approve, note or None,
                                                 services.today())
        await notify.queue_extension(session, outcome)
    _sync_index(context, outcome.measure)
    deliver_soon(context)
    return outcome


# ---- buttons --------------------------------------------------------------------------------------

async def ask_for(update: Update, context: BotContext, kind: str, target: str, prompt: str) -> None:
    """Ask a question whose answer is the user's next message in this chat (kept in the database)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    async with transaction(context.services.factory) as session:
        row = await pending.expect(session, chat.id, user.id, kind, target)
        row_id = row.id
    sent = await send(update, prompt + "\n（发送 /cancel 取消）")
    if sent is not None:
        async with transaction(context.services.factory) as session:
            await pending.set_prompt(session, row_id, sent.message_id)


#: What each button that starts a change needs to be allowed now (the services decide it).
_NEEDS = {
    Action.DONE_ASK: service.Action.DONE,
    Action.PROGRESS: service.Action.PROGRESS,
    Action.EXTEND: service.Action.EXTEND,
    Action.REJECT: service.Action.REJECT,
}


async def button(update: Update, context: BotContext, callback: Callback, cadre: Cadre) -> Pressed:
    """Measure and extension buttons: the new content of the pressed message and a toast.

    A button that no longer fits the measure (closed meanwhile, pressed twice) changes nothing:
    the message is refreshed to show how things stand and the toast says why.
    """
    try:
        try:
            return await _button(update, context, callback, cadre)
        except ConflictError:
            # Changed at this very moment (a double tap): once more, against the state that won.
            return await _button(update, context, callback, cadre)
    except InvalidTransition as error:
        return await _as_it_stands(update, context, callback, cadre, str(error))


async def _button(update: Update, context: BotContext, callback: Callback, cadre: Cadre) -> Pressed:
    services = context.services
    if callback.action in (Action.EXTEND_APPROVE, Action.EXTEND_REFUSE, Action.EXTEND_WITHDRAW):
        return await _extension_button(update, context, callback, cadre)
    async with transaction(services.factory) as session:
        measure = await measure_of_button(session, callback.ref)
        code = measure.code
        if callback.action is Action.MEASURE:
            return Pressed(card(context, update, measure, cadre))
        if callback.action is Action.MEASURE_OPEN:
            return Pressed(card(context, update, measure, cadre), new_message=True)
        if callback.action is Action.TRAIL:
            if not is_private(update):
                raise InvalidInput(TRAIL_IN_PRIVATE)
            reply, files = await trail_of(context, session, cadre, code)
            return Pressed(reply, new_message=True, attachments=files)
        if callback.action is Action.DONE_NO:
            return Pressed(card(context, update, measure, cadre), "已取消")
        needed = _NEEDS.get(callback.action)
        if needed is not None:
            view = await service.view_measure(session, cadre.id, code)
            if needed not in view.actions:
                raise _refusal(needed, view, cadre)
        if callback.action is Action.DONE_ASK:
            base = card(context, update, measure, cadre)
            return Pressed(Reply(f"确认 <b>{esc(code)}</b> 已完成吗？确认后将通知分管领导审核销号。\n\n{base.html}",
                                 done_confirm_keyboard(measure)))
        if callback.action is Action.VERIFY:
            # One tap away from a change nobody can take back: confirmed first, as 完成 is.
            await service.check_verify(session, cadre.id, code)
            base = card(context, update, measure, cadre)
            return Pressed(Reply(f"确认为 <b>{esc(code)}</b> 销号吗？销号后不能撤回，将通知责任人。\n\n{base.html}",
                                 verify_confirm_keyboard(measure)))
        if callback.action is Action.DONE_YES:
            transition = await service.mark_done(session, cadre.id, code, None, None, services.today())
            what, toast = "done", "已报告完成，等待审核销号"
        elif callback.action is Action.DONE_UNDO:
            transition = await service.undo_done(session, cadre.id, code)
            what, toast = "undo", "已撤回完成报告"
        elif callback.action is Action.VERIFY_YES:
            transition = await service.verify(session, cadre.id, code, None, services.today())
            what, toast = "verify", "已销号"
        else:
            transition = None
        if transition is not None:
            await notify.queue_transition(session, what, transition)
            reply = card(context, update, transition.measure, cadre)
    if transition is not None:
        _sync_index(context, transition.measure)
        deliver_soon(context)
        return Pressed(reply, toast)
    await _ask(update, context, callback.action, code, measure.deadline)
    return Pressed()


def _example_deadline(deadline: dt.date | None, today: dt.date) -> str:
    """A date the extension prompt can show as an example: a month past the deadline (or today),
    so that the example would itself be accepted."""
    return add_months(max(deadline or today, today), 1).isoformat()


async def _ask(update: Update, context: BotContext, action: Action, code: str,
               deadline: dt.date | None = None) -> None:
    """What 退回, 📝 进展 and ⏰ 申请延期 need to be typed: asked for, the answer is the next message."""
    if action is Action.REJECT:
        await ask_for(update, context, "reject", code, f"请输入退回 <b>{esc(code)}</b> 的原因：")
    elif action is Action.PROGRESS:
        await ask_for(update, context, "progress", code, f"请输入 <b>{esc(code)}</b> 的最新进展：")
    elif action is Action.EXTEND:
        await ask_for(update, context, "extend", code,
                      f"请输入 <b>{esc(code)}</b> 的新完成时限和理由，例如：\n"
                      f"<code>{_example_deadline(deadline, context.services.today())} 资金尚未到位</code>\n"
                      "也可以写“明年3月底，……”或“延期一个月，……”")


async def ask_rest(update: Update, context: BotContext, action: Action, code: str) -> None:
    """A command naming only the measure (/reject ZG2025013): as its button, if allowed now."""
    async with transaction(context.services.factory) as session:
        cadre = await require_cadre(session, update)
        view = await service.view_measure(session, cadre.id, code)
        if _NEEDS[action] not in view.actions:
            raise _refusal(_NEEDS[action], view, cadre)
    await _ask(update, context, action, code, view.measure.deadline)


def _refusal(needed: service.Action, view: service.MeasureView, cadre: Cadre) -> PermissionDenied | InvalidTransition:
    """Why a button that starts a change may not be used now (worded as the services word it)."""
    measure, code, status = view.measure, view.measure.code, view.measure.status
    if needed is service.Action.REJECT:
        if not service.may_judge(cadre, measure):
            return PermissionDenied(f"只有 {code} 的分管领导{service.named(measure.leader)}或管理员可以退回")
        if status is MeasureStatus.CLOSED:
            return InvalidTransition(f"{code} 已销号，不能退回")
        return InvalidTransition(f"{code} 尚未报告完成（当前状态：{status.label}），无需退回")
    if needed is service.Action.EXTEND:
        if not service.may_request_extension(cadre, measure):
            return PermissionDenied(f"只有 {code} 的责任人或分管领导可以申请延期")
        if status is MeasureStatus.CLOSED:
            return InvalidTransition(f"{code} 已销号，无需申请延期")
        if status is MeasureStatus.DONE:
            return InvalidTransition(f"{code} 已报告完成，无需申请延期")
        request = view.pending_extension
        if request is not None:
            return InvalidTransition(service.already_pending(code, request, cadre.id))
        return InvalidTransition(f"{code} 已有一条待审批的延期申请，请等待管理员处理")
    progress = needed is service.Action.PROGRESS
    if not service.may_work_on(cadre, measure):
        what = "填报进展" if progress else "报告完成"
        return PermissionDenied(f"{code} 的责任人是{measure.owner.name}，您不能{what}")
    if status is MeasureStatus.CLOSED:
        return InvalidTransition(f"{code} 已销号，{'不能再填报进展' if progress else '无需重复操作'}")
    return InvalidTransition(f"{code} 已报告完成，正在等待销号{'，不能再填报进展' if progress else ''}")


async def _extension_button(update: Update, context: BotContext, callback: Callback, cadre: Cadre) -> Pressed:
    if callback.request_id is None:
        raise NotFound("按钮已过期，请重新查询")
    if callback.action is Action.EXTEND_APPROVE:
        outcome = await decide_extension(update, context, callback.request_id, approve=True, note="")
        text, _ = notify.extension_message(outcome.request, outcome.measure)
        return Pressed(Reply(text), "已同意延期")
    if callback.action is Action.EXTEND_WITHDRAW:
        # The service checks, under the measure's lock, that this very request is still pending.
        reply = await withdraw_extension(update, context, None, request_id=callback.request_id)
        return Pressed(reply, "已撤回延期申请")
    async with transaction(context.services.factory) as session:
        # The same checks as the decision itself, before asking for a reason.
        if cadre.role is not Role.ADMIN:
            raise PermissionDenied("只有管理员可以审批延期申请")
        request = await service.get_extension(session, callback.request_id)
        service.check_undecided(request)
        if request.requested_by_id == cadre.id:
            raise PermissionDenied("不能审批自己提出的延期申请，请由其他管理员处理")
        code = request.measure.code
    await ask_for(update, context, "extension_refuse", str(callback.request_id),
                  f"请输入不同意 <b>{esc(code)}</b> 延期的理由：")
    return Pressed()


async def _as_it_stands(update: Update, context: BotContext, callback: Callback, cadre: Cadre,
                        why: str) -> Pressed:
    """The pressed message refreshed to the current state, and why nothing was done."""
    async with transaction(context.services.factory) as session:
        if callback.request_id is not None:
            request = await session.get(ExtensionRequest, callback.request_id)
            if request is None:
                return Pressed(None, why)
            text, buttons = notify.extension_message(request, request.measure)
            return Pressed(Reply(text, markup(buttons)), why)
        try:
            measure = await measure_of_button(session, callback.ref)
        except NotFound:
            return Pressed(None, why)
        return Pressed(card(context, update, measure, cadre), why)
