"""Settings: paper by default, live only when confirmed, keys never printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import (
    ALPACA_DATA_URL,
    ALPACA_PAPER_URL,
    ConfigurationError,
    Settings,
    load_settings,
    origin,
    shown,
)
from flows.pipeline import runs_now


def test_defaults_point_at_alpaca_paper_and_data_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALPACA_TRADING_URL", "ALPACA_DATA_URL", "TRADING_MODE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.is_paper
    assert settings.trading_url == ALPACA_PAPER_URL
    assert settings.data_url == ALPACA_DATA_URL


def test_live_mode_without_confirmation_is_refused() -> None:
    with pytest.raises(ValueError, match="TRADING_LIVE_CONFIRM=yes"):
        Settings(trading_mode="live")


def test_live_mode_with_confirmation_uses_the_live_host() -> None:
    settings = Settings(trading_mode="live", trading_live_confirm="yes")
    assert not settings.is_paper
    assert settings.trading_url == "https://api.alpaca.markets"


def test_missing_keys_are_named_before_any_network_call() -> None:
    settings = Settings(alpaca_api_key=None, alpaca_secret_key=None)
    with pytest.raises(ConfigurationError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        settings.alpaca_credentials()
    only_key = Settings(alpaca_api_key="PK", alpaca_secret_key=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="^ALPACA_SECRET_KEY"):
        only_key.alpaca_credentials()


def test_secrets_never_appear_in_the_printed_settings() -> None:
    settings = Settings(alpaca_api_key="PKVISIBLE", alpaca_secret_key="TOPSECRET")  # type: ignore[arg-type]
    assert "TOPSECRET" not in repr(settings)
    assert "PKVISIBLE" not in str(settings)


def test_trailing_slash_is_removed_from_overridden_urls() -> None:
    settings = Settings(alpaca_trading_url="http://127.0.0.1:9/", alpaca_data_url="http://x:1/")
    assert settings.trading_url == "http://127.0.0.1:9"
    assert settings.data_url == "http://x:1"


def test_live_mode_refuses_any_host_but_the_live_one() -> None:
    with pytest.raises(ValueError, match="TRADING_MODE=live trades only at"):
        Settings(
            trading_mode="live",
            trading_live_confirm="yes",
            alpaca_trading_url="https://paper-api.alpaca.markets",
        )


def test_paper_mode_refuses_the_live_host() -> None:
    with pytest.raises(ValueError, match="is the live host"):
        Settings(alpaca_trading_url="https://api.alpaca.markets/")


@pytest.mark.parametrize(
    ("outside_hours", "market_open", "force", "runs"),
    [
        ("skip", True, False, True),
        ("skip", False, False, False),
        ("skip", False, True, True),
        ("queue", False, False, True),
    ],
)
def test_a_cycle_outside_market_hours_follows_the_configured_policy(
    outside_hours: str, market_open: bool, force: bool, runs: bool
) -> None:
    settings = Settings(outside_hours=outside_hours)  # type: ignore[arg-type]
    assert runs_now(settings, market_open, force) is runs


def test_an_unknown_outside_hours_policy_is_refused_naming_the_value() -> None:
    with pytest.raises(ValueError, match="outside_hours") as error:
        Settings(outside_hours="later")  # type: ignore[arg-type]
    assert "later" in str(error.value)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, no settings in the environment, no TRADING_ENV_FILE."""
    for name in ("TRADING_ENV_FILE", "TRADING_MODE", "DATABASE_URL", "ALPACA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_env_file_in_the_working_directory_is_read(workdir: Path) -> None:
    (workdir / ".env").write_text(
        "# a comment\nALPACA_API_KEY=PKFROMFILE\nDATABASE_URL=postgresql://u@db:5433/t\n"
    )
    settings = load_settings()
    assert settings.alpaca_api_key is not None
    assert settings.alpaca_api_key.get_secret_value() == "PKFROMFILE"
    assert settings.database_url == "postgresql://u@db:5433/t"
    assert origin("database_url") == f"{workdir / '.env'}, line 3"


def test_an_environment_variable_overrides_the_same_key_in_the_env_file(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / ".env").write_text("DATABASE_URL=postgresql://u@from-file/t\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@from-env/t")
    assert load_settings().database_url == "postgresql://u@from-env/t"
    assert origin("database_url") == "environment"


def test_trading_env_file_names_the_file_to_read(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / ".env").write_text("OUTSIDE_HOURS=skip\n")
    named = workdir / "elsewhere" / "trading.env"
    named.parent.mkdir()
    named.write_text("OUTSIDE_HOURS=queue\n")
    monkeypatch.setenv("TRADING_ENV_FILE", str(named))
    assert load_settings().outside_hours == "queue"
    monkeypatch.setenv("TRADING_ENV_FILE", str(workdir / "missing.env"))
    with pytest.raises(ConfigurationError, match="TRADING_ENV_FILE=.*missing.env.*no such file"):
        load_settings()


def test_a_line_that_does_not_parse_names_the_file_and_line_and_masks_a_secret(
    workdir: Path,
) -> None:
    (workdir / ".env").write_text("TRADING_MODE=paper\nALPACA_SECRET_KEY 'sk-very-secret'\n")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert f"{workdir / '.env'}, line 2" in str(error.value)
    assert "very-secret" not in str(error.value)


def test_an_unknown_trading_mode_names_the_variable_file_line_and_value(workdir: Path) -> None:
    (workdir / ".env").write_text("  \nTRADING_MODE=papr\n")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    assert "TRADING_MODE='papr'" in message
    assert f"{workdir / '.env'}, line 2" in message


def test_a_database_url_that_is_not_postgres_is_refused_without_its_password(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://trader:hunter2secret@db/trading")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    assert "DATABASE_URL=" in message and "(from environment)" in message
    assert "postgresql://" in message
    assert "hunter2secret" not in message


def test_a_secret_is_shown_as_stars_and_its_last_two_characters() -> None:
    assert shown("alpaca_secret_key", SecretStr("abcdefgh")) == "****gh"
    assert shown("database_url", "postgresql://u:pa55word@h/db") == "postgresql://u:****rd@h/db"
    assert shown("trading_mode", "paper") == "paper"


def test_every_setting_is_listed_in_the_env_example_and_the_readme() -> None:
    root = Path(__file__).resolve().parents[2]
    example = (root / "config" / ".env.example").read_text()
    readme = (root / "README.md").read_text()
    for name in Settings.model_fields:
        variable = name.upper()
        assert f"{variable}=" in example, f"{variable} is missing from config/.env.example"
        assert f"`{variable}`" in readme, f"{variable} is missing from the README's settings"
