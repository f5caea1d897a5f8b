"""Settings: one object, read from the environment and `.env`, validated at start.

Every variable is documented in `.env.example`. A bad value stops the program with
the variable's name (see `load_settings`), never half-way through a run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot.errors import ConfigError

#: The project checkout (the directory holding `pyproject.toml`) when running from source;
#: otherwise the working directory, so a packaged install still has a sensible `var/`.
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent
PROJECT_ROOT = _PACKAGE_PARENT if (_PACKAGE_PARENT / "pyproject.toml").exists() else Path.cwd()

TELEGRAM_API = "https://api.telegram.org"


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'zhenggai.db'}"


class Settings(BaseSettings):
    """All configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    database_url: str = Field(default_factory=default_database_url)
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = TELEGRAM_API
    timezone: str = "Asia/Shanghai"
    reminder_time: dt.time = dt.time(9, 0)
    reminder_days_before: Annotated[tuple[int, ...], NoDecode] = (7, 3, 1)
    escalate_after_days: int = Field(default=3, ge=1, le=60)
    skip_non_workdays: bool = True
    reminder_latest: dt.time = dt.time(20, 0)
    outbox_stale_seconds: int = Field(default=120, ge=1, le=3600)
    reminder_check_seconds: int = Field(default=1800, ge=1, le=86400)
    data_dir: Path = PROJECT_ROOT / "data"
    invite_ttl_days: int = Field(default=7, ge=1, le=365)
    webhook_secret: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("data_dir")
    @classmethod
    def _resolve_data_dir(cls, value: Path) -> Path:
        return value if value.is_absolute() else PROJECT_ROOT / value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        value = value.strip()
        if value.startswith(("sqlite:", "sqlite+pysqlite:")):
            # The application is asynchronous throughout; accept the common spelling.
            value = "sqlite+aiosqlite:" + value.split(":", 1)[1]
        if value.startswith(("postgresql:", "postgres:", "postgresql+psycopg2:")):
            value = "postgresql+asyncpg:" + value.split(":", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("应为 sqlite+aiosqlite:///路径 或 postgresql+asyncpg://用户:密码@主机/数据库")
        prefix = "sqlite+aiosqlite:///"
        if value.startswith(prefix) and not value.startswith(prefix + "/") and ":memory:" not in value:
            # A relative SQLite path means relative to the project, not to wherever the command runs.
            value = prefix + str(PROJECT_ROOT / value[len(prefix):])
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        head, _, tail = token.partition(":")
        if not head.isdigit() or len(tail) < 10:
            # Never echo the value: it is a secret even when malformed.
            raise ValueError("不像机器人令牌（应为 @BotFather 给的 123456789:ABC… 形式）")
        return SecretStr(token)

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        # What Telegram accepts as secret_token: 1–256 characters of A-Z a-z 0-9 _ -.
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value().strip()):
            raise ValueError("只能包含字母、数字、下划线和连字符（A-Z a-z 0-9 _ -），最长 256 个字符")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_api_base_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("应为 http(s) 网址，如 https://api.telegram.org")
        if value.endswith("/bot"):
            value = value[: -len("/bot")]
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知的时区「{value}」（应为 IANA 时区名，如 Asia/Shanghai）") from exc
        return value

    @field_validator("reminder_days_before", mode="before")
    @classmethod
    def _split_days(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                days = sorted({int(part) for part in value.replace("，", ",").split(",") if part.strip()},
                              reverse=True)
            except ValueError as exc:
                raise ValueError(f"应为逗号分隔的天数，如 7,3,1，收到「{value}」") from exc
            if any(d <= 0 or d > 60 for d in days):
                raise ValueError("每个天数应在 1 到 60 之间")
            return tuple(days)
        return value

    @field_validator("reminder_time", "reminder_latest", mode="before")
    @classmethod
    def _check_reminder_time(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                # 09：00 typed with a Chinese input method is 09:00.
                hours, minutes = value.strip().replace("：", ":").split(":")
                return dt.time(int(hours), int(minutes))
            except ValueError as exc:
                raise ValueError(f"应为 HH:MM（如 09:00），收到「{value}」") from exc
        return value

    @model_validator(mode="after")
    def _check_reminder_window(self) -> Settings:
        # Sweeps run from REMINDER_TIME until REMINDER_LATEST: an empty window would send nothing, ever.
        if self.reminder_latest <= self.reminder_time:
            raise ValueError(f"REMINDER_LATEST（{self.reminder_latest:%H:%M}）必须晚于 REMINDER_TIME"
                             f"（{self.reminder_time:%H:%M}），否则永远不会发送催办")
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def bot_api_url(self) -> str:
        """Base URL in PTB's form: the token is appended by the library."""
        return f"{self.telegram_api_base_url}/bot"

    @property
    def bot_file_url(self) -> str:
        return f"{self.telegram_api_base_url}/file/bot"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def env_file() -> Path:
    """`.env` in the project (or ZHENGGAI_ENV_FILE): found the same way wherever a command runs."""
    return Path(os.environ.get("ZHENGGAI_ENV_FILE") or PROJECT_ROOT / ".env")


def unknown_env_keys(path: Path | None = None) -> list[str]:
    """A sentence for each key in the `.env` file that is no setting: a misspelt REMINDER_TIMES
    would otherwise be ignored without a word and the default used instead."""
    path = env_file() if path is None else path
    if not path.is_file():
        return []
    known = sorted(name.upper() for name in Settings.model_fields)
    notes = []
    for key in dotenv_values(path, encoding="utf-8"):
        name = key.strip().upper()
        # compose.yaml reads POSTGRES_PASSWORD (and Compose its COMPOSE_* options) from the same file.
        if name in known or name.startswith(("POSTGRES_", "COMPOSE_")):
            continue
        guess = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = f"，是否应为 {guess[0]}？" if guess else "；可用的设置项见 .env.example"
        notes.append(f"设置文件 {path} 中的 {key.strip()} 不是已知的设置项，已忽略{hint}")
    return notes


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation errors into one message naming the variables."""
    try:
        return Settings(_env_file=env_file(), **overrides)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = str(error["loc"][0]).upper() if error["loc"] else "?"
            said = _in_chinese(error, echo=variable not in _SECRET_VARIABLES)
            # A check across variables (the reminder window) names them in its message.
            problems.append(f"{variable}：{said}" if error["loc"] else said)
        raise ConfigError("；".join(problems)) from None


#: pydantic's own checks, said in Chinese (our validators already speak it).
_PYDANTIC_MESSAGES = {
    "int_parsing": "应为整数", "int_type": "应为整数", "float_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false", "bool_type": "应为 true 或 false",
    "greater_than_equal": "不能小于 {ge}", "greater_than": "应大于 {gt}",
    "less_than_equal": "不能大于 {le}", "less_than": "应小于 {lt}",
    "literal_error": "应为 {expected} 之一", "enum": "应为 {expected} 之一",
    "string_too_short": "不能为空", "missing": "缺少此项",
}


#: Never quoted back in a message: they hold secrets (a database URL may hold a password).
_SECRET_VARIABLES = frozenset({"TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET", "DATABASE_URL"})


def _in_chinese(error: Any, *, echo: bool) -> str:
    if error["type"] == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    template = _PYDANTIC_MESSAGES.get(error["type"])
    if template is None:
        return str(error["msg"])
    context = {k: str(v).replace("' or '", "、").replace("', '", "、").replace("'", "")
               for k, v in (error.get("ctx") or {}).items()}
    try:
        said = template.format(**context)
    except KeyError:
        said = template
    return f"{said}，收到「{error.get('input')}」" if echo and error["type"] != "missing" else said
