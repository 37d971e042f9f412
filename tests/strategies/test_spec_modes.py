"""A spec's mode: live by default; a shadow spec's budget is its paper book's own, so the check
that the budgets fit in the account counts the live specs only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from strategies.spec import SIGNAL_MODELS_DIR, SPECS_DIR, load_specs

CANDIDATE = """\
name: candidate
description: The SMA crossover's rules with the whole account as budget.
mode: {mode}
timeframe: 1Hour
universe: [AAPL]
parameters:
  full_strength_gap: 0.02
limits:
  capital_budget: 1.0
  max_positions: 10
"""


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """The shipped specs and signal models, plus the candidate's model (the SMA crossover's)."""
    specs, models = tmp_path / "specs", tmp_path / "models"
    shutil.copytree(SPECS_DIR, specs)
    shutil.copytree(SIGNAL_MODELS_DIR, models)
    shutil.copy(models / "int_sma_crossover__signals.sql", models / "int_candidate__signals.sql")
    return specs, models


def test_the_shipped_specs_are_live() -> None:
    assert {spec.mode for spec in load_specs()} == {"live"}


def test_a_shadow_budget_beside_the_live_ones_is_not_counted(dirs: tuple[Path, Path]) -> None:
    specs, models = dirs
    (specs / "candidate.yaml").write_text(CANDIDATE.format(mode="shadow"))
    loaded = {spec.name: spec for spec in load_specs(specs, models)}
    assert loaded["candidate"].mode == "shadow"
    assert sum(spec.limits.capital_budget for spec in loaded.values()) == pytest.approx(1.7)


def test_the_same_budget_live_is_refused(dirs: tuple[Path, Path]) -> None:
    specs, models = dirs
    (specs / "candidate.yaml").write_text(CANDIDATE.format(mode="live"))
    with pytest.raises(
        ValueError, match=r"limits.capital_budget adds up to 1.7 > 1 \(.*candidate 1"
    ):
        load_specs(specs, models)


def test_an_unknown_mode_is_refused_naming_the_field(dirs: tuple[Path, Path]) -> None:
    specs, models = dirs
    (specs / "candidate.yaml").write_text(CANDIDATE.format(mode="paper"))
    with pytest.raises(ValueError, match=r"(?s)candidate.yaml.*mode.*'paper'"):
        load_specs(specs, models)
