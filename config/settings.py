"""The one Settings class: every setting comes from the environment or `.env`, read here only.

Every entry point (each `trading` command, the Prefect flows in any process, the dashboard, the
demo, the benchmarks) calls `load_settings()`, so all of them see the same values: environment
variables first, then the `.env` file (TRADING_ENV_FILE, else the working directory's), then the
defaults below.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from config.env_file import EnvFileError, current_env_file, mask

ALPACA_PAPER_URL = "https://paper-api.alpaca.markets"
ALPACA_LIVE_URL = "https://api.alpaca.markets"
ALPACA_DATA_URL = "https://data.alpaca.markets"


class ConfigurationError(ValueError):
    """A setting is missing or inconsistent; the message names the variable."""


class EnvFileSource(PydanticBaseSettingsSource):
    """The `.env` file in force when the settings are built (not when this module was imported)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` reads the whole file at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        try:
            env_file = current_env_file()
        except EnvFileError as error:
            raise ConfigurationError(str(error)) from error
        if env_file is None:
            return {}
        fields = self.settings_cls.model_fields
        return {name: value for name, value in env_file.values.items() if name in fields}


class Settings(BaseSettings):
    """Platform settings: environment variables, then the `.env` file, then these defaults."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then our `.env` reader (which names bad lines)."""
        return init_settings, env_settings, EnvFileSource(settings_cls)

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

    backtest_slippage_bps: float = Field(
        default=0.0, ge=0, description="Backtests: slippage against the trader, basis points."
    )
    backtest_commission_per_share: float = Field(
        default=0.0, ge=0, description="Backtests: commission per share (Alpaca: 0)."
    )
    backtest_commission_bps: float = Field(
        default=0.0, ge=0, description="Backtests: commission in basis points (Alpaca: 0)."
    )
    sec_fee_per_million: float = Field(
        default=0.0,
        ge=0,
        description="Backtests: SEC Section 31 fee on sells, USD per million sold.",
    )
    finra_taf_per_share: float = Field(
        default=0.000166, ge=0, description="Backtests: FINRA trading activity fee per share sold."
    )
    finra_taf_max: float = Field(
        default=8.30, ge=0, description="Backtests: the FINRA TAF's cap per trade, USD."
    )

    dbt_node_tasks: bool = Field(
        default=False,
        description="Show every dbt node as its own Prefect task (slower: ~0.4 s per node).",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_is_postgres(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = urlsplit(value).scheme
        if scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise ValueError(
                "must be a postgresql:// URL, e.g. postgresql://user@host:5432/trading"
            )
        from config.database import parse_url  # config.database imports this module

        parse_url(value)  # a bad port or an unknown option fails here, at start
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_is_redis(cls, value: str | None) -> str | None:
        if not value:
            return None
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis:// URL, e.g. redis://127.0.0.1:6379/0")
        return value

    @field_validator("alpaca_trading_url", "alpaca_data_url")
    @classmethod
    def _alpaca_url_is_http(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s):// base URL, e.g. http://127.0.0.1:8765")
        return value

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


SECRET_FIELDS = frozenset({"alpaca_api_key", "alpaca_secret_key"})
URL_FIELDS = frozenset({"database_url", "redis_url"})


def load_settings() -> Settings:
    """The settings every entry point uses; a bad value fails naming its variable and origin."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigurationError(_explain(error)) from None


def shown(name: str, value: object) -> str:
    """A setting's value fit to print: keys as `****` and their last two characters, URLs
    without their password."""
    if value is None:
        return ""
    text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    if name in SECRET_FIELDS:
        return mask(text) if text else ""
    if name in URL_FIELDS:
        return mask_url_password(text)
    return text


def mask_url_password(url: str) -> str:
    """The URL with its password (if any) masked."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    return url.replace(f":{password}@", f":{mask(password)}@", 1)


def origin(name: str) -> str:
    """Where a setting's value comes from: the environment, a `.env` file and line, or default."""
    variable = name.upper()
    if any(key.upper() == variable for key in os.environ):
        return "environment"
    try:
        env_file = current_env_file()
    except EnvFileError:
        env_file = None
    if env_file is not None and name in env_file.lines:
        return f"{env_file.path}, line {env_file.lines[name]}"
    return "default"


def _explain(error: ValidationError) -> str:
    """One line per bad setting: `VARIABLE=value (from …): what is wrong`."""
    problems = []
    for detail in error.errors(include_url=False):
        message = detail["msg"].removeprefix("Value error, ")
        if not detail["loc"]:  # a rule across settings: its message names the variables
            problems.append(message)
            continue
        name = str(detail["loc"][0])
        value = shown(name, detail["input"])
        problems.append(f"{name.upper()}={value!r} (from {origin(name)}): {message}")
    return "invalid settings: " + "; ".join(problems)


def setting_rows(settings: Settings) -> list[tuple[str, str, str]]:
    """(VARIABLE, value fit to print, where it came from) for every setting."""
    return [
        (name.upper(), shown(name, getattr(settings, name)), origin(name))
        for name in type(settings).model_fields
    ]


def describe_targets(settings: Settings) -> list[str]:
    """Which database and which Alpaca hosts these settings point at, in words."""
    if settings.database_url:
        from config.database import parse_url  # config.database imports this module

        connection = parse_url(settings.database_url)
        database = (
            f"database: {connection.dbname} on {connection.host}:{connection.port} "
            f"(DATABASE_URL, from {origin('database_url')}), connecting as "
            f"{connection.redacted_url}"
        )
    else:
        pgdata = (settings.trading_home / "pgdata").resolve()
        database = (
            f"database: the embedded PostgreSQL in {pgdata}, database 'trading' "
            "(DATABASE_URL is unset)"
        )
    mode = "PAPER" if settings.is_paper else "LIVE (real money)"
    return [
        database,
        f"Alpaca: {mode} trading at {settings.trading_url}, market data at {settings.data_url}",
    ]
