"""Configuration: sensible defaults, and a bad value stops the program naming the variable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, load_settings, unknown_env_keys
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


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("REMINDER_TIME", "25:00", "REMINDER_TIME：应为 HH:MM（如 09:00），收到「25:00」"),
    ("ESCALATE_AFTER_DAYS", "三天", "ESCALATE_AFTER_DAYS：应为整数，收到「三天」"),
    ("SKIP_NON_WORKDAYS", "maybe", "SKIP_NON_WORKDAYS：应为 true 或 false，收到「maybe」"),
    ("LOG_LEVEL", "TRACE", "LOG_LEVEL：应为 DEBUG、INFO、WARNING、ERROR 之一，收到「TRACE」"),
    ("REMINDER_LATEST", "08:00", "REMINDER_LATEST（08:00）必须晚于 REMINDER_TIME（09:00），否则永远不会发送催办"),
])
def test_a_bad_setting_is_explained_in_chinese(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                               said: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"配置错误：{said}"


def test_a_reminder_time_typed_with_a_chinese_colon_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMINDER_TIME", "08：30")
    assert load_settings().reminder_time == dt.time(8, 30)


def test_a_bad_database_url_is_not_quoted_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://zg:s3cretpw@db/zg")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "DATABASE_URL" in str(caught.value) and "s3cretpw" not in str(caught.value)


def test_a_misspelt_key_in_the_env_file_is_named_with_a_guess_and_never_its_value(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("REMINDER_TIMES=08:00\nreminder_days_before=5\nPOSTGRES_PASSWORD=hunter2\nDB_PASSWORD=hunter3\n",
                   encoding="utf-8")
    result = zhenggai("db", "current", database_url=f"sqlite+aiosqlite:///{tmp_path / 'zg.db'}",
                      env={"ZHENGGAI_ENV_FILE": str(env)})
    assert f"设置文件 {env} 中的 REMINDER_TIMES 不是已知的设置项，已忽略，是否应为 REMINDER_TIME？" in result.err
    assert f"设置文件 {env} 中的 DB_PASSWORD 不是已知的设置项，已忽略；可用的设置项见 .env.example" in result.err
    assert "reminder_days_before" not in result.err  # keys are case-insensitive, as the settings read them
    assert "POSTGRES_PASSWORD" not in result.err  # compose.yaml's, kept in the same file
    assert "hunter" not in result.err + result.out and "08:00" not in result.err


def test_every_key_in_env_example_is_a_setting() -> None:
    assert unknown_env_keys(PROJECT_ROOT / ".env.example") == []
