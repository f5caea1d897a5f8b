"""The `zhenggai` command line: one entry point for operators, cron and tests.

Messages for people are Simplified Chinese; `--json` output is for programs.
Exit codes: 0 success, 1 a problem with the input or data (message on stderr), 2 bad
usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import socket
import sys
from collections.abc import Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from bot.config import Settings, load_settings, unknown_env_keys
from bot.errors import ConfigError, ImportFailed, ZhenggaiError

if TYPE_CHECKING:
    from bot.services.cadres import InviteResult

log = logging.getLogger(__name__)

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


# ---- shared plumbing ----------------------------------------------------------------------------

class ProgressPrinter:
    """A progress bar on stderr for a terminal; sparse lines for logs and pipes."""

    def __init__(self, label: str, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.tty = stream.isatty()
        self._last_decile = -1
        self._open = False

    def __call__(self, done: int, total: int) -> None:
        if total < 200:  # small files finish before a bar is worth drawing
            return
        fraction = done / total if total else 1.0
        if self.tty:
            bar = "█" * int(fraction * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {fraction:6.1%}")
            if done >= total:
                self.stream.write("\n")
        else:
            decile = int(fraction * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label}：{fraction:.0%}\n")
        self._open = self.tty and done < total
        self.stream.flush()

    def close(self) -> None:
        """End a bar left unfinished (the import failed) so the message after it has its own line."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def _setup_logging(settings: Settings, *, one_shot: bool = False) -> None:
    from bot.logging_setup import add_secret, configure_logging

    level = settings.log_level
    if one_shot and "log_level" not in settings.model_fields_set:
        # A command that runs and ends (import, ask, cadre …) says what it did in Chinese on its
        # own; the services' English INFO lines are for the running bot's log, or LOG_LEVEL=INFO.
        level = "WARNING"
    configure_logging(level, settings.log_format)
    for secret in (settings.telegram_bot_token, settings.webhook_secret):
        if secret is not None:
            add_secret(secret.get_secret_value())


