"""The permission matrix: every command and button × unbound / cadre / leader / admin × own /
other / closed measure, as one table, each row run through the real bot.

A row says whether the action is allowed and what the person sees. Allowed rows check the
change in the database (status, event with its actor, outbox, pending question …); refused rows
check that the database did not change at all.

Buttons are pressed on a message carrying exactly that callback data — as if an old or forwarded
message still showed it — because the buttons shown are only hints: the bot must check every
press itself. Each row gets a fresh measure and a fresh Telegram account for the actor (the
binding moves to it), so rows cannot disturb each other; the bot, its database and the sandbox
are shared by the whole module (per backend) to keep the table fast. Outbox delivery is switched
off here so that queued notifications stay visible as rows.

Who is who (data/cadres.csv): cadre 张伟, leader 陈建华 (张伟's 分管领导), admin 刘洋. "own" is the
actor's measure in their role — the cadre's own, the one the leader supervises, the admin's own
(owner 刘洋, leader 黄志刚); "other" is someone else's (钟春兰's under 梁秀珍; for the admin,
张伟's); "closed" is the "own" one after 销号.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, update
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.db import transaction
from bot.delivery import DeliveryReport
from bot.models import Cadre, ExtensionStatus, Measure, MeasureEvent, MeasureStatus, PendingInput
from bot.sandbox import BotMessage, RateLimits, Sandbox, SandboxUser
from bot.services import measures as service
from handlers.callbacks import Action, encode
from tests.bot.conftest import BOT_USERNAME, TODAY, Harness, running_bot, seeded_copy

NOT_BOUND = "还没有绑定"
ROLES = {"cadre": "张伟", "leader": "陈建华", "admin": "刘洋"}
#: (owner, leader) of the measure a target names, per role.
PEOPLE = {
    "unbound": {"own": ("张伟", "陈建华"), "other": ("钟春兰", "梁秀珍")},
    "cadre": {"own": ("张伟", "陈建华"), "other": ("钟春兰", "梁秀珍")},
    "leader": {"own": ("张伟", "陈建华"), "other": ("钟春兰", "梁秀珍")},
    "admin": {"own": ("刘洋", "黄志刚"), "other": ("张伟", "陈建华")},
}
ALLOWED = "✓"  # Y in the table below


# ---- the actions ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Act:
    """One thing a person can do. `state`: the state the target measure is in for own/other
    (closed targets are always closed); `says`: what an allowed action shows ({code} filled in);
    `effect`: what an allowed action changes (None: nothing)."""

    kind: str  # command | button | photo | plain
    what: str  # the text sent, the caption, or the callback data — with {code} / {request}
    state: str | None  # open | done | None (no measure)
    says: str
    effect: str | None = None


ACTS: dict[str, Act] = {
    # commands on a measure
    "/done": Act("command", "/done {code} 已全部完成", "open", "已报告完成", "done"),
    "/verify": Act("command", "/verify {code}", "done", "已销号。", "verify"),
    "/reject": Act("command", "/reject {code} 材料不全", "done", "已退回 {code}", "reject"),
    "/extend": Act("command", "/extend {code} 2027-06-30 资金未到位", "open", "已提交 {code} 的延期申请", "extend"),
    "/status": Act("command", "/status {code}", "open", "📋 {code}"),
    "/history": Act("command", "/history {code}", "open", "🕘 {code} 办理记录"),
    "photo /done": Act("photo", "/done {code} 见照片", "open", "已报告完成，佐证材料已保存", "done"),
    "photo evidence": Act("photo", "{code} 现场照片", "open", "作为 {code} 的佐证材料保存", "evidence"),
    # buttons on a measure
    "card": Act("button", encode(Action.MEASURE, "{code}"), "open", "📋 {code}"),
    "card from a list": Act("button", encode(Action.MEASURE_OPEN, "{code}"), "open", "📋 {code}"),
    "✅ 完成": Act("button", encode(Action.DONE_ASK, "{code}"), "open", "确认 {code} 已完成吗"),
    "✅ 确认完成": Act("button", encode(Action.DONE_YES, "{code}"), "open", "已报告完成，等待审核销号", "done"),
    "✖️ 取消": Act("button", encode(Action.DONE_NO, "{code}"), "open", "已取消"),
    "↩️ 撤回完成": Act("button", encode(Action.DONE_UNDO, "{code}"), "done", "已撤回完成报告", "undo"),
    # ✔️ 销号 asks to confirm (nothing changes yet); ✔️ 确认销号 signs off. Both refuse alike.
    "✔️ 销号": Act("button", encode(Action.VERIFY, "{code}"), "done", "销号后不能撤回"),
    "✔️ 确认销号": Act("button", encode(Action.VERIFY_YES, "{code}"), "done", "已销号", "verify"),
    "↩️ 退回": Act("button", encode(Action.REJECT, "{code}"), "done", "请输入退回 {code} 的原因", "ask:reject"),
    "📝 进展": Act("button", encode(Action.PROGRESS, "{code}"), "open", "请输入 {code} 的最新进展", "ask:progress"),
    "⏰ 申请延期": Act("button", encode(Action.EXTEND, "{code}"), "open", "新完成时限和理由", "ask:extend"),
    "🕘 办理记录": Act("button", encode(Action.TRAIL, "{code}"), "open", "🕘 {code} 办理记录"),
    # extension decisions: targets are requests (theirs / own / decided)
    "✅ 同意延期": Act("button", "v1|ea|{request}", "request", "已同意延期", "approve"),
    "❌ 不同意": Act("button", "v1|er|{request}", "request", "请输入不同意", "ask:extension_refuse"),
    "↩️ 撤回申请": Act("button", "v1|ew|{request}", "request", "已撤回延期申请", "withdraw"),
    # no measure
    "/mine": Act("command", "/mine", None, "您负责的整改措施"),
    "/overdue": Act("command", "/overdue", None, "逾期整改措施"),
    "/todo": Act("command", "/todo", None, "处理"),
    "/invite": Act("command", "/invite 邓小燕", None, "已为 邓小燕 生成邀请码", "invite"),
    "/export": Act("command", "/export", None, "整改台账（"),
    "/report": Act("command", "/report", None, "整改落实情况"),
    "/regs": Act("command", "/regs", None, "规章制度目录"),
    "/help": Act("command", "/help", None, "/mine"),
    "/start": Act("command", "/start", None, "您好"),
    "/cancel": Act("command", "/cancel", None, "当前没有进行中的操作"),
    "question": Act("plain", "请假超过三天要谁批？", None, "《市教育局工作规程》第3条"),
    "regulation": Act("button", encode(Action.REGULATION, "bureau-work-rules"), None, "📘 《市教育局工作规程》"),
    "article": Act("button", encode(Action.ARTICLE, "bureau-work-rules", 3), None, "《市教育局工作规程》第3条"),
    "regs page": Act("button", encode(Action.REG_PAGE, 1), None, "第 2/2 页"),
    # Page 2 of one's own measures: the list as it is now, the one page there is.
    "list page": Act("button", encode(Action.LIST_PAGE, "mine", 1), None, "您负责的整改措施"),
    "suggestion": Act("button", encode(Action.SUGGESTION, "a", "rectification-closure", 8), None,
                      "《整改措施销号制度》第8条"),
    # 👎 on a message that quotes no question (the row's own): nothing is recorded, and it says so
    "👎 没答对": Act("button", encode(Action.WRONG), None, "找不到原来的问题了"),
    # unanswered questions (/misses): the buttons name a question no longer kept, so that an admin's
    # press is refused too and every row leaves the database as it was (teaching: tests/bot/test_misses)
    "/misses": Act("command", "/misses", None, "未能回答或答错的问题"),
    "❓ 待处理的问题": Act("button", encode(Action.MISS, 999999), None, ""),
    "归入": Act("button", encode(Action.TEACH, 999999, "a", "bureau-work-rules", 3), None, ""),
    "✏️ 指定其他": Act("button", encode(Action.TEACH_OTHER, 999999), None, ""),
    "🗑 忽略": Act("button", encode(Action.MISS_DISMISS, 999999), None, ""),
}


# ---- the table ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    role: str
    act: str
    target: str  # own | other | closed (measures); theirs | own | decided (requests); - (none)
    allowed: bool
    says: str

    @property
    def id(self) -> str:
        return f"{self.role}|{self.act}|{self.target}"


def on_measures(act: str, *, cadre: tuple[str, str, str], leader: tuple[str, str, str],
                admin: tuple[str, str, str]) -> list[Row]:
    """Rows for an action on a measure: (own, other, closed) outcome per role; ✓ or the refusal."""
    rows = [Row("unbound", act, target, False, NOT_BOUND) for target in ("other", "closed")]
    for role, outcomes in (("cadre", cadre), ("leader", leader), ("admin", admin)):
        for target, outcome in zip(("own", "other", "closed"), outcomes, strict=True):
            allowed = outcome == ALLOWED
            rows.append(Row(role, act, target, allowed, ACTS[act].says if allowed else outcome))
    return rows


def without_measure(act: str, unbound: str, cadre: str = ALLOWED, leader: str = ALLOWED,
                    admin: str = ALLOWED) -> list[Row]:
    rows = []
    for role, outcome in (("unbound", unbound), ("cadre", cadre), ("leader", leader), ("admin", admin)):
        allowed = outcome == ALLOWED or outcome.startswith(ALLOWED)
        says = outcome.removeprefix(ALLOWED).strip() or ACTS[act].says if allowed else outcome
        rows.append(Row(role, act, "-", allowed, says))
    return rows


Y = ALLOWED
CLOSED_DONE = "已销号，无需重复操作"
NOT_OWNER_DONE = "您不能报告完成"
ONLY_VERIFY = "或管理员可以销号"  # 只有 … 的分管领导（name）或管理员可以销号
ONLY_REJECT = "或管理员可以退回"
ONLY_EXTEND = "责任人或分管领导可以申请延期"
NOT_REPORTER = "只有报告人可以撤回"
DECIDERS = "只有管理员可以审批延期申请"
ONLY_TRAIL = "的责任人、分管领导或管理员可以查看办理记录"
ONLY_ADMINS_MISSES = "只有管理员可以查看和处理未能回答的问题"
NOT_REQUESTER = "不是您提出的，只有申请人本人可以撤回"
DECIDED = "该延期申请已处理（已批准），不能再撤回"

TABLE: list[Row] = [
    # ---- commands on a measure ------------------------- own ---------- other -------- closed --------
    *on_measures("/done", cadre=(Y, NOT_OWNER_DONE, CLOSED_DONE),
                 leader=(Y, NOT_OWNER_DONE, CLOSED_DONE),
                 admin=(Y, Y, CLOSED_DONE)),
    *on_measures("photo /done", cadre=(Y, NOT_OWNER_DONE, CLOSED_DONE),
                 leader=(Y, NOT_OWNER_DONE, CLOSED_DONE),
                 admin=(Y, Y, CLOSED_DONE)),
    *on_measures("photo evidence", cadre=(Y, "您不能补充佐证材料", "已销号，不能再补充佐证材料"),
                 leader=(Y, "您不能补充佐证材料", "已销号，不能再补充佐证材料"),
                 admin=(Y, Y, "已销号，不能再补充佐证材料")),
    *on_measures("/verify", cadre=(ONLY_VERIFY, ONLY_VERIFY, ONLY_VERIFY),
                 leader=(Y, ONLY_VERIFY, "已销号，无需重复操作"),
                 admin=("由您负责，不能由您本人销号", Y, "已销号，无需重复操作")),
    *on_measures("/reject", cadre=(ONLY_REJECT, ONLY_REJECT, ONLY_REJECT),
                 leader=(Y, ONLY_REJECT, "已销号，不能退回"),
                 admin=(Y, Y, "已销号，不能退回")),
    *on_measures("/extend", cadre=(Y, ONLY_EXTEND, "已销号，无需申请延期"),
                 leader=(Y, ONLY_EXTEND, "已销号，无需申请延期"),
                 admin=(Y, ONLY_EXTEND, "已销号，无需申请延期")),
    *on_measures("/status", cadre=(Y, Y, Y), leader=(Y, Y, Y), admin=(Y, Y, Y)),
    *on_measures("/history", cadre=(Y, ONLY_TRAIL, Y), leader=(Y, ONLY_TRAIL, Y), admin=(Y, Y, Y)),
    # ---- buttons on a measure ---------------------------------------------------------------------------
    *on_measures("card", cadre=(Y, Y, Y), leader=(Y, Y, Y), admin=(Y, Y, Y)),
    *on_measures("card from a list", cadre=(Y, Y, Y), leader=(Y, Y, Y), admin=(Y, Y, Y)),
    *on_measures("✅ 完成", cadre=(Y, NOT_OWNER_DONE, CLOSED_DONE),
                 leader=(Y, NOT_OWNER_DONE, CLOSED_DONE),
                 admin=(Y, Y, CLOSED_DONE)),
    *on_measures("✅ 确认完成", cadre=(Y, NOT_OWNER_DONE, CLOSED_DONE),
                 leader=(Y, NOT_OWNER_DONE, CLOSED_DONE),
                 admin=(Y, Y, CLOSED_DONE)),
    *on_measures("✖️ 取消", cadre=(Y, Y, Y), leader=(Y, Y, Y), admin=(Y, Y, Y)),
    *on_measures("↩️ 撤回完成", cadre=(Y, NOT_REPORTER, "已销号，不能撤回"),
                 leader=(NOT_REPORTER, NOT_REPORTER, "已销号，不能撤回"),
                 admin=(Y, NOT_REPORTER, "已销号，不能撤回")),
    *(row for act in ("✔️ 销号", "✔️ 确认销号")
      for row in on_measures(act, cadre=(ONLY_VERIFY, ONLY_VERIFY, ONLY_VERIFY),
                             leader=(Y, ONLY_VERIFY, "已销号，无需重复操作"),
                             admin=("由您负责，不能由您本人销号", Y, "已销号，无需重复操作"))),
    *on_measures("↩️ 退回", cadre=(ONLY_REJECT, ONLY_REJECT, ONLY_REJECT),
                 leader=(Y, ONLY_REJECT, "已销号，不能退回"),
                 admin=(Y, Y, "已销号，不能退回")),
    *on_measures("🕘 办理记录", cadre=(Y, ONLY_TRAIL, Y), leader=(Y, ONLY_TRAIL, Y), admin=(Y, Y, Y)),
    *on_measures("📝 进展", cadre=(Y, "您不能填报进展", "已销号，不能再填报进展"),
                 leader=(Y, "您不能填报进展", "已销号，不能再填报进展"),
                 admin=(Y, Y, "已销号，不能再填报进展")),
    *on_measures("⏰ 申请延期", cadre=(Y, ONLY_EXTEND, "已销号，无需申请延期"),
                 leader=(Y, ONLY_EXTEND, "已销号，无需申请延期"),
                 admin=(Y, ONLY_EXTEND, "已销号，无需申请延期")),
    # ---- deciding extension requests: someone else's request, one's own, one already decided --------
    *[Row(role, act, target, role == "admin" and target == "theirs",
          ACTS[act].says if role == "admin" and target == "theirs"
          else NOT_BOUND if role == "unbound" else DECIDERS if role != "admin"
          else "不能审批自己提出的延期申请" if target == "own" else "该延期申请已处理")
      for act in ("✅ 同意延期", "❌ 不同意")
      for role in ("unbound", "cadre", "leader", "admin")
      for target in (("theirs",) if role == "unbound" else ("theirs", "own", "decided"))],
    # ---- withdrawing one: its requester only, while undecided ("theirs" is 张伟's: the cadre's own) ----
    *[Row(role, "↩️ 撤回申请", target, outcome == Y, ACTS["↩️ 撤回申请"].says if outcome == Y else outcome)
      for role, outcomes in (("unbound", {"theirs": NOT_BOUND}),
                             ("cadre", {"theirs": Y, "own": Y, "decided": DECIDED}),
                             ("leader", {"theirs": NOT_REQUESTER, "own": Y, "decided": DECIDED}),
                             ("admin", {"theirs": NOT_REQUESTER, "own": Y, "decided": DECIDED}))
      for target, outcome in outcomes.items()],
    # ---- no measure -----------------------------------------------------------------------------
    *without_measure("/mine", NOT_BOUND),
    *without_measure("/overdue", NOT_BOUND),
    *without_measure("/todo", NOT_BOUND, cadre="/todo 供分管领导和管理员使用"),
    *without_measure("/invite", NOT_BOUND, cadre="只有管理员可以生成邀请码", leader="只有管理员可以生成邀请码"),
    *without_measure("/export", NOT_BOUND, cadre="只有管理员可以导出整改台账", leader="只有管理员可以导出整改台账"),
    *without_measure("/report", NOT_BOUND),
    *without_measure("/regs", NOT_BOUND),
    *without_measure("/help", f"{Y} /start 邀请码"),
    *without_measure("/start", f"{Y} 邀请码"),
    *without_measure("/cancel", Y),
    *without_measure("question", NOT_BOUND),
    *without_measure("regulation", NOT_BOUND),
    *without_measure("article", NOT_BOUND),
    *without_measure("regs page", NOT_BOUND),
    *without_measure("list page", NOT_BOUND),
    *without_measure("suggestion", NOT_BOUND),
    *without_measure("👎 没答对", NOT_BOUND),
    *without_measure("/misses", NOT_BOUND, cadre=ONLY_ADMINS_MISSES, leader=ONLY_ADMINS_MISSES),
    *(row for act in ("❓ 待处理的问题", "归入", "✏️ 指定其他", "🗑 忽略")
      for row in without_measure(act, NOT_BOUND, cadre=ONLY_ADMINS_MISSES, leader=ONLY_ADMINS_MISSES,
                                 admin="这个问题已不在未答列表中")),
]


def test_the_table_covers_every_command_and_button() -> None:
    from bot.app import COMMANDS

    acted = {row.act for row in TABLE}
    assert {f"/{name}" for name, _ in COMMANDS} <= acted
    pressed = {ACTS[act].what.split("|")[1] for act in acted if ACTS[act].kind == "button"}
    assert {a.value for a in Action} - pressed == {Action.NOOP.value}  # inert
    assert len({row.id for row in TABLE}) == len(TABLE)


# ---- the world the rows run in --------------------------------------------------------------------

class World:
    """One bot for the whole table; a fresh measure and a fresh account per row."""

    def __init__(self, harness: Harness, ids: dict[str, int]) -> None:
        self.h = harness
        self.ids = ids  # cadre ids by name
        self.codes = itertools.count(1)

    def cadre_id(self, name: str) -> int:
        return self.ids[name]

    async def actor(self, role: str) -> SandboxUser:
        """A new Telegram account that has written to the bot before; bound to the role's cadre
        (in the database: binding through invites has its own tests in test_binding.py)."""
        user = self.h.sandbox.add_user(ROLES.get(role, "路人"), started=True)
        if role != "unbound":
            async with transaction(self.h.factory) as session:
                await session.execute(update(Cadre).where(Cadre.name == ROLES[role])
                                      .values(telegram_user_id=user.id))
        return user

    async def measure(self, owner: str, leader: str, state: str) -> str:
        """A new measure of `owner` under `leader`: open, done (reported by its owner) or closed."""
        code = f"ZG2027{next(self.codes):03d}"
        async with transaction(self.h.factory) as session:
            owner_id, leader_id = self.ids[owner], self.ids[leader]
            session.add(Measure(code=code, problem=f"权限测试问题{code}", measure="权限测试措施", unit="基础教育科",
                                owner_id=owner_id, leader_id=leader_id, deadline=dt.date(2027, 3, 31),
                                status=MeasureStatus.IN_PROGRESS, progress="测试中"))
            await session.flush()
            if state in ("done", "closed"):
                await service.mark_done(session, owner_id, code, None, None, TODAY)
            if state == "closed":
                await service.verify(session, leader_id, code, None, TODAY)
            await self.h.services.answers.refresh(session)  # so that /status finds the new code
        return code

    async def request(self, role: str, target: str) -> int:
        """An extension request: by 张伟 on his measure (theirs), by the actor (own), or decided."""
        requester = "张伟" if target != "own" or role == "unbound" else ROLES[role]
        owner, leader = ("刘洋", "黄志刚") if requester == "刘洋" else ("张伟", "陈建华")
        code = await self.measure(owner, leader, "open")
        async with transaction(self.h.factory) as session:
            outcome = await service.request_extension(session, self.cadre_id(requester), code,
                                                      dt.date(2027, 6, 30), "资金未到位", TODAY)
            if target == "decided":
                await service.decide_extension(session, self.cadre_id("韦丽萍"), outcome.request.id, True,
                                               None, TODAY)
            return outcome.request.id

    async def message_with_button(self, user: SandboxUser, data: str) -> BotMessage:
        """A message in the user's chat offering exactly this button (sent through the Bot API)."""
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("按钮", callback_data=data)]])
        sent = await self.h.app.bot.send_message(user.id, "（此前的消息）", reply_markup=markup)
        [message] = await self.h.sandbox.wait_for_messages(user.id)
        assert message.message_id == sent.message_id
        return message

    async def perform(self, user: SandboxUser, act: Act, code: str, request: int) -> str:
        """Do it; everything the person sees afterwards, as one text."""
        what = act.what.format(code=code, request=request)
        sandbox = self.h.sandbox
        if act.kind in ("command", "plain"):
            reply = await self.h.one(user, what)
            return reply.body
        if act.kind == "photo":
            await sandbox.send_photo(user.id, b"\x89PNG evidence", caption=what)
            [reply] = await sandbox.wait_for_messages(user.id)
            return reply.body
        message = await self.message_with_button(user, what)
        seen = len(sandbox.messages(user.id))
        after, toast = await self.h.tap(user, message, data=what)
        new = [m.body for m in sandbox.messages(user.id)[seen:]]
        if new:
            await sandbox.wait_for_messages(user.id, count=len(new))
        edited = after.body if after.edit_count else ""
        return "\n".join([toast, edited, *new])


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def matrix_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return seeded_copy(str(request.param), request, Path(tmp_path_factory.mktemp("matrix")))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(matrix_url: str) -> AsyncIterator[World]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        async with Sandbox(limits=RateLimits.off(), bot_username=BOT_USERNAME) as sandbox, \
                running_bot(matrix_url, sandbox, monkeypatch) as harness:

            async def no_delivery(*args: Any, **kwargs: Any) -> DeliveryReport:
                return DeliveryReport()

            monkeypatch.setattr(harness.services.delivery, "deliver_due", no_delivery)
            async with transaction(harness.factory) as session:
                ids = {name: cadre_id for cadre_id, name in await session.execute(select(Cadre.id, Cadre.name))}
            yield World(harness, ids)


