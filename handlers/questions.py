"""Free-text questions, /regs, and the regulation/article/suggestion buttons."""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot.app import BotContext
from bot.db import transaction
from bot.errors import NotFound
from bot.models import Cadre, Regulation
from bot.services import topics
from bot.services.answers import Answer, Hit, SmallTalk, record_miss
from bot.services.phrasing import AnswerFacts, ArticleFacts, load_answer_facts
from handlers import render
from handlers.callbacks import Action, Callback, Ref, encode
from handlers.common import NOT_BOUND, Pressed, addressed_to_bot, current_cadre, is_private, measure_of_button, send
from handlers.onboarding import help_text
from handlers.render import Reply

log = logging.getLogger(__name__)

#: Longest question taken as is; beyond it the start is answered and the user told.
MAX_QUESTION = 500
#: The answer to a message addressed to the bot that holds no question (a bare @mention).
ASK_SOMETHING = "请直接输入您的问题，例如：请假超过三天要谁批？发送 /help 查看说明。"
_MENTION = re.compile(r"@\w+")


#: How much less of the question the article replied to may account for than the best of its
#: siblings and still be the answer: 谁批准 under 第7条 (公车, 经主任批准) is about 第7条, even if
#: 第3条 (请假, 批准) says 批准 as well.
REPLIED_ARTICLE_SLACK = 0.15


def _prefer_article(answer: Answer, scope: str, article: int | None) -> Answer:
    """The answer within a regulation, with the article the question replies to first when it
    answers the question nearly as well as the best one."""
    if article is None or not answer.hits or answer.hits[0].no == article:
        return answer
    top = answer.hits[0].score
    for position, hit in enumerate(answer.hits):
        if hit.kind == "article" and hit.no == article and _within(hit, scope) \
                and hit.score >= top - REPLIED_ARTICLE_SLACK:
            return replace(answer, hits=[hit, *answer.hits[:position], *answer.hits[position + 1:]])
    return answer


async def answer_question(session: AsyncSession, context: BotContext, update: Update, cadre: Cadre, text: str,
                          *, scope: str = "", article: int | None = None, plain_first: bool = False) -> Reply:
    """`scope`: the regulation (《title》) or measure code the question replies to. It is asked within
    it first, and as it stands when that answers nothing within it (不对 under an article).
    `article`: the article number of the answer it replies to, preferred when it fits as well.
    `plain_first`: under a measure, a measure the question alone is answered with is the answer (a
    follow-up typed without reply: 港南区补贴谁负责 names its own measure)."""
    services = context.services
    today = services.today()
    answer = None
    if scope and not scope.startswith("《"):
        # Under a measure's card: 那覃塘区的呢 asks for another list, 按制度逾期了怎么处理 for a rule;
        # 谁负责 or 什么时候到期 (nothing of their own) ask of the measure itself.
        plain = services.answers.ask(text, asker=cadre.name, today=today)
        if plain.answered and (plain.listing is not None or plain.report is not None or (plain.hits and (
                (plain.hits[0].kind != "measure" and services.answers.asks_about_rules(text))
                or (plain_first and plain.hits[0].kind == "measure")))):
            answer = plain
    if scope and answer is None:
        step = topics.step(text) if article else None
        if step is not None and article is not None:
            # 上一条 / 下一条 under an article: its neighbour.
            text = f"第{article + step}条"
        scoped = services.answers.ask(f"{scope} {text}", asker=cadre.name, today=today)
        if scoped.answered and scoped.hits and _within(scoped.hits[0], scope):
            answer = _prefer_article(scoped, scope, article) if step is None else scoped
    if answer is None:
        answer = services.answers.ask(text, asker=cadre.name, today=today)
    if answer.small_talk is SmallTalk.HELP:
        return Reply(help_text(cadre))
    if answer.small_talk is SmallTalk.CATALOGUE:
        return render.regulation_index(await _regulations(session), 0)
    if answer.is_miss:
        await record_miss(session, text)
    elif is_private(update):
        await _note_topic(session, context, update, answer)
    facts = await load_answer_facts(session, answer, today=today, tz=services.settings.tz)
    reply = render.render_facts(facts, today, public=not is_private(update), viewer=cadre)
    if is_private(update) and _may_be_wrong(context, answer, text):
        return _with_feedback(reply)
    return reply


async def _note_topic(session: AsyncSession, context: BotContext, update: Update, answer: Answer) -> None:
    """Remember what a private answer was about, for a follow-up typed without reply (第五条呢)."""
    if (not answer.answered or not answer.hits or answer.listing is not None or answer.report is not None
            or answer.small_talk is not None or update.effective_chat is None):
        return
    hit = answer.hits[0]
    if hit.kind == "measure":
        await topics.remember(session, update.effective_chat.id, hit.key, None)
        return
    title = context.services.answers.regulation_titles.get(hit.key)
    if title:
        await topics.remember(session, update.effective_chat.id, f"《{title}》",
                              hit.no if hit.kind == "article" else None)


