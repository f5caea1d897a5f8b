"""An admin sends the 台账 (or the cadre list, or the regulations) to the bot as a file: imported
as `zhenggai import` would, all or nothing, and the answer index picks it up at once. Which of
them it is: YAML is the regulations; a table is the 台账 unless its header is the cadre list's."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from telegram import Document, Update

from bot.app import BotContext
from bot.db import transaction
from bot.errors import ImportFailed
from bot.models import Role
from bot.services import ledger
from handlers.common import addressed_to_bot, is_private, send
from handlers.measures import codes_in_reply, require_cadre
from handlers.render import esc

log = logging.getLogger(__name__)

# Not .txt, which `zhenggai import` reads (Excel's tab-separated text): in chat a .txt an admin
# sends may as well be a note or evidence.
TABLES = (".csv", ".tsv", ".xlsx", ".xlsm")
REGULATIONS = (".yaml", ".yml")
#: Bots may download files up to 20 MB (getFile).
MAX_BYTES = 20 * 1024 * 1024
#: Problems listed in the reply (the rest are counted): a chat is no place for a thousand lines.
SHOWN_PROBLEMS = 20


def importable(document: Document | None) -> bool:
    name = (document.file_name or "").lower() if document is not None else ""
    return name.endswith(TABLES + REGULATIONS)


def kinds_of(file_name: str, caption: str) -> tuple[str, ...]:
    """What the file may be, in the order tried: the regulations (YAML); the cadre list when the
    caption or the name says 干部; otherwise the 台账, or the cadre list when it has no 台账 header."""
    lowered = file_name.lower()
    if lowered.endswith(REGULATIONS):
        return ("regulations",)
    if "干部" in caption or "干部" in file_name or "cadre" in lowered:
        return ("cadres",)
    return ("measures", "cadres")


async def on_document(update: Update, context: BotContext) -> bool:
    """Import a file an admin sent in a private chat; False when this is no import (a file sent as
    evidence: its caption or the replied card names a measure; or the sender is no admin)."""
    message = update.effective_message
    if message is None or not is_private(update) or not importable(message.document):
        return False
    if not addressed_to_bot(update, context.services.bot_username):
        return False
    caption = (message.caption or "").strip()
    if context.services.answers.find_codes(caption) or codes_in_reply(context, message):
        return False
    async with transaction(context.services.factory) as session:
        cadre = await require_cadre(session, update)
    if cadre.role is not Role.ADMIN:
        return False
    document = message.document
    assert document is not None  # importable() checked it
    name = Path(document.file_name or "台账.xlsx").name
    if document.file_size and document.file_size > MAX_BYTES:
        await send(update, f"{esc(name)} 超过 20 MB，无法通过 Telegram 导入，请在服务器上用 "
                           "<code>zhenggai import</code> 导入。")
        return True
    kinds = kinds_of(name, caption)
    await send(update, f"正在导入 {esc(name)} ……")
    with tempfile.TemporaryDirectory(prefix="zhenggai-import-") as folder:
        path = Path(folder) / name
        telegram_file = await context.bot.get_file(document.file_id)
        await telegram_file.download_to_drive(path)
        first_failure: ImportFailed | None = None
        for kind in kinds:
            try:
                async with transaction(context.services.factory) as session:
                    report = await ledger.IMPORTERS[kind](session, path, actor=cadre)
                break
            except ImportFailed as failure:
                if failure.no_header and kind != kinds[-1]:
                    first_failure = failure
                    continue  # not the 台账: perhaps the cadre list
                # Neither header: what the 台账 needs is what to say.
                await send(update, _failure_text(first_failure if failure.no_header and first_failure else failure))
                return True
            except SQLAlchemyError:
                log.exception("chat import of %s failed", name)
                await send(update, f"{esc(name)}：写入数据库失败，文件中的数据均未导入。请稍后重试。")
                return True
    async with transaction(context.services.factory) as session:
        await context.services.answers.refresh(session)
    log.info("cadre %s imported %s: %s", cadre.id, name, report.summary())
    await send(update, f"{esc(name)} 导入成功。{esc(report.describe())}")
    return True


def _failure_text(failure: ImportFailed) -> str:
    return "\n".join(esc(line) for line in failure.lines(SHOWN_PROBLEMS))
