"""Database tables of the МЦУ: directory, incidents with their timeline, replies, reminders and the outbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Text, UniqueConstraint, event, inspect, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, also on SQLite which keeps no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite compares stored strings: keep one format without an offset so that ordering is right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Role(StrEnum):
    CURATOR = "curator"
    MCU_HEAD = "mcu_head"
    OFFICER = "officer"
    POS_OFFICER = "pos_officer"
    SECTOR_HEAD = "sector_head"
    ADMIN = "admin"


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    WAITING = "waiting"  # ждём ответа жителя: the deadline is paused


OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING, Status.ANSWERED)


class Track(StrEnum):
    """Which deadlines apply: a message from social media, or a formal appeal under 59-ФЗ."""

    SOCIAL = "social"
    APPEAL = "appeal"


class Phase(StrEnum):
    """What the incident's deadline (`due_at`) is for."""

    REACTION = "reaction"  # the first public reaction
    ANSWER = "answer"  # the final answer (after an interim one; from the start for a 59-ФЗ appeal)


class SourceKind(StrEnum):
    TG_DIRECT = "tg_direct"
    TG_DISCUSSION = "tg_discussion"
    TG_GROUP = "tg_group"
    VK_COMMUNITY = "vk_community"
    VK_USER_PAGE = "vk_user_page"
    VK_WATCHED_PUBLIC = "vk_watched_public"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Staff(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    full_name: str
    position: str = Field(default="", sa_type=Text)
    roles: list[str] = _json_list()
    # Telegram ids outgrow 32 bits.
    telegram_id: int | None = Field(default=None, unique=True, sa_type=BigInteger)
    telegram_username: str | None = None
    vk_id: int | None = Field(default=None, sa_type=BigInteger)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class StaffInvite(SQLModel, table=True):
    __tablename__ = "staff_invite"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    token_hash: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = _ts()


class Sector(SQLModel, table=True):
    code: str = Field(primary_key=True)
    title: str
    position: int = 0
    head_id: int | None = Field(default=None, foreign_key="staff.id")
    # Optional extra Telegram chat of the sector (its department chat) that also gets cards.
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    active: bool = True


class Source(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    kind: str
    external_id: str
    title: str = ""
    username: str | None = None
    can_reply: bool = True
    ack: bool = False
    active: bool = True
    # For watched publics: one keyword stem per line; when set, only messages that mention one are taken.
    keywords: str = Field(default="", sa_type=Text)
    # Why the source stopped (a revoked token, no access); None while it works.
    error: str | None = Field(default=None, sa_type=Text)
    error_at: datetime | None = _ts()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Author(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    external_id: str
    name: str = ""
    username: str | None = None
    profile_url: str | None = None


def searchable(text: str) -> str:
    """How `Incident.search` keeps a text: lower case (Cyrillic too, which SQLite's lower() leaves as it is),
    «ё» as «е», one space between words. A search query is folded the same way."""
    return " ".join(text.lower().replace("ё", "е").split())


class Incident(SQLModel, table=True):
    # The admin's list: each filter with the default order (newest first) walks one index and stops at a page.
    __table_args__ = (
        UniqueConstraint("source_id", "external_ref"),
        Index("ix_incident_open_thread", "source_id", "thread_ref", "author_id", "status"),
        Index("ix_incident_status_received", "status", "received_at"),
        Index("ix_incident_sector_received", "sector_code", "received_at"),
        Index("ix_incident_assignee_received", "assignee_id", "received_at"),
        Index("ix_incident_source_received", "source_id", "received_at"),
        Index("ix_incident_settlement_received", "settlement", "received_at"),
        # Overdue: a running deadline (one of a few statuses) that has passed.
        Index("ix_incident_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id")
    external_ref: str
    thread_ref: str
    chat_ref: str
    message_ref: str
    author_id: int | None = Field(default=None, foreign_key="author.id")
    text: str = Field(default="", sa_type=Text)
    # `text` folded by `searchable` for case- and ё-insensitive search; kept in step by the mapper events below.
    search: str = Field(default="", sa_type=Text)
    attachments: list[dict[str, Any]] = _json_list()
    permalink: str | None = None
    received_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    sector_code: str | None = Field(default=None, foreign_key="sector.code")
    classified_by: str | None = None
    confidence: float | None = None
    rule_id: int | None = None
    settlement: str | None = None
    # When the model was unsure: its best guesses [{"sector": code, "p": probability}] for the officer's triage.
    suggestions: list[dict[str, Any]] = _json_list()
    # Why it is «не инцидент» (handlers.noise reasons), while it is.
    not_incident_reason: str | None = None
    # Written in a private dialog (not a public comment): the citizen can be asked how it went.
    private: bool = False
    # The satisfaction survey after the final answer: asked once; whether it is solved, and a rating 1–5.
    survey_state: str | None = None
    solved: bool | None = None
    rating: int | None = None
    # Reports of one problem (same sector, settlement, similar text, close in time) are handled together.
    problem_id: int | None = Field(default=None, foreign_key="problem.id", index=True)
    status: str = Field(default=Status.NEW)
    assignee_id: int | None = Field(default=None, foreign_key="staff.id")
    urgent: bool = False
    track: str = Track.SOCIAL
    phase: str = Phase.REACTION
    # The deadline now running (None when paused or finished) and the first-reaction deadline as first set.
    due_at: datetime | None = _ts(index=True)
    reaction_due_at: datetime | None = _ts()
    # While paused (ждём ответа жителя): the time that was left, in seconds of the policy's kind of time.
    paused_left: int | None = None
    first_reaction_at: datetime | None = _ts()
    answered_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


@event.listens_for(Incident, "before_insert")
def _search_on_insert(_mapper: Any, _connection: Any, incident: Incident) -> None:
    incident.search = searchable(incident.text)


@event.listens_for(Incident, "before_update")
def _search_on_update(_mapper: Any, _connection: Any, incident: Incident) -> None:
    # Whoever changes the text (intake, a citizen's edit), the search column follows in the same flush.
    if inspect(incident).attrs.text.history.has_changes():
        incident.search = searchable(incident.text)


class Problem(SQLModel, table=True):
    """One problem reported by many: «нет света в Жерновце» from twenty people. The lead incident carries the
    card and the actions; the others follow it."""

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int  # the incident that leads (no foreign key: incident.problem_id already links the two tables)
    sector_code: str | None = Field(default=None, foreign_key="sector.code")
    settlement: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class IncidentMessage(SQLModel, table=True):
    """Every citizen message of an incident: the first one and follow-ups in the same thread."""

    __tablename__ = "incident_message"
    __table_args__ = (UniqueConstraint("source_id", "external_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    source_id: int = Field(foreign_key="source.id")
    external_ref: str
    author_id: int | None = Field(default=None, foreign_key="author.id")
    text: str = Field(default="", sa_type=Text)
    attachments: list[dict[str, Any]] = _json_list()
    permalink: str | None = None
    received_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    edited_at: datetime | None = _ts()
    deleted_at: datetime | None = _ts()


class IncidentEvent(SQLModel, table=True):
    """The timeline and audit trail of an incident: who did what, when, and which fields changed."""

    __tablename__ = "incident_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    kind: str
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    data: dict[str, Any] = _json()


class Reply(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    text: str = Field(sa_type=Text)
    is_final: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    state: str = "pending"
    published_at: datetime | None = _ts()
    platform_message_id: str | None = None
    error: str | None = None


class AutoRule(SQLModel, table=True):
    __tablename__ = "auto_rule"

    id: int | None = Field(default=None, primary_key=True)
    position: int = Field(default=0, index=True)
    name: str
    # One keyword stem per line; a text matches when any stem starts a word of the normalised text.
    keywords: str = Field(default="", sa_type=Text)
    pattern: str | None = None
    source_kind: str | None = None
    sector_code: str | None = Field(default=None, foreign_key="sector.code")
    not_incident: bool = False
    hits: int = 0
    active: bool = True


_PENDING = "sent_at IS NULL AND cancelled_at IS NULL"


class Reminder(SQLModel, table=True):
    # Only reminders still to send are indexed: the sweep never scans the (ever growing) sent and cancelled ones.
    __table_args__ = (
        Index("ix_reminder_pending", "due_at", sqlite_where=text(_PENDING), postgresql_where=text(_PENDING)),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    kind: str
    # Which point before the deadline: "50%" of the time, "2h" before it, "0" at it (see handlers.deadlines).
    point: str = ""
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = _ts()
    cancelled_at: datetime | None = _ts()


class DeadlinePolicy(SQLModel, table=True):
    """How long staff have, per track and optionally per source kind and sector; the most specific row wins."""

    __tablename__ = "deadline_policy"

    id: int | None = Field(default=None, primary_key=True)
    track: str = Field(index=True)  # social | urgent | appeal
    source_kind: str | None = None
    sector_code: str | None = Field(default=None, foreign_key="sector.code")
    # Time to the first public reaction (None: no separate reaction deadline, as for 59-ФЗ appeals).
    reaction_minutes: int | None = None
    reaction_working: bool = True
    # Time to the final answer: after an interim answer, or from registration for 59-ФЗ appeals.
    answer_minutes: int
    answer_working: bool = True
    note: str = ""


class CalendarDay(SQLModel, table=True):
    """A local decision about one day: a day off, a working day, or shortened hours before a holiday."""

    __tablename__ = "calendar_day"

    day: date = Field(primary_key=True)
    working: bool
    start: time | None = None
    end: time | None = None
    note: str = ""


class Outbox(SQLModel, table=True):
    """An intent to say something on a platform, written in the same transaction as the change behind it."""

    __table_args__ = (Index("ix_outbox_due", "state", "next_try_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    platform: str = "telegram"
    chat_id: str
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    reply_id: int | None = Field(default=None, foreign_key="reply.id")
    payload: dict[str, Any] = _json()
    state: str = Field(default=OutboxState.PENDING)
    attempts: int = 0
    next_try_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = _ts()


class CardMessage(SQLModel, table=True):
    """Where an incident card was posted, so that it can be edited in place when the incident changes."""

    __tablename__ = "card_message"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    platform: str = "telegram"
    chat_id: str
    message_id: str
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Settlement(SQLModel, table=True):
    """A settlement of the district: the gazetteer that citizens' texts are matched against (edited in the admin)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    kind: str = ""  # село | деревня | посёлок | хутор
    rural_settlement: str = ""
    lat: float
    lon: float
    # Other spellings met in messages; case forms of every name are built by the recogniser.
    aliases: list[str] = _json_list()
    active: bool = True


class Setting(SQLModel, table=True):
    key: str = Field(primary_key=True)
    value: str = Field(sa_type=Text)


class User(SQLModel, table=True):
    """A login of the web admin."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(unique=True)
    password_hash: str
    role: str
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Wrong passwords in a row; from the fifth the login is locked for a while.
    failed_logins: int = 0
    locked_until: datetime | None = _ts()


class UserSession(SQLModel, table=True):
    __tablename__ = "user_session"

    token_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # Sent back with every change made from the pages (form field or X-CSRF-Token header).
    csrf: str = ""


class AuditEntry(SQLModel, table=True):
    """Who changed what in the admin, and when. Append-only: the database refuses updates and deletes."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    login: str = ""
    action: str
    target: str = ""
    data: dict[str, Any] = _json()


class Cursor(SQLModel, table=True):
    """How far a polled source has been read (VK long poll `ts`, the last comment seen under a post)."""

    source_id: int = Field(foreign_key="source.id", primary_key=True)
    key: str = Field(primary_key=True)
    value: str
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Inbox(SQLModel, table=True):
    """Platform events acknowledged before processing (VK Callback API): kept until processed, never lost."""

    __table_args__ = (UniqueConstraint("platform", "event_id"), Index("ix_inbox_pending", "processed_at"))

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    event_id: str
    payload: dict[str, Any] = _json()
    received_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    processed_at: datetime | None = _ts()
    attempts: int = 0
    error: str | None = Field(default=None, sa_type=Text)


class RoutingExample(SQLModel, table=True):
    """A labelled message the classifier learns from: a staff correction of routing, or an imported history."""

    __tablename__ = "routing_example"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_type=Text)
    sector_code: str
    origin: str  # correction | import
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class RoadmapStep(SQLModel, table=True):
    """A step of the plan («дорожная карта») against a problem that keeps coming back: a sector in a settlement."""

    __tablename__ = "roadmap_step"

    id: int | None = Field(default=None, primary_key=True)
    sector_code: str = Field(foreign_key="sector.code")
    settlement: str
    text: str = Field(sa_type=Text)
    due: date | None = None
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    created_by: str  # the login of who added it
    done_at: datetime | None = _ts()
