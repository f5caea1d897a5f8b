"""Races: fifty changes of ONE measure at once — typed /done /verify /reject /extend and button
presses (with double taps) by its owner, its leader and an admin — sent to the bot before any
reply is awaited, so that PTB processes them concurrently (concurrent_updates) against SQLite
and PostgreSQL.

Whatever the interleaving, the measure must end in one consistent state: its events form a
valid chain of transitions (each one starts from the status the previous one left), its version
moved once per event, every success the users were told about is exactly one event, everyone
got exactly one clear answer per action (a success, or a refusal such as 已销号 / 已报告完成 /
刚刚被他人修改 — never an apology or a database error), and nothing else in the database changed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.db import transaction
from bot.models import Cadre, ExtensionRequest, ExtensionStatus, Measure, MeasureStatus, PendingInput
from bot.sandbox import SandboxUser
from handlers.callbacks import Action, Ref, encode
from tests.bot.conftest import Harness
from tests.hardening.bot_support import LogWatch, bot_on, problems_in, seeded_database, settle

CODE = "ZG2025009"  # owner 张伟, leader 陈建华; 进行中, due 2026-12-05
PEOPLE = {"owner": "张伟", "leader": "陈建华", "admin": "刘洋"}
ACTIONS = 50

#: What each typed command says when it succeeded (a refusal starts otherwise and names the measure).
COMMAND_SUCCESS = {"done": "已报告完成", "verify": "已销号。", "reject": "已退回", "extend": "已提交"}
#: The toast of a button that succeeded.
BUTTON_SUCCESS = {Action.DONE_YES: "已报告完成，等待审核销号", Action.DONE_UNDO: "已撤回完成报告",
                  Action.VERIFY_YES: "已销号"}
#: The event each success writes.
EVENT_OF = {"done": "done", "verify": "verify", "reject": "reject", "extend": "extend_request",
            Action.DONE_YES: "done", Action.DONE_UNDO: "undo", Action.VERIFY_YES: "verify"}
#: The refusals a loser may see (besides its own wording, each names the measure).
REFUSALS = ("已销号", "已报告完成", "刚刚被他人修改", "尚未报告完成", "没有可撤回的完成报告",
            "已有一条待审批的延期申请", "不能由您本人销号", "只有报告人可以撤回", "无需申请延期",
            "不能撤回", "不能退回")
#: Allowed transitions: action → (from statuses, to status); None: the status does not move.
TRANSITIONS = {
    "done": ({MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS}, MeasureStatus.DONE),
    "verify": ({MeasureStatus.DONE}, MeasureStatus.CLOSED),
    "reject": ({MeasureStatus.DONE}, MeasureStatus.IN_PROGRESS),
    "undo": ({MeasureStatus.DONE}, None),  # back to the open status it came from
    "extend_request": (set(MeasureStatus) - {MeasureStatus.DONE, MeasureStatus.CLOSED}, None),
}


@dataclass(frozen=True)
class Act:
    who: str  # owner | leader | admin
    kind: str  # a command name, or an Action of a button
    text: str = ""  # the command typed
    double: bool = False  # a button pressed twice in a row


def plan(seed: int, *, sign_off: bool = True) -> list[Act]:
    """ACTIONS actions in a random order: every kind each person may try on the measure (without
    销号 when not `sign_off`, so that the measure keeps going back and forth to the end)."""
    rng = random.Random(seed)
    menu = [
        ("owner", "done"), ("owner", "extend"), ("owner", Action.DONE_YES), ("owner", Action.DONE_UNDO),
        ("leader", "done"), ("leader", "verify"), ("leader", "reject"), ("leader", "extend"),
        ("leader", Action.VERIFY_YES), ("leader", Action.DONE_YES), ("leader", Action.DONE_UNDO),
        ("admin", "done"), ("admin", "verify"), ("admin", "reject"), ("admin", Action.VERIFY_YES),
        ("admin", Action.DONE_YES), ("admin", Action.DONE_UNDO),
    ]
    if not sign_off:
        menu = [(who, kind) for who, kind in menu if kind not in ("verify", Action.VERIFY_YES)]
    acts: list[Act] = []
    count = 0
    while count < ACTIONS:
        who, kind = rng.choice(menu)
        n = len(acts)
        if isinstance(kind, Action):
            double = rng.random() < 0.3 and count + 2 <= ACTIONS
            acts.append(Act(who, kind, double=double))
            count += 2 if double else 1
            continue
        text = {"done": f"/done {CODE} 第{n}次报告完成",
                "verify": f"/verify {CODE}",
                "reject": f"/reject {CODE} 第{n}次退回：佐证不足",
                "extend": f"/extend {CODE} 2027-{1 + n % 12:02d}-15 资金未到位（{n}）"}[kind]
        acts.append(Act(who, kind, text))
        count += 1
    return acts


@dataclass
class Race:
    harness: Harness
    users: dict[str, SandboxUser]
    watch: LogWatch


@pytest.fixture
def seeded(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return seeded_database(backend, request, tmp_path)


@pytest.fixture
async def race(seeded: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Race]:
    with LogWatch() as watch:
        async with bot_on(seeded, monkeypatch) as harness:
            users = {role: await harness.bind(name) for role, name in PEOPLE.items()}
            # Notifications stay queued (as rows): each chat then holds only the answers to its actions.
            harness.services.delivery.request_stop()
            yield Race(harness, users, watch)


async def button(harness: Harness, user: SandboxUser, action: Action) -> int:
    """A message in the user's chat carrying exactly this button (as an old card would)."""
    data = encode(action, Ref(key=CODE))
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("按钮", callback_data=data)]])
    sent = await harness.app.bot.send_message(user.id, f"（此前的消息 {CODE}）", reply_markup=markup)
    return sent.message_id