def _database_shown(settings: Settings) -> str:
    """DATABASE_URL as messages show it: the password masked."""
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def _explain(exc: Exception, settings: Settings) -> tuple[int, str] | None:
    """A failure to reach Telegram or the database, or a token Telegram refuses, in one line that
    names the variable to check (and never its secret); None for anything else."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from telegram.error import InvalidToken, NetworkError

    if isinstance(exc, InvalidToken):
        return 2, "配置错误：TELEGRAM_BOT_TOKEN 被 Telegram 拒绝（令牌无效或已被吊销），请向 @BotFather 核对令牌"
    if isinstance(exc, NetworkError):
        return 1, (f"错误：无法连接 Bot API（TELEGRAM_API_BASE_URL={settings.telegram_api_base_url}）："
                   "请检查网络、代理或该地址的服务是否在运行")
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror | OperationalError | InterfaceError
                  | DBAPIError) or type(exc).__module__.startswith("asyncpg"):
        url = _database_shown(settings)
        reasons: dict[type[Exception], str] = {ConnectionRefusedError: "连接被拒绝（数据库服务未运行或端口不对）",
                                               socket.gaierror: "找不到该主机"}
        reason = reasons.get(type(exc), type(exc).__name__)
        return 1, f"错误：无法连接数据库（DATABASE_URL={url}）：{reason}"
    return None


async def _open_database(settings: Settings) -> Any:
    """Engine and session factory, schema checked: SQLite is upgraded in place, PostgreSQL
    must be upgraded explicitly (several instances may share it)."""
    from bot import db

    engine = db.create_engine(settings.database_url)
    current = await db.current_revision(engine)
    if current != db.head_revision():
        if settings.is_sqlite:
            await db.upgrade(engine)
        else:
            await engine.dispose()
            raise ZhenggaiError(
                f"数据库结构版本为 {current or '空'}，需要 {db.head_revision()}：请先运行 zhenggai db upgrade"
            )
    return engine, db.create_session_factory(engine)


# ---- commands -----------------------------------------------------------------------------------

async def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    from bot import db

    engine = db.create_engine(settings.database_url)
    try:
        if args.db_command == "upgrade":
            await db.upgrade(engine, args.revision)
            print(f"数据库已升级到 {await db.current_revision(engine)}")
        elif args.db_command == "downgrade":
            if not args.yes:
                # Downgrading drops tables and their rows: the audit trail, bindings, evidence records.
                raise ZhenggaiError(
                    f"降级会删除新版本的表及其中的数据（降级到 base 会清空整个数据库：{_database_shown(settings)}）。"
                    "请先备份（SQLite：复制数据库文件；PostgreSQL：pg_dump），确认后加 --yes 重新运行")
            known = db.revisions()
            if args.revision != "base" and args.revision not in known:
                raise ZhenggaiError(f"没有数据库版本「{args.revision}」（可用：base、{'、'.join(known)}）")
            await db.downgrade(engine, args.revision)
            print(f"数据库已降级到 {await db.current_revision(engine) or 'base（空）'}")
        elif args.db_command == "current":
            current = await db.current_revision(engine)
            head = db.head_revision()
            state = "最新" if current == head else f"最新为 {head}，请运行 zhenggai db upgrade"
            print(f"当前版本：{current or '空'}（{state}）")
        elif args.db_command == "seed":
            await engine.dispose()
            engine, factory = await _open_database(settings)
            from bot.services.seed import seed_sample_data

            reports = await seed_sample_data(factory, settings.data_dir, only_if_empty=not args.force)
            if not reports:
                print("数据库中已有数据，未导入示例数据（使用 --force 强制导入）")
            for report in reports:
                print(report.summary())
    finally:
        await engine.dispose()
    return 0


async def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import transaction
    from bot.services import ledger

    importer = ledger.IMPORTERS[args.kind]
    path = Path(args.file)
    if not await asyncio.to_thread(path.is_file):
        raise ZhenggaiError(f"找不到文件：{path}")
    progress = ProgressPrinter(f"导入 {path.name}")
    try:
        engine, factory = await _open_database(settings)
        try:
            async with transaction(factory) as session:
                report = await importer(session, path, progress)
        finally:
            await engine.dispose()
    except (SQLAlchemyError, OSError) as exc:
        # The transaction was rolled back: say so in one line rather than with a traceback.
        log.debug("import of %s failed", path, exc_info=True)
        raise ZhenggaiError(f"{path.name}：{_database_failure(exc)}，文件中的数据均未导入") from None
    finally:
        progress.close()
    print(f"{path.name} 导入成功。{report.describe()}")
    return 0


def _database_failure(exc: Exception) -> str:
    from sqlalchemy.exc import IntegrityError, OperationalError

    if isinstance(exc, IntegrityError):
        return "写入数据库时发生冲突（可能有人同时在导入或修改同一数据）"
    if isinstance(exc, OperationalError | OSError):
        return "无法连接数据库或数据库繁忙"
    return "写入数据库失败"


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import transaction
    from bot.services import ledger

    path = Path(args.file)
    if not args.force and await asyncio.to_thread(path.exists):
        # The file may be the hand-kept 台账 this one was imported from, with columns (联系电话,
        # 备注) an export does not write: overwriting it would lose them.
        raise ZhenggaiError(f"目标文件已存在：{path}。如确要覆盖，请加 --force；或换一个文件名")
    progress = ProgressPrinter(f"导出 {path.name}")
    engine, factory = await _open_database(settings)
    try:
        async with transaction(factory) as session:
            count = await ledger.export_measures(session, path, chinese_headers=args.chinese_headers,
                                                 progress=progress)
    finally:
        progress.close()
        await engine.dispose()
    print(f"已导出 {count} 条整改措施到 {path}")
    return 0


async def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import transaction
    from bot.services.answers import AnswerEngine, record_miss
    from bot.services.phrasing import format_answer_text

    engine, factory = await _open_database(settings)
    try:
        answers = await AnswerEngine.load(factory, settings)
        # On stderr, so that --json output stays one object per line.
        if answers.document_count() == 0:
            print("提示：数据库中还没有规章制度和整改措施，所有问题都将无法回答。"
                  "请先运行 zhenggai db seed 导入示例数据，或用 zhenggai import 导入。", file=sys.stderr)
        if args.asker is not None and args.asker not in answers.people:
            print(f"提示：找不到干部「{args.asker}」，“我的整改”类问题不会列出任何措施。"
                  "用 zhenggai cadre list 查看干部名单。", file=sys.stderr)
        questions: Sequence[str] = [args.question] if args.question is not None else _stdin_lines()
        for question in questions:
            answer = answers.ask(question, asker=args.asker)
            async with transaction(factory) as session:
                if answer.is_miss and args.record:
                    await record_miss(session, answer.query)
                if args.json:
                    print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
                else:
                    print(await format_answer_text(session, answer, answers), flush=True)
    finally:
        await engine.dispose()
    return 0


def _stdin_lines() -> Sequence[str]:
    class _Lines(Sequence[str]):
        def __iter__(self) -> Any:
            for line in sys.stdin:
                yield line.rstrip("\n")

        def __len__(self) -> int:  # pragma: no cover - never asked
            return 0

        def __getitem__(self, index: Any) -> Any:  # pragma: no cover - never asked
            raise IndexError(index)

    return _Lines()


async def cmd_misses(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import transaction
    from bot.services.answers import list_misses

    engine, factory = await _open_database(settings)
    try:
        async with transaction(factory) as session:
            misses = await list_misses(session, include_resolved=args.all, limit=args.limit)
    finally:
        await engine.dispose()
    if args.json:
        print(json.dumps([m.to_json() for m in misses], ensure_ascii=False, indent=1))
        return 0
    if not misses:
        print("没有未能回答的问题。")
        return 0
    print(f"{'次数':>4}  {'最近一次':<16}  问题")
    for miss in misses:
        # Local time, as the bot shows it in chat.
        print(f"{miss.count:>4}  {miss.last_at.astimezone(settings.tz):%Y-%m-%d %H:%M}  {miss.query}")
    print("\n为问题添加说法：zhenggai alias add regulation KEY或标题 \"说法\"，"
          "或 alias add article KEY或标题 条号 \"说法\"，或 alias add measure 编号 \"说法\"")
    return 0


async def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import transaction
    from bot.services import measures
    from bot.services.phrasing import trail_entry

    engine, factory = await _open_database(settings)
    try:
        async with transaction(factory) as session:
            measure = await measures.get_measure(session, args.code)
            events = await measures.events_of(session, measure.code, actor_id=None)
            if args.json:
                rows = [{"at": e.at.isoformat(), "actor": e.actor.name if e.actor else None, "action": e.action,
                         "from": e.from_status.value if e.from_status else None,
                         "to": e.to_status.value if e.to_status else None, "note": e.note,
                         "evidence": e.evidence_kind, "details": e.details} for e in events]
                print(json.dumps({"code": measure.code, "events": rows}, ensure_ascii=False, indent=1))
                return 0
            print(f"{measure.code} 办理记录（共 {len(events)} 条）：")
            for event in events:
                print("  " + trail_entry(event, settings.tz))
    finally:
        await engine.dispose()
    return 0


async def cmd_alias(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import transaction
    from bot.services.answers import add_alias, list_aliases, remove_alias

    engine, factory = await _open_database(settings)
    try:
        async with transaction(factory) as session:
            if args.alias_command == "add":
                no = args.no if args.kind == "article" else None
                alias = await add_alias(session, args.kind, args.key, args.phrase, article_no=no)
                print(f"已添加说法「{alias.phrase}」→ {args.kind} {alias.target_key}"
                      + (f" 第{alias.article_no}条" if alias.article_no else ""))
            elif args.alias_command == "remove":
                await remove_alias(session, args.id)
                print(f"已删除说法 #{args.id}")
            else:
                for alias in await list_aliases(session):
                    target = alias.target_key + (f" 第{alias.article_no}条" if alias.article_no else "")
                    print(f"#{alias.id}  {alias.kind:<10} {target:<24} {alias.phrase}")
    finally:
        await engine.dispose()
    return 0


def _token(settings: Settings) -> str:
    if settings.telegram_bot_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN 未设置：在 .env 中填写 @BotFather 给的令牌；"
                          "想离线试用请运行 make demo（本地沙盒）")
    return settings.telegram_bot_token.get_secret_value()


def run_polling(settings: Settings) -> None:
    """Long polling against TELEGRAM_API_BASE_URL (blocks; Ctrl-C or SIGTERM stops it cleanly)."""
    from bot.app import allowed_updates, build_application

    application = build_application(settings, _token(settings))
    application.bot_data.own_signals = True
    application.bot_data.whole_process = True
    application.run_polling(allowed_updates=allowed_updates())


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    # Telegram delivers webhooks over HTTPS only; a self-hosted Bot API server (or the sandbox)
    # may also post to http://.
    schemes = ("https://",) if "api.telegram.org" in settings.telegram_api_base_url else ("https://", "http://")
    if args.webhook_url and not args.webhook_url.startswith(schemes):
        raise ZhenggaiError(f"--webhook-url 应为 {' 或 '.join(schemes)} 开头的公网地址（收到 {args.webhook_url}）")
    if not 1 <= args.port <= 65535:
        raise ZhenggaiError(f"--port 应在 1 到 65535 之间（收到 {args.port}）")
    if args.webhook_url:
        from bot.webhook import run_webhook

        run_webhook(settings, _token(settings), webhook_url=args.webhook_url, listen=args.listen, port=args.port)
    else:
        run_polling(settings)
    return 0


async def cmd_cadre(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import transaction
    from bot.services import cadres

    engine, factory = await _open_database(settings)
    try:
        async with transaction(factory) as session:
            if args.cadre_command == "invite" and args.unbound:
                username = args.bot_username or await _bot_username(settings)
                invites = await cadres.invite_unbound(session, actor_id=None, ttl_days=settings.invite_ttl_days,
                                                      bot_username=username)
                _print_invites(invites, args, settings)
            elif args.cadre_command == "invite":
                username = args.bot_username or await _bot_username(settings)
                result = await cadres.create_invite(session, args.name, actor_id=None,
                                                    ttl_days=settings.invite_ttl_days, bot_username=username)
                if args.json:
                    print(json.dumps({"name": result.name, "code": result.code, "link": result.link},
                                     ensure_ascii=False))
                else:
                    print(f"{result.name} 的邀请码：{result.code}（{settings.invite_ttl_days} 天内有效，仅可使用一次）")
                    print(f"链接：{result.link}")
                    print(f"或在与机器人的私聊中发送：/start {result.code}")
                if result.bound:
                    print(cadres.ALREADY_BOUND.format(name=result.name), file=sys.stderr)
            elif args.cadre_command == "unbind":
                cadre = await cadres.unbind(session, args.name, actor_id=None)
                print(f"已解除 {cadre.name} 与 Telegram 账号的绑定，未使用的邀请码已作废。")
            else:
                rows = await cadres.list_cadres(session)
                if args.json:
                    print(json.dumps([{"name": c.name, "unit": c.unit, "position": c.position,
                                       "role": c.role.value, "bound": c.is_bound} for c in rows],
                                     ensure_ascii=False, indent=1))
                elif not rows:
                    print(f"干部名单为空（数据库：{_database_shown(settings)}）。"
                          "请先导入：zhenggai import cadres 文件，或 zhenggai db seed 导入示例数据。", file=sys.stderr)
                else:
                    for c in rows:
                        state = "已绑定" if c.is_bound else "未绑定"
                        print(f"{c.name:<6} {c.role.label:<5} {state:<4} {c.unit} {c.position}")
    finally:
        await engine.dispose()
    return 0


def _print_invites(invites: Sequence[InviteResult], args: argparse.Namespace, settings: Settings) -> None:
    """`cadre invite --unbound`: the sheet to a file (--out), as JSON, or as lines."""
    from bot.services.cadres import invite_sheet

    if args.json:
        print(json.dumps([{"name": i.name, "unit": i.unit, "code": i.code, "link": i.link} for i in invites],
                         ensure_ascii=False, indent=1))
        return
    if not invites:
        print("所有干部都已绑定，无需生成邀请码。")
        return
    if args.out:
        Path(args.out).write_bytes(invite_sheet(invites, settings.tz))
        print(f"已为 {len(invites)} 名未绑定的干部生成邀请码，写入 {args.out}"
              f"（{settings.invite_ttl_days} 天内有效，仅可使用一次；他们此前未使用的邀请码已作废）。")
        print("邀请码相当于登录凭证：请逐人私下发送，用后删除此文件。")
        return
    for invite in invites:
        print(f"{invite.name}\t{invite.unit}\t{invite.code}\t{invite.link}")
    print(f"共 {len(invites)} 人（{settings.invite_ttl_days} 天内有效，仅可使用一次；他们此前未使用的邀请码已作废）。",
          file=sys.stderr)


async def _bot_username(settings: Settings) -> str:
    """The bot's @username for invite links: asked from the Bot API when a token is set."""
    if settings.telegram_bot_token is None:
        # Codes made before the token is set still work once it is, but the links name the demo bot.
        print("注意：未设置 TELEGRAM_BOT_TOKEN，链接中的机器人用户名 zhenggai_demo_bot 仅供演示；"
              "正式发放前请设置令牌，或用 --bot-username 指定本局机器人的用户名。", file=sys.stderr)
        return "zhenggai_demo_bot"
    from telegram import Bot
    from telegram.error import InvalidToken

    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.bot_api_url,
              base_file_url=settings.bot_file_url)
    try:
        async with bot:
            return bot.username
    except InvalidToken:
        raise ConfigError("TELEGRAM_BOT_TOKEN 被 Telegram 拒绝（令牌无效或已被吊销），请向 @BotFather 核对令牌；"
                          "或用 --bot-username 指定机器人用户名") from None
    except Exception as exc:
        raise ZhenggaiError(f"无法连接 Telegram 获取机器人用户名（{type(exc).__name__}）；"
                            "可用 --bot-username 指定") from None


