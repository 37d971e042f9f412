"""Strategy specs: the shipped ones load; a bad one is refused naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from strategies.spec import load_spec, load_specs


def test_shipped_sma_crossover_spec_loads_with_its_dbt_vars() -> None:
    (spec,) = load_specs()
    assert spec.name == "sma_crossover"
    assert spec.timeframe == "1Hour"
    assert len(spec.universe) == 10
    assert spec.dbt_vars() == {"sma_crossover_fast": 10, "sma_crossover_slow": 30}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("fast: 30\n  slow: 10", "parameters.fast (30) must be below parameters.slow (10)"),
        ("fast: 10\n  slow: x", "slow"),
    ],
)
def test_bad_parameters_are_refused_naming_file_and_field(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"name: bad\ndescription: d\ntimeframe: 1Hour\nuniverse: [aapl]\nparameters:\n  {body}\n"
    )
    with pytest.raises(ValueError, match=str(path)) as error:
        load_spec(path)
    assert message in str(error.value)


def test_unknown_timeframe_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tf.yaml"
    path.write_text(
        "name: tf\ndescription: d\ntimeframe: 2Fortnight\nuniverse: [AAPL]\n"
        "parameters: {fast: 5, slow: 10}\n"
    )
    with pytest.raises(ValueError, match="timeframe '2Fortnight' is not valid"):
        load_spec(path)