# ---- what an allowed row changes ------------------------------------------------------------------

async def last_event(h: Harness, code: str) -> MeasureEvent:
    return (await h.events(code))[-1]


async def check_effect(w: World, row: Row, act: Act, code: str, request: int, actor_id: int,
                       before: dict[str, Any], telegram_id: int) -> None:
    h = w.h
    after = await h.snapshot()
    effect = act.effect
    if effect is None:
        assert after == before, "an action that only shows something changed the database"
        return
    if effect == "invite":
        assert after["counts"]["invites"] == before["counts"]["invites"] + 1
        return
    if effect.startswith("ask:"):
        [waiting] = [p for p in await h.pending_inputs() if p.telegram_user_id == telegram_id]
        assert (waiting.kind, waiting.target) == (effect[4:], str(request) if "extension" in effect else code)
        assert waiting.prompt_message_id is not None
        assert after["measures"] == before["measures"] and after["counts"]["events"] == before["counts"]["events"]
        return
    if effect == "approve":
        [req] = [r for r in await h.extension_requests() if r.id == request]
        assert req.status is ExtensionStatus.APPROVED and req.decided_by_id == actor_id
        async with transaction(h.factory) as session:
            measure = await session.get(Measure, req.measure_id)
            assert measure is not None and measure.deadline == dt.date(2027, 6, 30)
        return
    if effect == "withdraw":
        [req] = [r for r in await h.extension_requests() if r.id == request]
        assert req.status is ExtensionStatus.WITHDRAWN and req.decided_by_id == actor_id
        async with transaction(h.factory) as session:
            measure = await session.get(Measure, req.measure_id)
            assert measure is not None and measure.deadline == dt.date(2027, 3, 31)  # as it was
        [event] = [e for e in await h.events(measure.code) if e.action == "extend_withdraw"]
        assert event.actor_id == actor_id and after["counts"]["events"] == before["counts"]["events"] + 1
        # Those told of the request are told it is withdrawn (delivery is off in this module).
        assert any(m.key.startswith(f"extend_withdraw:{event.id}:") for m in await h.outbox())
        return
    measure = await h.measure(code)
    event = await last_event(h, code)
    assert event.actor_id == actor_id and event.action == {"extend": "extend_request"}.get(effect, effect)
    expected: dict[str, tuple[MeasureStatus | None, MeasureStatus | None, MeasureStatus]] = {
        "done": (MeasureStatus.IN_PROGRESS, MeasureStatus.DONE, MeasureStatus.DONE),
        "verify": (MeasureStatus.DONE, MeasureStatus.CLOSED, MeasureStatus.CLOSED),
        "reject": (MeasureStatus.DONE, MeasureStatus.IN_PROGRESS, MeasureStatus.IN_PROGRESS),
        "undo": (MeasureStatus.DONE, MeasureStatus.IN_PROGRESS, MeasureStatus.IN_PROGRESS),
        "evidence": (None, None, MeasureStatus.IN_PROGRESS),
        "extend": (None, None, MeasureStatus.IN_PROGRESS),
    }
    from_status, to_status, status = expected[effect]
    assert (event.from_status, event.to_status, measure.status) == (from_status, to_status, status)
    assert after["counts"]["events"] == before["counts"]["events"] + 1
    if effect == "evidence" or "photo" in row.act:
        assert event.evidence_kind == "photo" and event.evidence_file_id
    if effect == "extend":
        [req] = await h.extension_requests(code)
        assert req.status is ExtensionStatus.PENDING and req.requested_by_id == actor_id
    # A return (退回) tells the owner and the reporter: nobody, when that is the actor themself.
    told_nobody = effect == "reject" and measure.owner_id == actor_id
    if effect in ("done", "verify", "reject", "undo", "extend") and not told_nobody:
        # Everyone to be told is queued in the same transaction (delivery is off in this module).
        keys = {m.key for m in await h.outbox()}
        prefix = {"extend": "extend_request"}.get(effect, effect)
        assert any(key.startswith(f"{prefix}:{event.id}:") for key in keys), (prefix, event.id)


