"""Every Telegram handler, registered in one ordered list (first match wins within a group)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import buttons, measures, messages, misses, onboarding, questions, reports
from handlers.common import new_action, user_facing
from handlers.errors import on_error

if TYPE_CHECKING:
    from bot.app import BotApplication


#: Messages the bot cannot read (it answers them in private chats rather than stay silent).
_UNREADABLE = (filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.Sticker.ALL | filters.LOCATION
               | filters.CONTACT | filters.POLL | filters.Dice.ALL)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    commands = [
        ("start", onboarding.start),
        ("help", onboarding.help_command),
        ("invite", onboarding.invite),
        ("cancel", onboarding.cancel),
        ("regs", questions.regs),
        ("mine", measures.mine),
        ("status", measures.status),
        ("overdue", measures.overdue),
        ("todo", measures.todo),
        ("done", measures.done_command),
        ("verify", measures.verify_command),
        ("reject", measures.reject_command),
        ("extend", measures.extend_command),
        ("history", measures.history_command),
        ("report", reports.report),
        ("export", reports.export),
        ("misses", misses.misses_command),
    ]
    return [
        # Every command but /cancel (which says what it dropped) drops a question left open.
        *(CommandHandler(name, user_facing(callback if name == "cancel" else new_action(callback)))
          for name, callback in commands),
        CallbackQueryHandler(user_facing(buttons.on_button)),
        MessageHandler(filters.PHOTO | filters.VIDEO | filters.Document.ALL, user_facing(messages.on_media)),
        MessageHandler(filters.TEXT & ~filters.COMMAND, user_facing(messages.on_text)),
        MessageHandler(filters.ChatType.PRIVATE & _UNREADABLE, user_facing(messages.on_other)),
        MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, user_facing(onboarding.unknown_command)),
    ]


def register(application: BotApplication) -> None:
    application.add_handlers(handlers())
    application.add_error_handler(on_error)
