"""The data model (SQLAlchemy 2, typed). Portable: SQLite and PostgreSQL, no dialect-only SQL.

Times are stored in UTC and always come back timezone-aware (`UTCDateTime`); calendar
dates (deadlines, effective dates) are plain `date`s in the bureau's time zone.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy import text as sql_text  # `text` is also a column name below
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out — on SQLite too, which keeps no offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    # Deterministic constraint names: Alembic needs them to alter tables on SQLite and PostgreSQL alike.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Role(enum.StrEnum):
    ADMIN = "admin"
    LEADER = "leader"
    CADRE = "cadre"

    @property
    def label(self) -> str:
        return {"admin": "管理员", "leader": "分管领导", "cadre": "责任人"}[self.value]


class MeasureStatus(enum.StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"  # reported done by the owner, awaiting sign-off
    CLOSED = "closed"  # verified and signed off (销号)

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        """Still the owner's job: reminders and overdue lists apply."""
        return self in (MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS)

    @property
    def stage(self) -> int:
        """0 still to do, 1 awaiting sign-off, 2 signed off: the order lists of measures keep, so
        that a list cut short never hides an open measure behind closed ones."""
        return 0 if self.is_open else 1 if self is MeasureStatus.DONE else 2


STATUS_LABELS: dict[MeasureStatus, str] = {
    MeasureStatus.NOT_STARTED: "未开始",
    MeasureStatus.IN_PROGRESS: "进行中",
    MeasureStatus.DONE: "已完成",
    MeasureStatus.CLOSED: "已销号",
}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR + CHECK rather than a native type: identical on both databases.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Regulation(Base):
    __tablename__ = "regulations"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(256))
    issuer: Mapped[str] = mapped_column(String(128), default="")
    effective: Mapped[dt.date | None] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    articles: Mapped[list[Article]] = relationship(
        back_populates="regulation",
        cascade="all, delete-orphan",
        order_by="Article.no",
    )


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("regulation_id", "no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    regulation_id: Mapped[int] = mapped_column(ForeignKey("regulations.id", ondelete="CASCADE"), index=True)
    no: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)

    regulation: Mapped[Regulation] = relationship(back_populates="articles")


class Cadre(Base):
    __tablename__ = "cadres"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    unit: Mapped[str] = mapped_column(String(128), default="")
    position: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.CADRE)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    bound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when Telegram answers 403 (blocked, or never pressed Start); cleared on the next message.
    unreachable_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_bound(self) -> bool:
        return self.telegram_user_id is not None


class Measure(Base):
    __tablename__ = "measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    problem: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64), default="")
    unit: Mapped[str] = mapped_column(String(128), default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="RESTRICT"), index=True)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id", ondelete="RESTRICT"), index=True)
    # None: an open-ended measure (长期坚持) — listed, never overdue, never reminded.
    deadline: Mapped[dt.date | None] = mapped_column(Date, index=True)
    status: Mapped[MeasureStatus] = mapped_column(
        _enum(MeasureStatus, "measure_status"), default=MeasureStatus.NOT_STARTED, index=True
    )
    progress: Mapped[str] = mapped_column(Text, default="")
    # Optimistic concurrency: an UPDATE that lost a race matches no row and raises StaleDataError.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[Cadre] = relationship(foreign_keys=[owner_id], lazy="joined")
    leader: Mapped[Cadre | None] = relationship(foreign_keys=[leader_id], lazy="joined")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's documented form


class MeasureEvent(Base):
    """Append-only audit trail: one row per change to a measure, never updated or deleted."""

    __tablename__ = "measure_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="RESTRICT"), index=True)
    # None: the system (an import, a scheduled job) rather than a person.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id", ondelete="RESTRICT"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[MeasureStatus | None] = mapped_column(_enum(MeasureStatus, "event_from_status"))
    to_status: Mapped[MeasureStatus | None] = mapped_column(_enum(MeasureStatus, "event_to_status"))
    note: Mapped[str] = mapped_column(Text, default="")
    evidence_kind: Mapped[str | None] = mapped_column(String(16))
    evidence_file_id: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    measure: Mapped[Measure] = relationship()
    actor: Mapped[Cadre | None] = relationship()


@event.listens_for(MeasureEvent, "before_update")
@event.listens_for(MeasureEvent, "before_delete")
def _audit_is_append_only(*_: object) -> None:
    raise RuntimeError("measure_events is append-only")