#: The button under an answer that missed the point; the question is read from the quoted message.
WRONG_BUTTON = "👎 没答对"
_WRONG_DATA = encode(Action.WRONG)
WRONG_NOTED = "已记下这个问题，管理员会补上正确的答案。您也可以换个说法再问一次。"


def _may_be_wrong(context: BotContext, answer: Answer, text: str) -> bool:
    """An answer the engine chose (a rule, or a measure it took the question to mean): not a
    list, the figures or small talk, and not a measure the question named by its code."""
    return (answer.answered and bool(answer.hits) and answer.listing is None and answer.report is None
            and answer.small_talk is None and not context.services.answers.find_codes(text))


def _with_feedback(reply: Reply) -> Reply:
    rows = [list(row) for row in reply.keyboard.inline_keyboard] if reply.keyboard else []
    rows.append([InlineKeyboardButton(WRONG_BUTTON, callback_data=_WRONG_DATA)])
    return Reply(reply.html, InlineKeyboardMarkup(rows), quote=True)


async def wrong_answer(update: Update, context: BotContext) -> Pressed:
    """👎 under an answer: its question goes to /misses (where an admin ties it to the right
    item), and the button goes, so that one answer is reported once."""
    query = update.callback_query
    message = query.message if query is not None else None
    asked = message.reply_to_message if isinstance(message, Message) else None
    question = without_mentions(asked.text or "") if asked is not None else ""
    if not question:
        return Pressed(toast="找不到原来的问题了，请换个说法再问一次。")
    async with transaction(context.services.factory) as session:
        await record_miss(session, question[:MAX_QUESTION])
    if isinstance(message, Message) and message.reply_markup is not None:
        rows = [[b for b in row if b.callback_data != _WRONG_DATA]
                for row in message.reply_markup.inline_keyboard]
        with contextlib.suppress(BadRequest):  # already changed by a double tap
            await message.edit_reply_markup(InlineKeyboardMarkup([row for row in rows if row]) if any(rows) else None)
    log.info("an answer was reported wrong")
    return Pressed(toast=WRONG_NOTED)


@dataclass(frozen=True)
class Question:
    """A text message's question to the bot, cut to MAX_QUESTION (`note` tells the user so)."""

    text: str
    note: str = ""
    scope: str = ""  # the regulation (《title》) or measure code of the bot's message it replies to
    article: int | None = None  # the article that message cites (《title》第7条)
    follow_up: topics.FollowUp | None = None  # not a reply, but reads as one (第五条呢): see `reply_to`


def without_mentions(text: str) -> str:
    """The text with @mentions (of the bot, in a group) taken out."""
    return _MENTION.sub(" ", text).strip()


def question_in(update: Update, context: BotContext) -> Question | str | None:
    """The question a text message puts to the bot: None when the message is not for the bot (a
    group message without a mention), a reply text when it holds no question (a bare @mention)."""
    message = update.effective_message
    if message is None or not message.text or not addressed_to_bot(update, context.services.bot_username):
        return None
    text = without_mentions(message.text)
    if not text:
        return ASK_SOMETHING
    note = ""
    if len(text) > MAX_QUESTION:
        text, note = text[:MAX_QUESTION], f"\n\n<i>（问题较长，只按前 {MAX_QUESTION} 个字回答）</i>"
    scope, article = _scope(context, message, text)
    # The shape first (a regex): most messages are no follow-up and need no search for codes.
    follow_up = topics.follow_up(text) if message.reply_to_message is None and is_private(update) else None
    if follow_up is not None and context.services.answers.find_codes(text):
        follow_up = None  # ZG2025009 谁负责 names its own measure
    return Question(text, note, scope, article, follow_up)


#: What the bot's answer or card is about, on its first line: 📘 《title》 / 《title》第3条… / 📋 ZG2025009.
_ABOUT_TITLE = re.compile(r"^(?:📘\s*)?(《[^》]{1,80}》)(?:第(\d+)条)?")
_ABOUT_CODE = re.compile(r"^📋\s*(\S{2,32})")


