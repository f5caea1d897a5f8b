"""What the bot last answered in a private chat, for follow-ups typed without using reply.

Staff ask 「请假要谁批」, read the article, then type 「第五条呢」 or 「下一条」 as a new message,
not as a reply to the answer. Only a follow-up that cannot stand on its own is asked within the
last answer: a bare article number or a step (上一条 / 下一条) after an answer on a regulation,
a short question on a measure's particulars (谁负责, 什么时候到期) after an answer on a measure.
Anything else is a new question, as it would be to a person.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ChatTopic, utcnow
from bot.services.text import compact

#: How long after an answer a bare follow-up is still taken to be about it.
FOLLOW_UP_WITHIN = dt.timedelta(minutes=30)
#: A follow-up on a measure is short: a longer message says enough to be a question of its own.
MEASURE_FOLLOW_UP_CHARS = 15

_NUMBER = r"[0-9零〇一二两三四五六七八九十百]+"
_WHAT = r"(呢|是什么|说的?什么|讲的?什么|怎么说|写的?什么|的内容)?"
_ARTICLE = re.compile(rf"(那|那么)?第{_NUMBER}条{_WHAT}")
_STEP = re.compile(rf"(那|那么)?(上|前|下|后)一条{_WHAT}")
#: A measure's particulars: who, until when, how far, in what state.
_MEASURE_ASKS = re.compile(r"谁负责|负责人|责任人|责任单位|哪个单位|哪个科室|谁分管|分管|领导是谁|到期|期限|截止|"
                           r"进展|进度|完成了|完成没|做完|逾期|超期|销号|状态|延期")


class FollowUp(StrEnum):
    ARTICLE = "article"  # 第五条呢: another article of the regulation just answered
    STEP = "step"  # 下一条: the article next to the one just answered
    MEASURE = "measure"  # 谁负责: a particular of the measure just answered


@dataclass(frozen=True)
class Topic:
    scope: str  # 《regulation title》 or a measure code
    article: int | None

    @property
    def is_regulation(self) -> bool:
        return self.scope.startswith("《")


def follow_up(text: str) -> FollowUp | None:
    """What kind of follow-up `text` is, if it cannot stand on its own."""
    said = compact(text)  # traditional, full-width, spaces and punctuation put aside
    if _ARTICLE.fullmatch(said):
        return FollowUp.ARTICLE
    if _STEP.fullmatch(said):
        return FollowUp.STEP
    if len(said) <= MEASURE_FOLLOW_UP_CHARS and _MEASURE_ASKS.search(said):
        return FollowUp.MEASURE
    return None


def step(text: str) -> int | None:
    """上一条 → -1, 下一条 → +1 (and 前一条, 后一条, 那下一条呢 …); None for anything else."""
    match = _STEP.fullmatch(compact(text))
    return None if match is None else (-1 if match.group(2) in "上前" else 1)


def fits(kind: FollowUp, topic: Topic) -> bool:
    """Whether a follow-up of this kind can be about this topic."""
    if kind is FollowUp.MEASURE:
        return not topic.is_regulation
    if kind is FollowUp.STEP:
        return topic.is_regulation and topic.article is not None
    return topic.is_regulation


async def remember(session: AsyncSession, chat_id: int, scope: str, article: int | None,
                   *, now: dt.datetime | None = None) -> None:
    """Note the bot's answer in this chat (one atomic upsert: two answers at once must not fail)."""
    await session.execute(_upsert(session.bind.dialect.name),
                          {"chat_id": chat_id, "scope": scope[:200], "article": article, "now": now or utcnow()})


async def recent(session: AsyncSession, chat_id: int, *, now: dt.datetime | None = None) -> Topic | None:
    """The bot's last answer in this chat, if it was recent enough to follow up on."""
    row = (await session.execute(select(ChatTopic).where(ChatTopic.chat_id == chat_id))).scalar_one_or_none()
    if row is None or row.answered_at < (now or utcnow()) - FOLLOW_UP_WITHIN:
        return None
    return Topic(row.scope, row.article)


@cache
def _upsert(dialect: str) -> Any:
    """remember's statement for this database, built once (see pending.sender on why)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ChatTopic).values(chat_id=bindparam("chat_id"), scope=bindparam("scope"),
                                         article=bindparam("article"), answered_at=bindparam("now"))
    return statement.on_conflict_do_update(
        index_elements=[ChatTopic.chat_id],
        set_={"scope": statement.excluded.scope, "article": statement.excluded.article,
              "answered_at": statement.excluded.answered_at},
    )
