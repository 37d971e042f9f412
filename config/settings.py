"""The one Settings class: every setting comes from the environment or `.env`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ALPACA_PAPER_URL = "https://paper-api.alpaca.markets"
ALPACA_LIVE_URL = "https://api.alpaca.markets"
ALPACA_DATA_URL = "https://data.alpaca.markets"


class ConfigurationError(ValueError):
    """A setting is missing or inconsistent; the message names the variable."""


class Settings(BaseSettings):
    """Platform settings, read from environment variables (or a `.env` file when asked)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset starts an embedded server."
    )
    redis_url: str | None = Field(default=None, description="Redis URL; optional.")
    alpaca_api_key: SecretStr | None = None
    alpaca_secret_key: SecretStr | None = None
    alpaca_trading_url: str | None = Field(
        default=None, description="Trading API base URL; unset → Alpaca's paper or live host."
    )
    alpaca_data_url: str | None = Field(
        default=None, description="Market data base URL; unset → Alpaca's data host."
    )
    trading_mode: Literal["paper", "live"] = "paper"
    trading_live_confirm: str | None = None
    outside_hours: Literal["skip", "queue"] = Field(
        default="skip",
        description=(
            "When the broker's clock says the market is closed: skip the cycle, or run it and "
            "let the day orders queue for the next open."
        ),
    )
    trading_home: Path = Field(
        default=Path(".trading"), description="Embedded database and local state."
    )
    alpaca_timeout_seconds: float = Field(default=30.0, gt=0)
    alpaca_rate_limit_per_minute: int = Field(
        default=190,
        gt=0,
        description="Client-side cap on Alpaca requests per minute (Alpaca allows 200).",
    )
    alpaca_max_attempts: int = Field(
        default=5, ge=1, description="Attempts for a read after 429, 5xx, timeouts, drops."
    )
    ingest_start: str = Field(
        default="60d",
        description="Where a first bars run starts: a date (2024-01-02) or days back (60d).",
    )
    ingest_lookback_hours: float = Field(
        default=3.0,
        ge=0,
        description="Later runs refetch this far behind the watermark to catch corrected bars.",
    )
    ingest_max_close_jump_pct: float = Field(
        default=20.0, gt=0, description="A close moving more than this % is flagged suspect."
    )
    alpaca_feed: str | None = Field(
        default=None, description="Bars feed (iex or sip); unset → API default."
    )

    dbt_node_tasks: bool = Field(
        default=False,
        description="Show every dbt node as its own Prefect task (slower: ~0.4 s per node).",
    )

    @field_validator("ingest_start")
    @classmethod
    def _start_is_a_date_or_days(cls, value: str) -> str:
        if not re.fullmatch(r"\d+d|\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError(f"INGEST_START must be a date (2024-01-02) or days (60d): {value!r}")
        return value.strip()

    def ingest_start_at(self, now: datetime) -> datetime:
        """Where a first bars run starts: INGEST_START as a UTC date, or days before `now`."""
        if self.ingest_start.endswith("d"):
            return now - timedelta(days=int(self.ingest_start[:-1]))
        return datetime.fromisoformat(self.ingest_start).replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _live_needs_confirmation(self) -> Settings:
        if self.trading_mode == "live" and (self.trading_live_confirm or "").lower() != "yes":
            raise ConfigurationError(
                "TRADING_MODE=live also requires TRADING_LIVE_CONFIRM=yes "
                f"(got TRADING_LIVE_CONFIRM={self.trading_live_confirm!r})"
            )
        return self

    @model_validator(mode="after")
    def _host_matches_mode(self) -> Settings:
        """Live trades only at the live host, and paper never reaches it: one setting cannot
        put money at risk by itself."""
        at_live_host = self.trading_url == ALPACA_LIVE_URL
        if self.trading_mode == "live" and not at_live_host:
            raise ConfigurationError(
                f"TRADING_MODE=live trades only at {ALPACA_LIVE_URL} "
                f"(got ALPACA_TRADING_URL={self.trading_url!r})"
            )
        if self.trading_mode == "paper" and at_live_host:
            raise ConfigurationError(
                f"ALPACA_TRADING_URL={self.trading_url!r} is the live host: set TRADING_MODE=live "
                "and TRADING_LIVE_CONFIRM=yes to trade real money, or use the paper host"
            )
        return self

    @property
    def is_paper(self) -> bool:
        """True unless live trading was explicitly configured and confirmed."""
        return self.trading_mode == "paper"

    @property
    def trading_url(self) -> str:
        """The trading API base URL, without a trailing slash."""
        default = ALPACA_PAPER_URL if self.is_paper else ALPACA_LIVE_URL
        return (self.alpaca_trading_url or default).rstrip("/")

    @property
    def data_url(self) -> str:
        """The market data base URL, without a trailing slash."""
        return (self.alpaca_data_url or ALPACA_DATA_URL).rstrip("/")

    def alpaca_credentials(self) -> tuple[str, str]:
        """The API key pair; fails before any network call, naming the missing variable."""
        missing = [
            name
            for name, value in (
                ("ALPACA_API_KEY", self.alpaca_api_key),
                ("ALPACA_SECRET_KEY", self.alpaca_secret_key),
            )
            if value is None or not value.get_secret_value()
        ]
        if missing:
            raise ConfigurationError(
                f"{' and '.join(missing)} must be set to reach Alpaca at {self.trading_url}"
            )
        assert self.alpaca_api_key is not None and self.alpaca_secret_key is not None  # noqa: S101
        return self.alpaca_api_key.get_secret_value(), self.alpaca_secret_key.get_secret_value()


def load_settings(env_file: Path | None = None) -> Settings:
    """Read the settings, from the environment and optionally a `.env` file."""
    if env_file is not None:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    return Settings()