async def cmd_remind(settings: Settings, args: argparse.Namespace) -> int:
    """One reminder sweep (for cron, operations and tests), then delivery if a token is set."""
    import datetime as dt

    from handlers.reminders import run_sweep

    now = dt.datetime.now(settings.tz)
    if args.now:
        try:
            now = dt.datetime.fromisoformat(args.now)
        except ValueError:
            raise ZhenggaiError(f"--now 应为 ISO-8601 时间，如 2026-12-01T09:00+08:00，收到「{args.now}」") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=settings.tz)
    today = now.astimezone(settings.tz).date()
    engine, factory = await _open_database(settings)
    try:
        result = await run_sweep(factory, settings, today, dry_run=args.dry_run)
        delivered = None
        if not args.dry_run and settings.telegram_bot_token is not None:
            delivered = await _deliver_now(settings, factory)
    finally:
        await engine.dispose()
    if args.json:
        out = result.to_json()
        if delivered is not None:
            out["delivery"] = {"sent": delivered.sent, "retried": delivered.retried, "failed": delivered.failed,
                               "rate_limited": delivered.rate_limited}
        print(json.dumps(out, ensure_ascii=False))
        return 0
    if not result.workday:
        print(f"{today} 不是工作日，不发送催办。")
        return 0
    if args.dry_run:
        print(f"{today}：到期提醒 {len(result.due)} 项，其中新提醒 {len(result.new)} 项，"
              f"合并为 {result.digests} 条消息（演练，未记录；另有管理员每日概览）。")
    else:
        print(f"{today}：到期提醒 {len(result.due)} 项，其中新记录 {len(result.new)} 项，消息 {result.digests} 条。")
    unbound = set(result.unbound)
    for item in result.new[:50]:
        when = f"剩 {item.days_left} 天" if item.days_left >= 0 else f"逾期 {-item.days_left} 天"
        label = KIND_LABELS.get(item.kind, f"提前 {item.kind.removeprefix('before')} 天提醒")
        name = result.names.get(item.cadre_id, str(item.cadre_id))
        # Who has not bound Telegram gets nothing: said on the line, not only in the total below.
        cannot = "，未绑定、无法送达" if name in unbound else ""
        print(f"  {item.candidate.code} → {name}：{label}（{when}{cannot}）")
    if unbound:
        print(f"未绑定 Telegram、无法送达（{len(unbound)} 人，可用 zhenggai cadre invite --unbound 生成邀请码）："
              f"{'、'.join(sorted(unbound))}")
    if delivered is not None:
        print(f"已发送 {delivered.sent} 条，稍后重试 {delivered.retried} 条，失败 {delivered.failed} 条。")
    elif not args.dry_run:
        print("未配置 TELEGRAM_BOT_TOKEN：消息已记录在待发送队列，运行中的机器人会发送。")
    return 0


