"""Configuration: sensible defaults, and a bad value stops the program naming the variable."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import PROJECT_ROOT, load_settings
from bot.errors import ConfigError
from tests.cli_runner import zhenggai


def test_defaults_are_sqlite_under_var_and_shanghai_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.database_url == f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'zhenggai.db'}"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.reminder_time == dt.time(9, 0)
    assert settings.telegram_bot_token is None
    assert settings.bot_api_url == "https://api.telegram.org/bot"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://x/y"),
        ("TIMEZONE", "Mars/Olympus"),
        ("REMINDER_TIME", "25:99"),
        ("REMINDER_TIME", "nine"),
        ("TELEGRAM_API_BASE_URL", "ftp://example"),
        ("INVITE_TTL_DAYS", "0"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_setting_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert variable in str(caught.value)


def test_malformed_token_is_rejected_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token-SECRET123")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value)
    assert "SECRET123" not in str(caught.value)


def test_postgres_urls_are_normalised_to_asyncpg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/zg")
    assert load_settings().database_url == "postgresql+asyncpg://u:p@db/zg"


def test_cli_exits_2_with_the_variable_name_on_bad_config() -> None:
    result = zhenggai("db", "current", env={"TIMEZONE": "Nowhere/Land"})
    assert result.code == 2
    assert "TIMEZONE" in result.err
    assert "Traceback" not in result.err