class Alias(Base):
    """An alternate phrasing an admin attached to a regulation, article or measure.

    Targets are natural keys (regulation key / measure code), so re-importing the data
    never orphans them.
    """

    __tablename__ = "aliases"
    __table_args__ = (
        UniqueConstraint("kind", "target_key", "article_no", "phrase"),
        CheckConstraint("kind IN ('regulation', 'article', 'measure')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target_key: Mapped[str] = mapped_column(String(64))
    article_no: Mapped[int] = mapped_column(Integer, default=0)  # 0 unless kind == 'article'
    phrase: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Miss(Base):
    """A question the bot could not answer, counted per normalised phrasing."""

    __tablename__ = "misses"

    id: Mapped[int] = mapped_column(primary_key=True)
    normalized: Mapped[str] = mapped_column(String(512), unique=True)
    query: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved: Mapped[bool] = mapped_column(default=False)


class Invite(Base):
    """A single-use binding code; only its hash is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Who issued it, for the audit trail; None: an operator on the command line.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id", ondelete="SET NULL"))

    cadre: Mapped[Cadre] = relationship(foreign_keys=[cadre_id])


class BindAttempt(Base):
    """One try to bind a Telegram account with an invite code; failures are rate-limited."""

    __tablename__ = "bind_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(default=False)


class ExtensionStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # taken back by the requester before an admin decided

    @property
    def label(self) -> str:
        return {"pending": "待审批", "approved": "已批准", "refused": "未批准", "withdrawn": "已撤回"}[self.value]


class ExtensionRequest(Base):
    """A request to move a measure's deadline, decided by an admin."""

    __tablename__ = "extension_requests"
    __table_args__ = (
        # At most one pending request per measure, enforced by the database too (partial unique index).
        Index(
            "uq_extension_requests_one_pending",
            "measure_id",
            unique=True,
            sqlite_where=sql_text("status = 'pending'"),
            postgresql_where=sql_text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="RESTRICT"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="RESTRICT"))
    # None: the measure was open-ended (长期坚持) when the request was made.
    old_deadline: Mapped[dt.date | None] = mapped_column(Date)
    new_deadline: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ExtensionStatus] = mapped_column(
        _enum(ExtensionStatus, "extension_status"), default=ExtensionStatus.PENDING, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id", ondelete="RESTRICT"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    measure: Mapped[Measure] = relationship(lazy="joined")
    requested_by: Mapped[Cadre] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    decided_by: Mapped[Cadre | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (or to be retried after not_before)
    SENDING = "sending"  # claimed by one process; reclaimable if that process died
    SENT = "sent"  # Telegram accepted it; message_id recorded
    FAILED = "failed"  # gave up: unreachable (403), or retries exhausted — visible to admins
    SKIPPED = "skipped"  # nobody to send to (recipient not bound)


class OutboxMessage(Base):
    """A message the bot owes someone: written in the same transaction as the change that
    causes it, delivered afterwards, marked sent with Telegram's message id.

    `key` is unique, so the same notification or reminder can never be queued twice.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id", ondelete="SET NULL"), index=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[list[list[str]]] | None] = mapped_column(JSON)  # rows of [text, callback_data]
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str] = mapped_column(Text, default="")


class PendingInput(Base):
    """A question the bot asked and is waiting for an answer to (退回原因, 进展, 延期日期).

    Kept in the database, not in process memory, so the answer may reach any instance and
    survives a restart; one per user per chat, a new prompt replaces the old.
    """

    __tablename__ = "pending_inputs"
    __table_args__ = (UniqueConstraint("chat_id", "telegram_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64))  # a measure code, or an extension request id
    prompt_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReminderItem(Base):
    """One reminder owed to one person about one measure: the unit of "never twice".

    The unique key (measure, recipient, kind, due_key) is the guarantee: due_key is the
    deadline for the before-deadline stages (so a moved deadline starts them afresh) and the
    sweep date for the daily ones (overdue, escalation). Items of one sweep for one person go
    out as a single digest message (`outbox_id`).
    """

    __tablename__ = "reminder_items"
    __table_args__ = (UniqueConstraint("measure_id", "cadre_id", "kind", "due_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"), index=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    due_key: Mapped[dt.date] = mapped_column(Date)
    sweep_date: Mapped[dt.date] = mapped_column(Date, index=True)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatTopic(Base):
    """What the bot last answered in a private chat: a regulation (and article) or a measure.

    A follow-up typed without using reply (第五条呢, 下一条, 谁负责) is asked within it. In the
    database rather than in process memory so that it reaches whichever instance gets the next
    message; one row per chat, replaced by each answer.
    """

    __tablename__ = "chat_topics"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    scope: Mapped[str] = mapped_column(String(200))  # 《regulation title》 or a measure code
    article: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