async def state(harness: Harness) -> dict[str, object]:
    """Everything but the raced measure's own rows: must not change."""
    async with transaction(harness.factory) as session:
        measures = (await session.execute(select(Measure.code, Measure.status, Measure.version, Measure.deadline,
                                                 Measure.progress).where(Measure.code != CODE)
                                          .order_by(Measure.code))).all()
        cadres = (await session.execute(select(Cadre.name, Cadre.telegram_user_id, Cadre.unreachable_since)
                                        .order_by(Cadre.id))).all()
        pending = (await session.execute(select(PendingInput.id))).all()
    return {"measures": [tuple(r) for r in measures], "cadres": [tuple(r) for r in cadres], "pending": pending}


@pytest.mark.parametrize(("seed", "sign_off"), [(1, True), (2, True), (3, False), (4, False)])
async def test_fifty_concurrent_changes_of_one_measure_leave_one_consistent_story(race: Race, seed: int,
                                                                                   sign_off: bool) -> None:
    harness, sandbox, users = race.harness, race.harness.sandbox, race.users
    acts = plan(seed, sign_off=sign_off)
    buttons = {i: await button(harness, users[a.who], a.kind) for i, a in enumerate(acts) if isinstance(a.kind, Action)}
    before = await harness.measure(CODE)
    events_before = await harness.events(CODE)
    outbox_before = {m.id for m in await harness.outbox()}
    others_before = await state(harness)
    calls, logged = len(sandbox.calls), len(race.watch.records)
    seen = {role: {m.message_id for m in sandbox.messages(user.id)} for role, user in users.items()}
    answers_before = set(sandbox.callback_answers)

    # ---- all at once ----
    queries: dict[int, list[str]] = {}
    for i, act in enumerate(acts):
        user = users[act.who]
        if isinstance(act.kind, Action):
            queries[i] = [await sandbox.press(user.id, buttons[i], data=encode(act.kind, Ref(key=CODE)))
                          for _ in range(2 if act.double else 1)]
        else:
            await sandbox.send_text(user.id, act.text)
    await settle(harness, timeout=60)
    await sandbox.wait_until(lambda: all(q in sandbox.callback_answers for qs in queries.values() for q in qs),
                             timeout=30)

    # ---- everyone got exactly one clear answer per action ----
    replies = {role: [m for m in sandbox.messages(user.id) if m.message_id not in seen[role]]
               for role, user in users.items()}
    toasts = [str(a.text or "") for q, a in sandbox.callback_answers.items() if q not in answers_before]
    problems = problems_in(sandbox.calls[calls:], [m for ms in replies.values() for m in ms], toasts)
    assert not problems, problems
    assert race.watch.errors(logged) == []
    successes: Counter[tuple[str, str]] = Counter()
    for role in PEOPLE:
        typed = [a for a in acts if a.who == role and not isinstance(a.kind, Action)]
        bodies = [m.body for m in replies[role]]
        assert len(bodies) == len(typed), (role, [a.text for a in typed], bodies)
        for body in bodies:
            kind = next((k for k, prefix in COMMAND_SUCCESS.items() if body.startswith(prefix)), None)
            if kind is not None:
                successes[(role, EVENT_OF[kind])] += 1
            else:
                assert CODE in body and any(r in body for r in REFUSALS), body
        # Successes per command kind cannot exceed the commands of that kind typed.
        for kind, prefix in COMMAND_SUCCESS.items():
            won = sum(1 for b in bodies if b.startswith(prefix))
            assert won <= sum(1 for a in typed if a.kind == kind), (role, kind, bodies)
    for i, act in enumerate(acts):
        if not isinstance(act.kind, Action):
            continue
        for query in queries[i]:
            toast = str(sandbox.callback_answers[query].text or "")
            if toast == BUTTON_SUCCESS[act.kind]:
                successes[(act.who, EVENT_OF[act.kind])] += 1
            else:
                assert CODE in toast and any(r in toast for r in REFUSALS), (act, toast)

    if not sign_off:
        assert len(successes) >= 2, successes  # it did go back and forth
    # ---- one consistent story in the database ----
    after = await harness.measure(CODE)
    events = (await harness.events(CODE))[len(events_before):]
    assert [e.id for e in (await harness.events(CODE))[:len(events_before)]] == [e.id for e in events_before]
    assert after.version == before.version + len(events), (before.version, after.version, len(events))
    names = {(await harness.cadre(name)).id: role for role, name in PEOPLE.items()}
    recorded = Counter((names[e.actor_id], e.action) for e in events)
    assert recorded == successes, (recorded, successes)
    status = before.status
    for event in events:
        allowed_from, to = TRANSITIONS[event.action]
        assert status in allowed_from, (event.action, status)
        if event.from_status is not None or event.to_status is not None:
            assert event.from_status is status, (event.action, event.from_status, status)
            assert to is None or event.to_status is to
            status = event.to_status
    assert after.status is status
    # After 销号 nothing more can happen.
    closed_at = next((n for n, e in enumerate(events) if e.action == "verify"), None)
    assert closed_at is None or closed_at == len(events) - 1
    # One pending extension at most, one request per request event.
    requests = await harness.extension_requests(CODE)
    assert len(requests) == recorded[("owner", "extend_request")] + recorded[("leader", "extend_request")]
    assert sum(1 for r in requests if r.status is ExtensionStatus.PENDING) <= 1
    # Nobody decided any; signing off closes the one pending then, and only that one.
    decided = [r for r in requests if r.status is not ExtensionStatus.PENDING]
    assert all(r.decision_note == "措施已销号，延期申请自动关闭" for r in decided), decided
    assert len(decided) <= (1 if closed_at is not None else 0)
    assert closed_at is None or all(r.status is not ExtensionStatus.PENDING for r in requests)
    # Notifications: only for these events, each at most once per person.
    new_outbox = [m for m in await harness.outbox() if m.id not in outbox_before]
    event_ids = {e.id for e in events}
    keys = [m.key for m in new_outbox]
    assert len(keys) == len(set(keys))
    assert all(int(key.split(":")[1]) in event_ids for key in keys), keys
    # And nothing else changed.
    assert await state(harness) == others_before
    assert await _requests_elsewhere(harness) == 0


