"""Settings: paper by default, live only when confirmed, keys never printed."""

from __future__ import annotations

import pytest

from config.settings import ALPACA_DATA_URL, ALPACA_PAPER_URL, ConfigurationError, Settings
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
