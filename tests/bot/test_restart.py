"""Buttons keep working after the bot restarts: their data names the item, not a session."""

from __future__ import annotations

import pytest

from bot.models import MeasureStatus
from bot.sandbox import Sandbox
from tests.bot.conftest import running_bot


async def test_buttons_sent_before_a_restart_work_after_it(seeded_url: str, sandbox: Sandbox,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_bot(seeded_url, sandbox, monkeypatch) as first:
        owner = await first.bind("张伟")
        card = await first.one(owner, "ZG2025009 进展")
        asking = await first.press(owner, card, "完成")
        assert "确认" in asking.text
    # A new process: nothing of the first one's memory survives.
    async with running_bot(seeded_url, sandbox, monkeypatch) as second:
        done = await second.press(owner, asking, "确认完成")
        assert "待销号" in done.text
        assert (await second.measure("ZG2025009")).status is MeasureStatus.DONE


async def test_a_question_asked_before_a_restart_is_answered_after_it(seeded_url: str, sandbox: Sandbox,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_bot(seeded_url, sandbox, monkeypatch) as first:
        leader = await first.bind("陈建华")
        card = await first.one(leader, "ZG2025013 进展")  # 已完成, awaiting his sign-off
        await first.press(leader, card, "退回")
        [prompt] = await sandbox.wait_for_messages(leader.id)
        assert "原因" in prompt.text
    async with running_bot(seeded_url, sandbox, monkeypatch) as second:
        await second.say(leader, "佐证材料不全")
        measure = await second.measure("ZG2025013")
        assert measure.status is MeasureStatus.IN_PROGRESS
        assert (await second.events("ZG2025013"))[-1].note == "佐证材料不全"