KIND_LABELS = {"overdue": "逾期催办", "escalate": "逾期升级督办（分管领导）", "due": "今日到期"}


async def _deliver_now(settings: Settings, factory: Any) -> Any:
    import datetime as dt

    from telegram import Bot

    from bot.delivery import Delivery

    assert settings.telegram_bot_token is not None
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.bot_api_url,
              base_file_url=settings.bot_file_url)
    async with bot:
        delivery = Delivery(bot, factory, stale_after=dt.timedelta(seconds=settings.outbox_stale_seconds))
        return await delivery.deliver_due()


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return await run_demo(settings, args)


# ---- argument parsing ---------------------------------------------------------------------------

# argparse writes its own words (usage:, options, error:, invalid choice …) in English, from a
# gettext catalogue Python does not ship in Chinese: the headings are set here, and the errors
# operators meet are put into Chinese (anything else is shown as argparse says it).
_ARGPARSE_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"the following arguments are required: (.+)"), r"缺少必需的参数：\1"),
    (re.compile(r"argument (\S+): invalid choice: (.+?) \(choose from (.+)\)"), r"参数 \1 的值 \2 无效，可选：\3"),
    (re.compile(r"argument (\S+): invalid int value: (.+)"), r"参数 \1 应为整数，收到 \2"),
    (re.compile(r"argument (\S+): expected one argument"), r"参数 \1 后面需要一个值"),
    (re.compile(r"unrecognized arguments: (.+)"), r"无法识别的参数：\1"),
]