def _scope(context: BotContext, message: Message, text: str) -> tuple[str, int | None]:
    """What a question in reply to the bot's answer on a regulation or a measure is about: “第五条”
    or “那科长请假呢” under 《市教育局工作规程》 asks within it, “什么时候到期” under a measure's card
    asks of that measure — unless the question names its own ("" then); and the article number
    when the answer replied to is an article (《title》第7条)."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return "", None
    if context.services.answers.is_small_talk(text):
        return "", None  # 谢谢 under an answer thanks for it; it asks nothing within it
    first_line = (replied.text or "").split("\n", 1)[0]
    title = _ABOUT_TITLE.match(first_line)
    if title and "《" not in text:
        return title.group(1), int(title.group(2)) if title.group(2) else None
    code = _ABOUT_CODE.match(first_line)
    answers = context.services.answers
    carded = answers.find_codes(code.group(1)) if code else []
    return (carded[0] if carded and not answers.find_codes(text) else ""), None


def _within(hit: Hit, scope: str) -> bool:
    return hit.title.startswith(scope) if scope.startswith("《") else (hit.kind == "measure" and hit.key == scope)


async def reply_to(session: AsyncSession, update: Update, context: BotContext, question: Question,
                   cadre: Cadre | None) -> Reply | str:
    """The reply to `question` from `cadre` (None: not bound)."""
    if cadre is None:
        return NOT_BOUND
    scope, article, plain_first = question.scope, question.article, False
    if question.follow_up is not None and update.effective_chat is not None:
        # 第五条呢 / 下一条 / 谁负责 sent on its own soon after an answer: asked within that answer,
        # as if in reply to it.
        topic = await topics.recent(session, update.effective_chat.id)
        if topic is not None and topics.fits(question.follow_up, topic):
            scope, article = topic.scope, topic.article
            plain_first = question.follow_up is topics.FollowUp.MEASURE
    reply = await answer_question(session, context, update, cadre, question.text, scope=scope,
                                  article=article, plain_first=plain_first)
    return replace(reply, html=reply.html + question.note) if question.note else reply


async def ask(update: Update, context: BotContext) -> None:
    question = question_in(update, context)
    if question is None:
        return
    if isinstance(question, Question):
        async with transaction(context.services.factory) as session:
            reply = await reply_to(session, update, context, question, await current_cadre(session, update))
    else:
        reply = question
    await send(update, reply)


async def _regulations(session: AsyncSession) -> list[Regulation]:
    # In the order the bureau's file lists them (its own order), not by the ASCII keys.
    return list(await session.scalars(select(Regulation).order_by(Regulation.id)))


async def regs(update: Update, context: BotContext) -> None:
    async with transaction(context.services.factory) as session:
        if await current_cadre(session, update) is None:
            await send(update, NOT_BOUND)
            return
        reply = render.regulation_index(await _regulations(session), 0)
    await send(update, reply)


async def _regulation(session: AsyncSession, ref: Ref | None) -> Regulation:
    if ref is None:
        raise NotFound("找不到这部规章制度，请重新查询。")
    condition = Regulation.id == ref.id if ref.id is not None else Regulation.key == ref.key
    regulation = await session.scalar(select(Regulation).where(condition).options(selectinload(Regulation.articles)))
    if regulation is None:
        raise NotFound("找不到这部规章制度（可能已被删除），请重新查询。")
    return regulation


async def button(update: Update, context: BotContext, callback: Callback, cadre: Cadre) -> Reply | None:
    """Regulation, article, /regs page and suggestion buttons: returns the new message content."""
    async with transaction(context.services.factory) as session:
        if callback.action is Action.REG_PAGE:
            return render.regulation_index(await _regulations(session), callback.page or 0)
        if callback.action is Action.REGULATION:
            regulation = await _regulation(session, callback.ref)
            await _note_opened(session, update, f"《{regulation.title}》", None)
            return render.regulation_card(regulation)
        if callback.action is Action.ARTICLE:
            regulation = await _regulation(session, callback.ref)
            article = next((a for a in regulation.articles if a.no == callback.no), None)
            if article is None:
                return render.regulation_card(regulation, missing_article=callback.no)
            await _note_opened(session, update, f"《{regulation.title}》", article.no)
            return render.article_answer(regulation, article)
        if callback.action is Action.SUGGESTION:
            return await _suggestion(session, context, update, callback, cadre)
    return None


async def _note_opened(session: AsyncSession, update: Update, scope: str, article: int | None) -> None:
    """A regulation, article or measure opened by a button is what a follow-up is about (下一条)."""
    if is_private(update) and update.effective_chat is not None:
        await topics.remember(session, update.effective_chat.id, scope, article)


async def _suggestion(session: AsyncSession, context: BotContext, update: Update, callback: Callback,
                      cadre: Cadre) -> Reply:
    kind = callback.hit_kind
    today = context.services.today()
    if kind == "measure":
        measure = await measure_of_button(session, callback.ref)
        await _note_opened(session, update, measure.code, None)
        owner, verifier = render.viewer_rights(measure, cadre)
        public = not is_private(update)
        return render.measure_card(measure, today, public=public, owner=owner and not public,
                                   verifier=verifier and not public)
    regulation = await _regulation(session, callback.ref)
    await _note_opened(session, update, f"《{regulation.title}》", callback.no if kind == "article" else None)
    if kind == "article" and callback.no:
        article = next((a for a in regulation.articles if a.no == callback.no), None)
        facts = AnswerFacts(Answer("", True, [Hit("article", regulation.key, callback.no, "", 1.0)]),
                            article=ArticleFacts(regulation, article))
        return render.render_facts(facts, today)
    return render.regulation_card(regulation)
