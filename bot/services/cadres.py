"""Cadres and their Telegram accounts: invites, binding, unbinding, look-ups.

Nobody is trusted by Telegram id alone. An admin (or an operator on the command line) issues
a single-use invite code for a named cadre; whoever opens the bot with that code becomes that
cadre. Only the code's SHA-256 is stored, and failed tries are rate-limited per Telegram user.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ConflictError, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from bot.models import BindAttempt, Cadre, Invite, Role, utcnow
from bot.services.text import clean_display, person_name

log = logging.getLogger(__name__)

#: No 0/O, 1/I/L: codes are read off a screen or a printout and typed by hand.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
#: Failed tries allowed per Telegram user within `ATTEMPT_WINDOW`; the next one is refused unchecked.
MAX_FAILED_ATTEMPTS = 5
ATTEMPT_WINDOW = dt.timedelta(hours=1)

#: The one answer for a wrong, used or expired code: an attacker learns nothing from it.
INVALID_CODE_MESSAGE = "邀请码无效、已使用或已过期，请向管理员重新索取。"
TOO_MANY_ATTEMPTS_MESSAGE = "尝试次数过多，请一小时后再试"


@dataclass(frozen=True)
class InviteResult:
    """A freshly issued invite. `code` exists only here: the database keeps its hash."""

    name: str
    code: str
    link: str
    expires_at: dt.datetime
    unit: str = ""
    position: str = ""
    bound: bool = False  # the cadre is bound already: the code moves the binding to whoever uses it


@dataclass(frozen=True)
class BindResult:
    """The outcome of `bind`. A bad code is a result, not an exception, so that the caller's
    transaction commits the failed attempt (an exception would roll it back and defeat the
    rate limit); `unwrap()` after the commit turns it into the usual InvalidInput."""

    cadre: Cadre | None

    @property
    def ok(self) -> bool:
        return self.cadre is not None

    def unwrap(self) -> Cadre:
        if self.cadre is None:
            raise InvalidInput(INVALID_CODE_MESSAGE)
        return self.cadre


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(typed: str) -> str:
    """What a person typed or pasted → the canonical code: full-width folded, upper-case,
    without spaces or dashes (codes are often read out in groups: ABCDE-FGHJK)."""
    text = unicodedata.normalize("NFKC", typed).strip().upper()
    return "".join(c for c in text if not c.isspace() and c not in "-_—–")


def hash_code(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


#: Said with a code for a cadre who is bound already (a new phone, or a mistake).
ALREADY_BOUND = ("注意：{name} 已绑定 Telegram 账号。此邀请码被使用后，绑定将转到使用它的账号，原账号不再收到消息；"
                 "如无需更换，不发出此邀请码即可（它不影响现有绑定）。")


# ---- look-ups -----------------------------------------------------------------------------------

async def get_cadre(session: AsyncSession, cadre_id: int) -> Cadre:
    cadre = await session.get(Cadre, cadre_id)
    if cadre is None:
        raise NotFound("找不到您的干部信息，请联系管理员重新绑定。")
    return cadre


async def cadre_by_name(session: AsyncSession, name: str) -> Cadre:
    name = person_name(name)
    cadre = (await session.scalars(select(Cadre).where(Cadre.name == name))).first()
    if cadre is None:
        from rapidfuzz import fuzz, process

        from bot.services.retrieval import pinyin_of

        names = list(await session.scalars(select(Cadre.name)))
        close = [n for n, _, _ in process.extract(name, names, scorer=fuzz.WRatio, limit=3, score_cutoff=60)]
        # 张卫 for 张伟: an IME slip sounds the same.
        close += [n for n in names if n not in close and pinyin_of(n) == pinyin_of(name)][: 3 - len(close)]
        hint = f"。名单中相近的：{'、'.join(close)}" if close else "。新干部请先由管理员导入干部名单"
        raise NotFound(f"干部名单中没有「{clean_display(name, 32)}」{hint}")
    return cadre


#: Built once: every command looks its sender up (see pending.sender on why).
_BY_TELEGRAM = select(Cadre).where(Cadre.telegram_user_id == bindparam("user_id"))


async def cadre_by_telegram(session: AsyncSession, telegram_user_id: int) -> Cadre | None:
    return (await session.scalars(_BY_TELEGRAM, {"user_id": telegram_user_id})).first()


async def admins(session: AsyncSession) -> list[Cadre]:
    return list(await session.scalars(select(Cadre).where(Cadre.role == Role.ADMIN).order_by(Cadre.id)))


async def admin_ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(Cadre.id).where(Cadre.role == Role.ADMIN).order_by(Cadre.id)))


async def list_cadres(session: AsyncSession) -> list[Cadre]:
    # By id, i.e. the order of the imported list: name order differs between SQLite and PostgreSQL.
    return list(await session.scalars(select(Cadre).order_by(Cadre.id)))


@dataclass(frozen=True)
class Unbound:
    """A cadre not yet bound to Telegram, and until when their latest unused code works (if any)."""

    cadre: Cadre
    code_valid_until: dt.datetime | None


async def unbound_cadres(session: AsyncSession, now: dt.datetime | None = None) -> list[Unbound]:
    """Who has not bound yet, in the order of the imported list, with their open invitation."""
    now = now or utcnow()
    valid = dict((await session.execute(
        select(Invite.cadre_id, func.max(Invite.expires_at))
        .where(Invite.used_at.is_(None), Invite.expires_at > now).group_by(Invite.cadre_id)
    )).tuples().all())
    cadres = await session.scalars(select(Cadre).where(Cadre.telegram_user_id.is_(None)).order_by(Cadre.id))
    return [Unbound(cadre, valid.get(cadre.id)) for cadre in cadres]


async def _require_admin(session: AsyncSession, actor_id: int | None, message: str) -> Cadre | None:
    """None stands for an operator on the command line, who may do anything."""
    if actor_id is None:
        return None
    actor = await session.get(Cadre, actor_id)
    if actor is None or actor.role != Role.ADMIN:
        raise PermissionDenied(message)
    return actor


# ---- invites ------------------------------------------------------------------------------------

async def create_invite(
    session: AsyncSession,
    cadre_name: str,
    *,
    actor_id: int | None,
    ttl_days: int,
    bot_username: str,
    now: dt.datetime | None = None,
) -> InviteResult:
    """Issue a single-use code for `cadre_name`; earlier unused codes for that cadre stop working."""
    await _require_admin(session, actor_id, "只有管理员可以生成邀请码")
    if ttl_days < 1:
        raise InvalidInput("邀请码有效期至少为 1 天")
    cadre = await cadre_by_name(session, cadre_name)
    log.info("invite issued for cadre %s by %s, valid %d days", cadre.id, actor_id or "operator", ttl_days)
    return await _issue(session, cadre, actor_id=actor_id, ttl_days=ttl_days, bot_username=bot_username,
                        now=now or utcnow())


async def invite_unbound(
    session: AsyncSession,
    *,
    actor_id: int | None,
    ttl_days: int,
    bot_username: str,
    now: dt.datetime | None = None,
) -> list[InviteResult]:
    """A code for every cadre not yet bound, in the order of the imported list: the sheet an admin
    hands out when the bot is rolled out. Earlier unused codes of those cadres stop working."""
    await _require_admin(session, actor_id, "只有管理员可以生成邀请码")
    if ttl_days < 1:
        raise InvalidInput("邀请码有效期至少为 1 天")
    now = now or utcnow()
    unbound = await session.scalars(select(Cadre).where(Cadre.telegram_user_id.is_(None)).order_by(Cadre.id))
    issued = [await _issue(session, cadre, actor_id=actor_id, ttl_days=ttl_days, bot_username=bot_username, now=now)
              for cadre in list(unbound)]
    log.info("invites issued for %d unbound cadres by %s, valid %d days", len(issued), actor_id or "operator",
             ttl_days)
    return issued


#: Columns of the invitation sheet (`invite_sheet`).
SHEET_HEADER = ("姓名", "单位", "职务", "邀请码", "链接", "有效期至")


def invite_sheet(invites: Sequence[InviteResult], tz: dt.tzinfo) -> bytes:
    """The codes as a CSV an admin can open in Excel (UTF-8 with BOM) to hand them out."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SHEET_HEADER)
    for invite in invites:
        writer.writerow([invite.name, invite.unit, invite.position, invite.code, invite.link,
                         f"{invite.expires_at.astimezone(tz):%Y-%m-%d %H:%M}"])
    return out.getvalue().encode("utf-8-sig")