# ---- the rows -------------------------------------------------------------------------------------

@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("row", TABLE, ids=[row.id for row in TABLE])
async def test_permission(world: World, row: Row) -> None:
    h, act = world.h, ACTS[row.act]
    user = await world.actor(row.role)
    code, request = "", 0
    if act.state == "request":
        request = await world.request(row.role, row.target)
    elif act.state is not None:
        owner, leader = PEOPLE[row.role]["other" if row.target == "other" else "own"]
        code = await world.measure(owner, leader, "closed" if row.target == "closed" else act.state)
    actor_id = world.cadre_id(ROLES[row.role]) if row.role != "unbound" else 0
    before = await h.snapshot()
    seen = await world.perform(user, act, code, request)
    expected = row.says.format(code=code)
    assert expected in seen, f"{row.id}: expected {expected!r}, saw {seen!r}"
    if row.allowed:
        await check_effect(world, row, act, code, request, actor_id, before, user.id)
    else:
        after = await h.snapshot()
        assert after == before, f"{row.id}: refused, but the database changed"
        async with transaction(h.factory) as session:
            waiting = await session.scalar(select(PendingInput).where(PendingInput.telegram_user_id == user.id))
        assert waiting is None
    if row.role == "unbound":
        assert "ZG20" not in seen and "张伟" not in seen