def _in_chinese(message: str) -> str:
    for pattern, chinese in _ARGPARSE_ERRORS:
        if pattern.fullmatch(message):
            return pattern.sub(chinese, message)
    return message


class _ChineseHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[argparse._MutuallyExclusiveGroup], prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class ChineseArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose headings, -h and usual errors are in Chinese (subcommands too:
    argparse builds them with the parent's class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _ChineseHelpFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示此帮助并退出")

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}：错误：{_in_chinese(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ChineseArgumentParser(
        prog="zhenggai",
        description="整改助手：整改措施台账、规章制度问答与催办的 Telegram 机器人。",
        epilog="配置通过环境变量或当前目录的 .env 文件设置，见 .env.example。",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")

    demo = sub.add_parser("demo", help="用示例数据启动演示（无令牌时使用本地沙盒聊天）",
                          description="导入示例数据并启动机器人：未设置 TELEGRAM_BOT_TOKEN 时在本地沙盒中运行，"
                                      "并打开终端聊天窗口。")
    demo.add_argument("--as", dest="as_name", metavar="姓名", help="以哪位干部的身份聊天（默认交互选择）")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="运行机器人（长轮询；或 --webhook-url 使用 Webhook）",
                         description="运行机器人，直到 Ctrl-C 或 SIGTERM。默认长轮询 TELEGRAM_API_BASE_URL"
                                     "（只能运行一个进程）；给出 --webhook-url 则监听 Webhook"
                                     "（可多实例共用一个数据库）。需要 TELEGRAM_BOT_TOKEN；"
                                     "没有令牌时请用 zhenggai demo 在本地沙盒中试用。")
    run.add_argument("--webhook-url", help="Telegram 推送更新的公网地址，如 https://bot.example.cn/telegram")
    run.add_argument("--listen", default="0.0.0.0", help="Webhook 监听地址（默认 0.0.0.0）")
    run.add_argument("--port", type=int, default=8080, help="Webhook 监听端口（默认 8080）")
    run.set_defaults(func=cmd_run, sync=True)

    cadre = sub.add_parser("cadre", help="干部：生成邀请码、解除绑定、列表")
    csub = cadre.add_subparsers(dest="cadre_command", required=True, metavar="操作")
    inv = csub.add_parser("invite", help="生成一次性邀请码（默认 7 天有效）")
    inv.add_argument("name", nargs="?", help="干部姓名（或用 --unbound 为所有未绑定的干部生成）")
    inv.add_argument("--unbound", action="store_true", help="为所有尚未绑定的干部各生成一个邀请码（上线时分发用）")
    inv.add_argument("--out", metavar="FILE.csv", help="与 --unbound 合用：把邀请码表写入 CSV（可用 Excel 打开）")
    inv.add_argument("--json", action="store_true", help='输出 {"name","code","link"}（--unbound 时为列表）')
    inv.add_argument("--bot-username", help="邀请链接中的机器人用户名（默认向 Bot API 查询）")
    inv.set_defaults(invite_parser=inv)
    unb = csub.add_parser("unbind", help="解除 Telegram 绑定")
    unb.add_argument("name", help="干部姓名")
    lst = csub.add_parser("list", help="列出干部及绑定状态", description="每行：姓名、角色、是否绑定、单位、职务。")
    lst.add_argument("--json", action="store_true", help="输出 JSON 列表")
    cadre.set_defaults(func=cmd_cadre)

    ask = sub.add_parser("ask", help="提问（规章制度、条款、整改措施）",
                         description="回答一个问题；不给出问题时从标准输入逐行读取。")
    ask.add_argument("question", nargs="?", help="问题文本；省略则每行一个问题从标准输入读取")
    ask.add_argument("--json", action="store_true", help="每个问题输出一行 JSON")
    ask.add_argument("--as", dest="asker", metavar="姓名", help="以某位干部的身份提问（用于“我的整改”）")
    ask.add_argument("--record", action="store_true",
                     help="把答不上的问题记入 zhenggai misses（默认不记：终端里的试问不混入员工的提问）")
    ask.set_defaults(func=cmd_ask)

    imp = sub.add_parser("import", help="导入规章制度（YAML）、干部或整改措施（CSV/XLSX/制表符分隔的 TXT）",
                         description="全部校验通过才写入；任何一行有错则整个文件不导入。表头可用中文："
                                     "干部名单 姓名,单位,职务,角色；整改台账 编号,问题,整改措施,类别,责任单位,责任人,"
                                     "分管领导,完成时限,状态,进展"
                                     "（完成时限如 2026-12-31、2026年12月底、2026年底前 或“长期坚持”）。"
                                     "详见 README 的 Import formats 一节。")
    imp.add_argument("kind", choices=["regulations", "cadres", "measures"], help="导入的内容")
    imp.add_argument("file", help="文件路径")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", help="导出整改措施台账（CSV/XLSX）",
                         description="把全部整改措施写入文件；导出的文件可直接再导入。"
                                     "目标文件已存在时不会覆盖，除非加 --force。")
    exp.add_argument("kind", choices=["measures"], help="导出的内容")
    exp.add_argument("file", help="目标文件，扩展名 .csv 或 .xlsx")
    exp.add_argument("--chinese-headers", action="store_true", help="使用中文表头（编号,问题,整改措施…）")
    exp.add_argument("--force", action="store_true", help="覆盖已存在的目标文件")
    exp.set_defaults(func=cmd_export)

    dbp = sub.add_parser("db", help="数据库：升级、降级、查看版本、导入示例数据")
    dbsub = dbp.add_subparsers(dest="db_command", required=True, metavar="操作")
    up = dbsub.add_parser("upgrade", help="升级到最新结构")
    up.add_argument("revision", nargs="?", default="head", help="目标版本，默认 head")
    down = dbsub.add_parser("downgrade", help="降级到指定版本（base 为清空）")
    down.add_argument("revision", help="目标版本，如 base")
    down.add_argument("--yes", action="store_true", help="确认降级（会删除数据，请先备份）")
    dbsub.add_parser("current", help="显示当前结构版本")
    seed = dbsub.add_parser("seed", help="导入 data/ 下的示例数据（数据库为空时）")
    seed.add_argument("--force", action="store_true", help="即使已有数据也导入（按编号更新）")
    dbp.set_defaults(func=cmd_db)

    remind = sub.add_parser("remind", help="执行一次催办扫描（供 cron、运维和测试使用）",
                            description="计算今天到期的催办，记录并发送（已发送的不会重复）。")
    remind.add_argument("--now", help="以此时间为“现在”（ISO-8601，如 2026-12-01T09:00+08:00）")
    remind.add_argument("--dry-run", action="store_true", help="只列出将发送的内容，不记录、不发送")
    remind.add_argument("--json", action="store_true", help="输出 JSON")
    remind.set_defaults(func=cmd_remind)

    history = sub.add_parser("history", help="整改措施的办理记录（谁在何时做了什么）")
    history.add_argument("code", metavar="编号", help="整改措施编号，如 ZG2025009")
    history.add_argument("--json", action="store_true", help="输出 JSON（时间为 UTC）")
    history.set_defaults(func=cmd_history)

    misses = sub.add_parser("misses", help="列出机器人未能回答、或被点了“👎 没答对”的问题",
                            description="按被问次数排列；用 zhenggai alias add 把问题归入应回答它的制度、条款或措施。")
    misses.add_argument("--all", action="store_true", help="包括已处理的")
    misses.add_argument("--limit", type=int, default=50, help="最多列出多少条（默认 50）")
    misses.add_argument("--json", action="store_true", help="输出 JSON")
    misses.set_defaults(func=cmd_misses)

    alias = sub.add_parser("alias", help="为规章制度、条款或整改措施添加其他说法")
    asub = alias.add_subparsers(dest="alias_command", required=True, metavar="操作")
    add = asub.add_parser("add", help="添加说法，立即生效")
    add.add_argument("kind", choices=["regulation", "article", "measure"])
    add.add_argument("key", help="规章制度 key 或标题（如 bureau-work-rules 或 《市教育局工作规程》），或整改措施编号")
    add.add_argument("rest", nargs="+", metavar="[条号] 说法",
                     help="article 需先给条号（3、第3条 或 第三条），再给说法；一次添加一个说法（空格照原样保留）")
    rem = asub.add_parser("remove", help="删除说法")
    rem.add_argument("id", type=int, help="说法的编号（zhenggai alias list 中的 #N）")
    asub.add_parser("list", help="列出所有说法")
    alias.set_defaults(func=cmd_alias)
    return parser


def _finish_alias_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if getattr(args, "alias_command", None) != "add":
        return
    from bot.services.text import chinese_to_int

    rest: list[str] = args.rest
    args.no = None
    if args.kind == "article":
        number = re.fullmatch(r"第?([0-9零〇一二两三四五六七八九十百千]+)条?", rest[0]) if len(rest) >= 2 else None
        no = chinese_to_int(number.group(1)) if number else None
        if not no:
            parser.error("alias add article 需要：KEY 条号 说法（条号如 3、第3条 或 第三条）")
        args.no = no
        rest = rest[1:]
    args.phrase = " ".join(rest)


def _check_invite_args(args: argparse.Namespace) -> None:
    if getattr(args, "cadre_command", None) != "invite":
        return
    if args.unbound == bool(args.name):
        args.invite_parser.error("需要干部姓名，或 --unbound（二者选一）")
    if args.out and not args.unbound:
        args.invite_parser.error("--out 只能与 --unbound 一起使用")
    if args.out and not args.out.lower().endswith(".csv"):
        # The sheet is CSV (Excel opens it); an .xlsx name would make Excel refuse the file.
        args.invite_parser.error(f"--out 应为 .csv 文件（收到 {args.out}）；Excel 可直接打开 CSV")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _finish_alias_args(parser, args)
    _check_invite_args(args)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    _setup_logging(settings, one_shot=args.command not in ("run", "demo"))
    for note in unknown_env_keys():
        log.warning(note)
    try:
        if getattr(args, "sync", False):
            return int(args.func(settings, args))
        func: Command = args.func
        return asyncio.run(func(settings, args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ImportFailed as exc:
        # One line when one thing is wrong; otherwise every problem kept, to fix them in one go.
        print(f"错误：{exc}" if exc.total == 1 else "错误：" + "\n".join(exc.lines()), file=sys.stderr)
        return 1
    except ZhenggaiError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n已中断。", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `zhenggai cadre list | head`: the reader stopped reading; nothing is wrong. Python would
        # print a traceback flushing stdout at exit, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if exc.filename is not None:
            # --out nodir/x.csv, export to a read-only place: name the file and why, no traceback.
            print(f"错误：无法写入 {exc.filename}：{_file_reason(exc)}", file=sys.stderr)
            return 1
        explained = _explain(exc, settings)  # a connection refused, a host not found
        if explained is None:
            raise
        print(explained[1], file=sys.stderr)
        return explained[0]
    except Exception as exc:
        explained = _explain(exc, settings)
        if explained is None:
            raise
        print(explained[1], file=sys.stderr)
        return explained[0]


def _file_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "所在文件夹不存在"
    if isinstance(exc, IsADirectoryError):
        return "这是一个文件夹，请给出文件名"
    if isinstance(exc, PermissionError):
        return "没有写入权限"
    return exc.strerror or "读写错误"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
