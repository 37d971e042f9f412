"""Strategy specs: one YAML per strategy in strategies/specs/, validated here.

A strategy is two files: this spec and its signal SQL,
`dbt_project/models/intermediate/strategies/int_<name>__signals.sql`. The spec names the
parameters the SQL reads (`strategy_bars(parameters=[...])`), and only those: a spec that lacks
one of them, sets one the SQL never reads (a misspelt name would otherwise be stored and do
nothing), or has no SQL file is refused here, before anything reaches dbt.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ingestion.timeframes import parse_timeframe

SPECS_DIR = Path(__file__).parent / "specs"
SIGNAL_MODELS_DIR = (
    Path(__file__).resolve().parent.parent
    / "dbt_project"
    / "models"
    / "intermediate"
    / "strategies"
)
# The parameter list of `strategy_bars(parameters=['a', 'b'])` in a strategy's signal SQL.
_READ_PARAMETERS = re.compile(r"strategy_bars\(\s*parameters\s*=\s*\[([^\]]*)\]")

ParameterName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,40}$")]


class StrategyLimits(BaseModel):
    """How much of the account one strategy may use."""

    model_config = ConfigDict(extra="forbid")

    capital_budget: float = Field(gt=0, le=1)
    """Fraction of account equity the strategy may hold in total."""
    max_positions: int = Field(ge=1)
    """Symbols it may hold at once; each position's target weight is budget / max_positions."""

    @property
    def target_weight(self) -> float:
        """The weight of equity one position of this strategy aims at."""
        return self.capital_budget / self.max_positions


class SmaCrossoverParameters(BaseModel):
    full_strength_gap: float = Field(gt=0)


class RsiMeanReversionParameters(BaseModel):
    oversold: float = Field(gt=0, lt=100)
    exit_above: float = Field(gt=0, lt=100)

    @model_validator(mode="after")
    def _exit_above_oversold(self) -> RsiMeanReversionParameters:
        if self.exit_above <= self.oversold:
            raise ValueError(
                f"parameters.exit_above ({self.exit_above:g}) must be above "
                f"parameters.oversold ({self.oversold:g})"
            )
        return self


class BollingerBreakoutParameters(BaseModel):
    entry_k: float = Field(gt=0)
    exit_k: float

    @model_validator(mode="after")
    def _exit_below_entry(self) -> BollingerBreakoutParameters:
        if self.exit_k >= self.entry_k:
            raise ValueError(
                f"parameters.exit_k ({self.exit_k:g}) must be below "
                f"parameters.entry_k ({self.entry_k:g})"
            )
        return self


# Extra checks for the shipped strategies' parameters. A new strategy needs no entry here: its
# parameters are then only required to be numbers and to be exactly those its SQL reads.
PARAMETER_RULES: dict[str, type[BaseModel]] = {
    "sma_crossover": SmaCrossoverParameters,
    "rsi_mean_reversion": RsiMeanReversionParameters,
    "bollinger_breakout": BollingerBreakoutParameters,
}


class Sizing(BaseModel):
    """How a wanted position becomes a weight of equity.

    fixed_fraction: always limits.capital_budget / limits.max_positions.
    volatility_target: that weight scaled so the position's annualised volatility (realized:
    volatility_20 of log returns; atr: atr_14 / close) is `annual_volatility`, never above it.
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["fixed_fraction", "volatility_target"] = "fixed_fraction"
    annual_volatility: float | None = Field(default=None, gt=0, le=2)
    measure: Literal["realized", "atr"] = "realized"

    @model_validator(mode="after")
    def _target_needs_a_volatility(self) -> Sizing:
        if self.method == "volatility_target" and self.annual_volatility is None:
            raise ValueError("sizing.annual_volatility is required for volatility_target")
        return self


class OrderSpec(BaseModel):
    """How the strategy's decisions reach the broker (offsets are fractions of the deciding
    bar's close; every price is rounded to the broker's price increment, in the cautious way).

    type (entries, i.e. buys): market; limit at close × (1 + limit_offset); stop triggering at
    close × (1 + stop_offset); stop_limit, that stop with a limit limit_offset above it; or
    bracket, a market entry whose exit legs (take profit at close × (1 + take_profit), stop loss
    at close × (1 − stop_loss)) wait until it has filled. Exits the signal decides are market
    orders, or limit at close × (1 − limit_offset) with exit_type limit; the open legs of the
    strategy's bracket in that symbol are cancelled first.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["market", "limit", "stop", "stop_limit", "bracket"] = "market"
    time_in_force: Literal["day", "gtc"] = "day"
    exit_type: Literal["market", "limit"] = "market"
    limit_offset: float | None = Field(default=None, ge=0, le=0.2)
    stop_offset: float | None = Field(default=None, gt=0, le=0.2)
    take_profit: float | None = Field(default=None, gt=0, le=1)
    stop_loss: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _prices_match_the_type(self) -> OrderSpec:
        needed = {
            "limit_offset": self.type in ("limit", "stop_limit") or self.exit_type == "limit",
            "stop_offset": self.type in ("stop", "stop_limit"),
            "take_profit": self.type == "bracket",
            "stop_loss": self.type == "bracket",
        }
        for name, is_needed in needed.items():
            value = getattr(self, name)
            if is_needed and value is None:
                raise ValueError(
                    f"order.{name} is required for type {self.type}, exit_type {self.exit_type}"
                )
            if not is_needed and value is not None:
                raise ValueError(
                    f"order.{name} ({value:g}) does not apply to type {self.type}, "
                    f"exit_type {self.exit_type}"
                )
        return self


