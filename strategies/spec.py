"""Strategy specs: one YAML per strategy in strategies/specs/, validated here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

from ingestion.timeframes import parse_timeframe

SPECS_DIR = Path(__file__).parent / "specs"


class SmaCrossoverParameters(BaseModel):
    """Window lengths, in bars, of the two moving averages."""

    fast: int = Field(gt=1)
    slow: int = Field(gt=2)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossoverParameters:
        if self.fast >= self.slow:
            raise ValueError(
                f"parameters.fast ({self.fast}) must be below parameters.slow ({self.slow})"
            )
        return self


class StrategySpec(BaseModel):
    """One strategy: what it trades, on which bars, with which parameters."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")
    description: str
    timeframe: str
    universe: list[str] = Field(min_length=1)
    parameters: SmaCrossoverParameters

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, value: str) -> str:
        return parse_timeframe(value).name

    @field_validator("universe")
    @classmethod
    def _upper_symbols(cls, value: list[str]) -> list[str]:
        return [symbol.strip().upper() for symbol in value]

    def dbt_vars(self) -> dict[str, Any]:
        """The dbt vars that carry this strategy's parameters."""
        return {f"{self.name}_{key}": val for key, val in self.parameters.model_dump().items()}


def load_spec(path: Path) -> StrategySpec:
    """Read and validate one spec file; errors name the file and the field."""
    try:
        return StrategySpec.model_validate(yaml.safe_load(path.read_text()))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def load_specs(directory: Path = SPECS_DIR) -> list[StrategySpec]:
    """Every strategy spec in the directory, by file name."""
    return [load_spec(path) for path in sorted(directory.glob("*.yaml"))]
