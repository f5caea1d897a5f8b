"""/start CODE (binding), /help, /invite NAME, /cancel."""

from __future__ import annotations

import datetime as dt
import io

from telegram import Update

from bot.app import BotContext
from bot.db import transaction
from bot.errors import PermissionDenied
from bot.models import Cadre, Role
from bot.services import cadres, pending
from handlers.common import NOT_BOUND, current_cadre, is_admin, is_private, send
from handlers.render import esc

HELP_COMMON = """<b>整改助手</b>：规章制度问答、整改措施查询与催办。

<b>直接提问</b>，例如：
• 请假超过三天要谁批？
• 教师工作纪律第四条
• ZG2025004 进展　• 港南区的整改　• 逾期的有哪些
看完一个回答，可以接着问“第五条呢”“下一条”“谁负责”。

<b>命令</b>
/mine 我的整改　/status 编号或关键词　/overdue 逾期的整改
/done 编号 说明 — 报告完成（可附照片、视频或文件作为佐证）
/extend 编号 日期 原因 — 申请延期　/history 编号 — 办理记录与佐证材料
/regs 浏览规章制度　/report 整改公示　/cancel 取消当前操作
也可以直接发送“编号 已完成”“编号 进展：……”“编号 申请延期到2027-03-31，原因：……”
（日期写错了可发送“编号 撤回延期申请”），或回复措施卡片、催办消息“已完成”。"""

HELP_LEADER = """
<b>分管领导</b>
/todo 待我处理　/verify 编号 — 销号　/reject 编号 原因 — 退回
也可以发送“编号 同意销号”“编号 退回，原因”，或回复通知“同意销号”。"""

HELP_ADMIN = """
<b>管理员</b>
/invite 姓名 — 生成邀请码（/invite 全部：所有未绑定的干部）　/export 导出台账　延期申请在 /todo 中审批
/misses 未能回答或被点了“👎 没答对”的问题 — 归入应回答它的条款，此后这样问就会直接回答
也可以发送“编号 同意延期”“编号 不同意延期，理由”，或回复申请消息。
导入：直接发送台账或干部名单文件（CSV/XLSX），规章制度发送 YAML 文件。"""


HELP_UNBOUND = """<b>整改助手</b>：市教育局规章制度问答、整改措施查询与催办，供局机关和各县市区干部使用。

使用前须绑定身份：请向管理员索取邀请码，然后在与机器人的<b>私聊</b>中发送 <code>/start 邀请码</code>。"""


def help_text(cadre: Cadre | None) -> str:
    if cadre is None:
        return HELP_UNBOUND
    text = HELP_COMMON
    if cadre.role in (Role.LEADER, Role.ADMIN):
        text += HELP_LEADER
    if cadre.role is Role.ADMIN:
        text += HELP_ADMIN
    return text


async def start(update: Update, context: BotContext) -> None:
    services = context.services
    user = update.effective_user
    if user is None:
        return
    code = context.args[0] if context.args else None
    if code and not is_private(update):
        await send(update, "为保护邀请码，请在与机器人的<b>私聊</b>中发送 /start 邀请码。")
        return
    async with transaction(services.factory) as session:
        existing = await current_cadre(session, update)
        if code is None:
            if existing is None:
                await send(update, "您好！我是整改助手。\n" + NOT_BOUND)
            else:
                await send(update, f"{esc(existing.name)}，您好！\n\n" + help_text(existing))
            return
        result = await cadres.bind(session, code, user.id, services.now())
    # Committed first: a failed attempt must stay recorded for the brute-force limit.
    cadre = result.unwrap()
    await send(update, f"绑定成功！您好，<b>{esc(cadre.name)}</b>（{esc(cadre.unit)} {esc(cadre.position)}）。\n\n"
               + help_text(cadre))


async def help_command(update: Update, context: BotContext) -> None:
    async with transaction(context.services.factory) as session:
        cadre = await current_cadre(session, update)
    await send(update, help_text(cadre))