class StrategySpec(BaseModel):
    """One strategy: what it trades, on which bars, with which parameters and limits."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,23}$")
    description: str
    timeframe: str
    universe: list[str] = Field(min_length=1)
    parameters: dict[ParameterName, float] = Field(default_factory=dict)
    limits: StrategyLimits
    sizing: Sizing = Field(default_factory=Sizing)
    order: OrderSpec = Field(default_factory=OrderSpec)
    mode: Literal["live", "shadow"] = "live"
    """live: its approved orders are sent. shadow: signals and risk decisions every cycle, never
    an order; what it would have done is kept as its paper track record."""
    fractional: bool = False
    """Backtests size in fractional shares (live orders are whole shares either way)."""
    sweep: dict[ParameterName, list[float]] | None = None
    """The grid `trading sweep --spec` evaluates when no --grid is given: values per parameter."""

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, value: str) -> str:
        return parse_timeframe(value).name

    @field_validator("universe")
    @classmethod
    def _upper_symbols(cls, value: list[str]) -> list[str]:
        return [symbol.strip().upper() for symbol in value]


def signal_model_path(name: str, models_dir: Path = SIGNAL_MODELS_DIR) -> Path:
    """Where the strategy's signal SQL lives."""
    return models_dir / f"int_{name}__signals.sql"


def parameters_read(sql: str) -> list[str]:
    """The parameter names a signal model reads through `strategy_bars(parameters=[...])`."""
    match = _READ_PARAMETERS.search(sql)
    return re.findall(r"['\"]([^'\"]+)['\"]", match.group(1)) if match else []


def _unknown_parameter(name: str, known: list[str]) -> str:
    """The refusal of a parameter the SQL never reads, with the closest name it does read."""
    closest = difflib.get_close_matches(name, known, n=1)
    hint = f", did you mean '{closest[0]}'?" if closest else ""
    return f"parameters.{name}: unknown parameter{hint}"


def _shipped_parameter_rules(spec: StrategySpec) -> None:
    """Refuse values a shipped strategy's own rules forbid (e.g. oversold above exit_above)."""
    rules = PARAMETER_RULES.get(spec.name)
    if rules is None:
        return
    try:
        rules.model_validate(spec.parameters)
    except ValidationError as error:
        raise ValueError(
            "; ".join(
                f"parameters.{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
                for e in error.errors()
            )
        ) from None


def check_against_sql(spec: StrategySpec, models_dir: Path = SIGNAL_MODELS_DIR) -> None:
    """Refuse a spec without its signal SQL, or whose parameters are not exactly those it reads."""
    path = signal_model_path(spec.name, models_dir)
    if not path.is_file():
        raise ValueError(f"name: no signal model for strategy '{spec.name}' (expected {path})")
    known = parameters_read(path.read_text())
    problems = []
    missing = [name for name in known if name not in spec.parameters]
    if missing:
        problems.append(f"parameters: {', '.join(missing)} missing")
    # A name the SQL never reads is stored and does nothing, so a typo would pass silently.
    problems += [_unknown_parameter(name, known) for name in spec.parameters if name not in known]
    if problems:
        reads = ", ".join(known) if known else "no parameters"
        raise ValueError(f"{'; '.join(problems)} ({path.name} reads {reads})")
    # After the names, so a misspelt name is reported as such rather than as a missing field.
    _shipped_parameter_rules(spec)


def load_spec(
    path: Path, models_dir: Path = SIGNAL_MODELS_DIR, require_file_name: bool = True
) -> StrategySpec:
    """Read and validate one spec file; errors name the file and the field.

    A spec in strategies/specs/ is named after its file; one given to a backtest or sweep
    (`require_file_name=False`) may have any file name: its `name` names the signal SQL.
    """
    try:
        spec = StrategySpec.model_validate(yaml.safe_load(path.read_text()))
        check_against_sql(spec, models_dir)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    if require_file_name and path.stem != spec.name:
        raise ValueError(f"{path}: name: '{spec.name}' differs from the file name '{path.stem}'")
    return spec


def load_specs(
    directory: Path = SPECS_DIR, models_dir: Path = SIGNAL_MODELS_DIR
) -> list[StrategySpec]:
    """Every strategy spec in the directory, by file name; the live ones' budgets must fit in
    the account (a shadow spec's budget sizes only its own paper book)."""
    specs = [load_spec(path, models_dir) for path in sorted(directory.glob("*.yaml"))]
    live = [spec for spec in specs if spec.mode == "live"]
    budget = sum(spec.limits.capital_budget for spec in live)
    if budget > 1 + 1e-9:
        shares = ", ".join(f"{s.name} {s.limits.capital_budget:g}" for s in live)
        raise ValueError(f"{directory}: limits.capital_budget adds up to {budget:g} > 1 ({shares})")
    return specs


def dbt_vars(specs: list[StrategySpec]) -> dict[str, Any]:
    """The dbt vars that tell marts.signals which strategy models to union."""
    return {"strategies": sorted(spec.name for spec in specs)}
