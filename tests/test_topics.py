"""What the bot last answered in a private chat (bot.services.topics), for follow-ups typed
without reply: which messages read as follow-ups, and the one row per chat on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.db import SessionFactory, transaction
from bot.models import ChatTopic
from bot.services import topics
from bot.services.topics import FollowUp, Topic

NOW = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
CHAT = 5_000_001
RULES = Topic("《市教育局工作规程》", 7)
MEASURE = Topic("ZG2025004", None)


@pytest.mark.parametrize(("text", "kind"), [
    ("第五条", FollowUp.ARTICLE), ("那第5条呢？", FollowUp.ARTICLE), ("第十二條說的什麼", FollowUp.ARTICLE),
    ("下一条", FollowUp.STEP), ("那上一条呢", FollowUp.STEP), ("後一條", FollowUp.STEP),
    ("谁负责？", FollowUp.MEASURE), ("什么时候到期", FollowUp.MEASURE), ("进展怎么样了", FollowUp.MEASURE),
])
def test_a_message_that_cannot_stand_on_its_own_is_a_follow_up(text: str, kind: FollowUp) -> None:
    assert topics.follow_up(text) is kind


@pytest.mark.parametrize("text", [
    "请假超过三天要谁批", "今天天气怎么样", "谢谢", "第五条规定的请假要谁批准才能走",
    # A long message about a measure says enough to be a question of its own.
    "港南区中小学教师政策性补贴的责任单位是哪一个",
])
def test_a_question_of_its_own_is_no_follow_up(text: str) -> None:
    assert topics.follow_up(text) is None


def test_a_step_says_which_way() -> None:
    assert [topics.step(t) for t in ("上一条", "前一条", "下一条", "那后一条呢", "第五条")] == [-1, -1, 1, 1, None]


def test_an_article_follows_up_on_rules_and_a_particular_on_a_measure() -> None:
    assert topics.fits(FollowUp.ARTICLE, RULES) and topics.fits(FollowUp.STEP, RULES)
    assert not topics.fits(FollowUp.MEASURE, RULES)
    assert topics.fits(FollowUp.MEASURE, MEASURE)
    assert not topics.fits(FollowUp.ARTICLE, MEASURE) and not topics.fits(FollowUp.STEP, MEASURE)
    # A step needs an article to step from (the answer was a whole regulation).
    assert not topics.fits(FollowUp.STEP, Topic("《市教育局工作规程》", None))


async def test_the_last_answer_replaces_the_one_before_and_is_forgotten_after_a_while(
        factory: SessionFactory) -> None:
    async with transaction(factory) as session:
        await topics.remember(session, CHAT, RULES.scope, RULES.article, now=NOW)
    async with transaction(factory) as session:
        await topics.remember(session, CHAT, MEASURE.scope, None, now=NOW + dt.timedelta(minutes=1))
    async with transaction(factory) as session:
        assert await session.scalar(select(func.count()).select_from(ChatTopic)) == 1
        assert await topics.recent(session, CHAT, now=NOW + dt.timedelta(minutes=2)) == MEASURE
        late = NOW + dt.timedelta(minutes=1) + topics.FOLLOW_UP_WITHIN + dt.timedelta(seconds=1)
        assert await topics.recent(session, CHAT, now=late) is None
        assert await topics.recent(session, CHAT + 1, now=NOW) is None


async def test_two_answers_in_one_chat_at_once_both_succeed(factory: SessionFactory) -> None:
    async def answer(scope: str) -> None:
        async with transaction(factory) as session:
            await topics.remember(session, CHAT, scope, None, now=NOW)

    await asyncio.gather(answer("ZG2025001"), answer("ZG2025002"))
    async with transaction(factory) as session:
        topic = await topics.recent(session, CHAT, now=NOW)
    assert topic is not None and topic.scope in ("ZG2025001", "ZG2025002")