async def invite(update: Update, context: BotContext) -> None:
    services = context.services
    name = " ".join(context.args or []).strip()
    if not is_private(update):
        await send(update, "邀请码须保密：请在与机器人的私聊中使用 /invite 姓名。")
        return
    async with transaction(services.factory) as session:
        actor = await current_cadre(session, update)
        if actor is None:
            await send(update, NOT_BOUND)
            return
        if not is_admin(actor):
            raise PermissionDenied("只有管理员可以生成邀请码。")
        if not name:
            # Before handing out codes: who still has to bind, and who already has one.
            waiting = await cadres.unbound_cadres(session)
        elif name in EVERYONE:
            invites = await cadres.invite_unbound(session, actor_id=actor.id,
                                                  ttl_days=services.settings.invite_ttl_days,
                                                  bot_username=services.bot_username)
        else:
            result = await cadres.create_invite(session, name, actor_id=actor.id,
                                                ttl_days=services.settings.invite_ttl_days,
                                                bot_username=services.bot_username)
    if not name:
        await send(update, _unbound_text(waiting, services.settings.tz))
        return
    # Sent once committed: a code shown must be a code that works.
    days = services.settings.invite_ttl_days
    if name in EVERYONE:
        await _send_sheet(update, invites, days, services.settings.tz)
        return
    warning = f"\n\n{esc(cadres.ALREADY_BOUND.format(name=result.name))}" if result.bound else ""
    await send(update, f"已为 <b>{esc(result.name)}</b> 生成邀请码（{days} 天内有效，只能使用一次）：\n"
               f"<code>{esc(result.code)}</code>\n\n请转发给本人，在私聊中打开链接或发送 "
               f"<code>/start {esc(result.code)}</code>：\n{esc(result.link)}{warning}")


#: Names listed by /invite alone: a screenful; /invite 全部 makes the whole sheet.
UNBOUND_SHOWN = 60


def _unbound_text(waiting: list[cadres.Unbound], tz: dt.tzinfo) -> str:
    usage = "用法：/invite 姓名，例如 /invite 张伟；/invite 全部 为所有未绑定的干部生成（此前未用的邀请码随之作废）"
    if not waiting:
        return f"所有干部都已绑定。\n{usage}"
    lines = [f"尚未绑定的干部共 {len(waiting)} 人："]
    for item in waiting[:UNBOUND_SHOWN]:
        unit = f"（{esc(item.cadre.unit)}）" if item.cadre.unit else ""
        code = (f" — 已发邀请码，{item.code_valid_until.astimezone(tz):%m月%d日}前有效"
                if item.code_valid_until else "")
        lines.append(f"• {esc(item.cadre.name)}{unit}{code}")
    if len(waiting) > UNBOUND_SHOWN:
        lines.append(f"……另有 {len(waiting) - UNBOUND_SHOWN} 人")
    lines += ["", usage]
    return "\n".join(lines)


#: /invite 全部: a code for every cadre not yet bound, as one sheet (the rollout).
EVERYONE = frozenset({"全部", "所有人", "全体", "未绑定", "所有未绑定"})


async def _send_sheet(update: Update, invites: list[cadres.InviteResult], days: int, tz: dt.tzinfo) -> None:
    message = update.effective_message
    if message is None:
        return
    if not invites:
        await send(update, "所有干部都已绑定，无需生成邀请码。")
        return
    await message.reply_document(
        io.BytesIO(cadres.invite_sheet(invites, tz)), filename="邀请码.csv",
        caption=f"已为 {len(invites)} 名未绑定的干部生成邀请码（{days} 天内有效，只能使用一次；"
                "他们此前未使用的邀请码已作废）。邀请码相当于登录凭证：请逐人私下发送。")


async def cancel(update: Update, context: BotContext) -> None:
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    async with transaction(context.services.factory) as session:
        dropped = await pending.clear(session, chat.id, user.id)
    await send(update, "已取消。" if dropped else "当前没有进行中的操作。")


async def unknown_command(update: Update, context: BotContext) -> None:
    await send(update, "没有这个命令。发送 /help 查看可用的命令，或直接用文字提问。")
