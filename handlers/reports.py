"""/report (公示 summary and chart) and /export (the 台账 as XLSX, admins only)."""

from __future__ import annotations

import asyncio
import io

from telegram import Update

from bot.app import BotContext
from bot.db import transaction
from bot.errors import InvalidInput, PermissionDenied
from bot.services import ledger, reports
from handlers.common import is_admin, is_private, send
from handlers.measures import require_cadre
from handlers.render import esc, report_is_public, truncate


async def report(update: Update, context: BotContext) -> None:
    services = context.services
    message = update.effective_message
    if message is None:
        return
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        summary = await reports.build_report(session, services.today(), tz=services.settings.tz)
    text = reports.report_text(summary, public=report_is_public(not is_private(update), cadre))
    await send(update, f"<pre>{esc(text)}</pre>")
    chart = await asyncio.to_thread(reports.report_chart_png, summary, font_dir=services.settings.data_dir / "fonts")
    caption = text.splitlines()[0] if text else "整改落实情况"
    await message.reply_photo(io.BytesIO(chart), caption=truncate(esc(caption), 1024),
                              filename="zhenggai-report.png")


#: From about this many measures an XLSX takes seconds to build: the admin is told it is coming.
_SLOW_EXPORT_ROWS = 5000


async def export(update: Update, context: BotContext) -> None:
    services = context.services
    message = update.effective_message
    if message is None:
        return
    async with transaction(services.factory) as session:
        cadre = await require_cadre(session, update)
        if not is_admin(cadre):
            raise PermissionDenied("只有管理员可以导出整改台账。")
        if not is_private(update):
            raise PermissionDenied("台账含个人信息，请在与机器人的私聊中使用 /export。")
        rows = await ledger.export_rows(session)
    header = [ledger.MEASURE_HEADERS_ZH[c] for c in ledger.MEASURE_COLUMNS]
    # /export csv: for systems that take CSV; XLSX (Excel, WPS) otherwise.
    wanted = " ".join(context.args or []).strip().lower().lstrip(".")
    if wanted not in ("", "xlsx", "excel", "csv"):
        raise InvalidInput("用法：/export（XLSX 表格）或 /export csv")
    suffix = "csv" if wanted == "csv" else "xlsx"
    build = ledger.measures_csv if suffix == "csv" else ledger.measures_xlsx
    if len(rows) >= _SLOW_EXPORT_ROWS:
        await send(update, f"正在生成 {len(rows)} 项的整改台账，请稍候……")
    data = await asyncio.to_thread(build, header, rows, None)
    today = services.today()
    await message.reply_document(io.BytesIO(data), filename=f"整改台账-{today:%Y%m%d}.{suffix}",
                                 caption=f"整改台账（{len(rows)} 项，截至 {today:%Y-%m-%d}）")
