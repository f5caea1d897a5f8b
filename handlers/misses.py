"""/misses: the questions the bot could not answer, and teaching it in the chat.

An admin opens a question's card, sees how the bot answers it now, and ties it to the
regulation, article or measure that should answer it (the question becomes an alternate
phrasing of that item, effective at once), names the item in words, or sets it aside.
The same as `zhenggai misses` and `zhenggai alias add`, without the server.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update

from bot.app import BotContext
from bot.db import transaction
from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.models import Cadre, Measure, Regulation
from bot.services.answers import Hit, count_misses, dismiss_miss, get_miss, list_misses, teach
from handlers import render
from handlers.callbacks import Action, Callback, hit_label, page_of, teach_rows
from handlers.common import NOT_BOUND, Pressed, current_cadre, is_admin, is_private, send
from handlers.measures import ask_for
from handlers.questions import MAX_QUESTION
from handlers.render import Reply, esc

log = logging.getLogger(__name__)

#: How many questions /misses lists (the most asked first).
SHOWN = 10
#: The kind of the bot's open question "which item answers it?" (see `bot.services.pending`).
PENDING_KIND = "teach"
ADMINS_ONLY = "只有管理员可以查看和处理未能回答的问题。"
ASK_TARGET = "请发送这个问题应归入的规章制度、条款或整改措施，例如：{examples}。"


async def _ask_target(session: AsyncSession) -> str:
    """How to name the item, with examples from this bureau's own regulations and measures."""
    title = await session.scalar(select(Regulation.title).order_by(Regulation.id).limit(1))
    code = await session.scalar(select(Measure.code).order_by(Measure.id).limit(1))
    examples = [f"“{title}第五条”", f"“{title}”"] if title else []
    examples += [f"“{code}”"] if code else []
    return ASK_TARGET.format(examples="、".join(examples) or "“某某制度第五条”")


def _require_admin(cadre: Cadre | None) -> Cadre:
    if cadre is None:
        raise PermissionDenied("您还没有绑定身份。")
    if not is_admin(cadre):
        raise PermissionDenied(ADMINS_ONLY)
    return cadre


async def misses_command(update: Update, context: BotContext) -> None:
    if not is_private(update):
        await send(update, "这些问题含同事的原话：请在与机器人的私聊中使用 /misses。")
        return
    async with transaction(context.services.factory) as session:
        cadre = await current_cadre(session, update)
        if cadre is None:
            await send(update, NOT_BOUND)
            return
        _require_admin(cadre)
        reply = await _page(session, context, 0)
    await send(update, reply)


#: The list kind of /misses' « 上一页 · 下一页 » buttons (`Action.LIST_PAGE`).
PAGE_KIND = render.MISSES_PAGE_KIND


async def _page(session: AsyncSession, context: BotContext, page: int) -> Reply:
    total = await count_misses(session)
    page, pages = page_of(total, SHOWN, page)
    misses = await list_misses(session, limit=SHOWN, offset=page * SHOWN)
    return render.misses_list(misses, total, context.services.settings.tz, page=page, pages=pages, per_page=SHOWN)


async def page(update: Update, context: BotContext, callback: Callback, cadre: Cadre) -> Pressed:
    """« 上一页 · 下一页 » under /misses: that page of the list as it is now."""
    _require_admin(cadre)
    async with transaction(context.services.factory) as session:
        return Pressed(await _page(session, context, callback.page or 0))


async def _ids(session: AsyncSession, hits: Sequence[Hit]) -> dict[tuple[str, str], int]:
    """Database ids of the hits' regulations and measures, for keys too long for a button."""
    keys = {h.key for h in hits if h.kind != "measure"}
    codes = {h.key for h in hits if h.kind == "measure"}
    ids: dict[tuple[str, str], int] = {}
    if keys:
        for key, id_ in await session.execute(select(Regulation.key, Regulation.id).where(Regulation.key.in_(keys))):
            ids[("regulation", key)] = ids[("article", key)] = id_
    if codes:
        for code, id_ in await session.execute(select(Measure.code, Measure.id).where(Measure.code.in_(codes))):
            ids[("measure", code)] = id_
    return ids


async def _card(session: AsyncSession, context: BotContext, cadre: Cadre, miss_id: int) -> Reply:
    miss = await get_miss(session, miss_id)
    answer = context.services.answers.ask(miss.query, asker=cadre.name, today=context.services.today())
    return render.miss_card(miss, answer, await _ids(session, answer.hits), context.services.settings.tz)