async def _issue(session: AsyncSession, cadre: Cadre, *, actor_id: int | None, ttl_days: int, bot_username: str,
                 now: dt.datetime) -> InviteResult:
    # A re-issue usually means the old code went astray: retire it rather than leave two valid.
    await session.execute(
        update(Invite)
        .where(Invite.cadre_id == cadre.id, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(expires_at=now)
    )
    code = new_code()
    expires_at = now + dt.timedelta(days=ttl_days)
    session.add(Invite(cadre_id=cadre.id, code_hash=hash_code(code), created_at=now, expires_at=expires_at,
                       created_by_id=actor_id))
    await session.flush()
    link = f"https://t.me/{bot_username.strip().lstrip('@')}?start={code}"
    return InviteResult(name=cadre.name, code=code, link=link, expires_at=expires_at, unit=cadre.unit,
                        position=cadre.position, bound=cadre.telegram_user_id is not None)


async def _failed_attempts(session: AsyncSession, telegram_user_id: int, now: dt.datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(BindAttempt)
        .where(
            BindAttempt.telegram_user_id == telegram_user_id,
            BindAttempt.success.is_(False),
            BindAttempt.at > now - ATTEMPT_WINDOW,
        )
    )
    return count or 0


async def bind(session: AsyncSession, code: str, telegram_user_id: int, now: dt.datetime) -> BindResult:
    """Bind a Telegram account to the cadre an invite code was issued for.

    A wrong, used or expired code returns a failed `BindResult` (commit, then `unwrap()`).
    Raises InvalidInput when this account already failed `MAX_FAILED_ATTEMPTS` times within the
    hour (the code is not even looked at), and InvalidTransition when the account is already
    bound to another cadre. A cadre bound to another account is moved to this one.
    """
    if await _failed_attempts(session, telegram_user_id, now) >= MAX_FAILED_ATTEMPTS:
        log.warning("bind refused: too many failed attempts from telegram user %s", telegram_user_id)
        raise InvalidInput(TOO_MANY_ATTEMPTS_MESSAGE)

    invite = (await session.scalars(select(Invite).where(Invite.code_hash == hash_code(code)))).first()
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        session.add(BindAttempt(telegram_user_id=telegram_user_id, at=now, success=False))
        await session.flush()
        log.info("bind failed for telegram user %s (%s)", telegram_user_id,
                 "unknown code" if invite is None else "used" if invite.used_at else "expired")
        return BindResult(None)

    cadre = await get_cadre(session, invite.cadre_id)
    current = await cadre_by_telegram(session, telegram_user_id)
    if current is not None and current.id != cadre.id:
        raise InvalidTransition(f"您的 Telegram 账号已绑定为「{current.name}」，如需更换请联系管理员先解除绑定。")

    # Conditional update: of two people racing with one code, exactly one gets it.
    claimed = await session.execute(
        update(Invite).where(Invite.id == invite.id, Invite.used_at.is_(None)).values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        session.add(BindAttempt(telegram_user_id=telegram_user_id, at=now, success=False))
        await session.flush()
        return BindResult(None)

    if cadre.telegram_user_id is not None and cadre.telegram_user_id != telegram_user_id:
        # The admin issued this invite on purpose (new phone, new account): the binding moves.
        log.warning("cadre %s moves from telegram user %s to %s", cadre.id, cadre.telegram_user_id,
                    telegram_user_id)
    cadre.telegram_user_id = telegram_user_id
    cadre.bound_at = now
    cadre.unreachable_since = None
    session.add(BindAttempt(telegram_user_id=telegram_user_id, at=now, success=True))
    try:
        await session.flush()
    except IntegrityError as exc:  # the same account bound elsewhere at this very moment
        raise ConflictError("绑定时发生冲突，请稍后重试。") from exc
    log.info("cadre %s bound to telegram user %s", cadre.id, telegram_user_id)
    return BindResult(cadre)


async def unbind(
    session: AsyncSession, name: str, *, actor_id: int | None, now: dt.datetime | None = None
) -> Cadre:
    """Detach a cadre's Telegram account; their outstanding invite codes stop working too."""
    await _require_admin(session, actor_id, "只有管理员可以解除绑定")
    cadre = await cadre_by_name(session, name)
    if cadre.telegram_user_id is None:
        raise InvalidTransition(f"「{cadre.name}」尚未绑定 Telegram 账号")
    now = now or utcnow()
    await session.execute(
        update(Invite)
        .where(Invite.cadre_id == cadre.id, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(expires_at=now)
    )
    log.info("cadre %s unbound from telegram user %s by %s", cadre.id, cadre.telegram_user_id,
             actor_id or "operator")
    cadre.telegram_user_id = None
    cadre.bound_at = None
    cadre.unreachable_since = None
    await session.flush()
    return cadre