async def _requests_elsewhere(harness: Harness) -> int:
    async with transaction(harness.factory) as session:
        rows = await session.scalars(select(ExtensionRequest).join(Measure).where(Measure.code != CODE))
        return len(list(rows))


@pytest.mark.parametrize("action", [Action.DONE_YES, Action.VERIFY_YES])
async def test_a_burst_of_double_taps_changes_the_measure_once(race: Race, action: Action) -> None:
    """Ten taps of one button by one person, as fast as a phone can send them: one change."""
    harness, sandbox = race.harness, race.harness.sandbox
    who = "owner" if action is Action.DONE_YES else "leader"
    if action is Action.VERIFY_YES:
        await harness.one(race.users["owner"], f"/done {CODE}")
    message = await button(harness, race.users[who], action)
    version = (await harness.measure(CODE)).version
    events = len(await harness.events(CODE))
    queries = [await sandbox.press(race.users[who].id, message, data=encode(action, Ref(key=CODE)))
               for _ in range(10)]
    await settle(harness)
    await sandbox.wait_until(lambda: all(q in sandbox.callback_answers for q in queries))
    toasts = [str(sandbox.callback_answers[q].text or "") for q in queries]
    assert toasts.count(BUTTON_SUCCESS[action]) == 1, toasts
    assert all(t == BUTTON_SUCCESS[action] or (CODE in t and any(r in t for r in REFUSALS)) for t in toasts), toasts
    assert len(await harness.events(CODE)) == events + 1
    assert (await harness.measure(CODE)).version == version + 1
    assert race.watch.errors() == []