async def _target(session: AsyncSession, callback: Callback) -> Hit:
    """The item a 归入 button names, as a hit (its current key and title)."""
    kind, ref, no = callback.hit_kind, callback.ref, callback.no or 0
    if kind is None or ref is None:
        raise NotFound("按钮已过期，请重新查询")
    if kind == "measure":
        condition = Measure.id == ref.id if ref.id is not None else Measure.code == ref.key
        measure = await session.scalar(select(Measure).where(condition))
        if measure is None:
            raise NotFound("找不到这条整改措施（可能已被删除），请重新选择。")
        return Hit("measure", measure.code, None, f"{measure.code} {measure.problem[:60].rstrip('。；;，,. ')}", 1.0)
    condition = Regulation.id == ref.id if ref.id is not None else Regulation.key == ref.key
    regulation = await session.scalar(select(Regulation).where(condition))
    if regulation is None:
        raise NotFound("找不到这部规章制度（可能已被删除），请重新选择。")
    if kind == "article":
        return Hit("article", regulation.key, no, f"《{regulation.title}》第{no}条", 1.0)
    return Hit("regulation", regulation.key, None, regulation.title, 1.0)


async def _teach(context: BotContext, cadre: Cadre, callback: Callback) -> Pressed:
    miss_id = callback.miss_id or 0
    async with transaction(context.services.factory) as session:
        target = await _target(session, callback)
        await teach(session, miss_id, target.kind, target.key, article_no=target.no)
        miss = await get_miss(session, miss_id)
    # Committed first: the index reads the new phrasing from the database, as every instance will.
    async with transaction(context.services.factory) as session:
        await context.services.answers.refresh(session)
    log.info("cadre %s tied unanswered question %s to %s %s %s", cadre.id, miss_id, target.kind, target.key,
             target.no or "")
    answer = context.services.answers.ask(miss.query, asker=cadre.name, today=context.services.today())
    label = hit_label(target)
    return Pressed(render.taught(miss, label, answer, target), toast="已添加说法")


async def button(update: Update, context: BotContext, callback: Callback, cadre: Cadre) -> Pressed:
    """The /misses buttons (admins only): a question's card, 归入, ✏️ 指定其他, 🗑 忽略."""
    _require_admin(cadre)
    miss_id = callback.miss_id or 0
    if callback.action is Action.TEACH:
        return await _teach(context, cadre, callback)
    if callback.action is Action.TEACH_OTHER:
        async with transaction(context.services.factory) as session:
            await get_miss(session, miss_id)  # still there?
            prompt = await _ask_target(session)
        await ask_for(update, context, PENDING_KIND, str(miss_id), prompt)
        return Pressed()
    async with transaction(context.services.factory) as session:
        if callback.action is Action.MISS_DISMISS:
            miss = await dismiss_miss(session, miss_id)
            log.info("cadre %s set unanswered question %s aside", cadre.id, miss_id)
            return Pressed(Reply(f"🗑 已忽略：「{esc(render.truncate_text(miss.query, 300))}」\n"
                                 "它不再列在 /misses 中；再有人这样问，会重新列出。"), toast="已忽略")
        return Pressed(await _card(session, context, cadre, miss_id), new_message=True)


async def answer_pending(update: Update, context: BotContext, target: str, text: str) -> None:
    """The admin named, in words, the item that should answer unanswered question `target`:
    the bot finds it as it finds any question's answer, and offers it to confirm."""
    miss_id = int(target)
    async with transaction(context.services.factory) as session:
        cadre = _require_admin(await current_cadre(session, update))
        miss = await get_miss(session, miss_id)
        # Cut as any question is: a pasted article is no name of an item.
        answer = context.services.answers.ask(text[:MAX_QUESTION], asker=cadre.name, today=context.services.today())
        hits = [h for h in answer.hits if h.kind in ("regulation", "article", "measure")][:3]
        ids = await _ids(session, hits)
        prompt = await _ask_target(session)
    if not hits:
        await ask_for(update, context, PENDING_KIND, target,
                      f"没有找到“{esc(render.truncate_text(text, 40, one_line=True))}”对应的制度、条款或整改措施。"
                      + prompt)
        return
    rows = teach_rows(miss_id, hits, ids)
    if not rows:
        raise InvalidInput("这一项的名称过长，无法生成按钮，请用 zhenggai alias add 添加说法。")
    question = esc(render.truncate_text(miss.query, 100, one_line=True))
    await send(update, Reply(f"「{question}」归入哪一项？点选确认：", InlineKeyboardMarkup(rows)))
