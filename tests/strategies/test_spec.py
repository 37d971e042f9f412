"""Strategy specs: the shipped ones load; a bad one is refused naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from strategies.spec import SPECS_DIR, dbt_vars, load_spec, load_specs

GOOD = {
    "name": "rsi_mean_reversion",
    "description": "d",
    "timeframe": "1Hour",
    "universe": "[aapl]",
    "parameters": "{oversold: 30, exit_above: 55}",
    "limits": "{capital_budget: 0.3, max_positions: 3}",
}


def write_spec(directory: Path, **fields: str) -> Path:
    values = {**GOOD, **fields}
    path = directory / f"{values['name']}.yaml"
    path.write_text("".join(f"{key}: {value}\n" for key, value in values.items() if value))
    return path


def test_the_three_shipped_strategies_load_and_name_the_signal_models() -> None:
    specs = load_specs()
    assert [spec.name for spec in specs] == [
        "bollinger_breakout",
        "rsi_mean_reversion",
        "sma_crossover",
    ]
    assert all(spec.timeframe == "1Hour" and len(spec.universe) == 10 for spec in specs)
    assert sum(spec.limits.capital_budget for spec in specs) <= 1
    assert dbt_vars(specs) == {
        "strategies": ["bollinger_breakout", "rsi_mean_reversion", "sma_crossover"]
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"parameters": "{oversold: 60, exit_above: 55}"},
            "parameters.exit_above (55) must be above parameters.oversold (60)",
        ),
        ({"parameters": "{oversold: x, exit_above: 55}"}, "parameters.oversold"),
        ({"parameters": "{oversold: 30}"}, "parameters: exit_above missing"),
        (
            {"parameters": "{oversold: 30, exit_above: 55, oversoldd: 25}"},
            "parameters.oversoldd: unknown parameter, did you mean 'oversold'? "
            "(int_rsi_mean_reversion__signals.sql reads oversold, exit_above)",
        ),
        (
            {"parameters": "{oversoldd: 25, exit_above: 55}"},
            "parameters.oversoldd: unknown parameter",
        ),
        (
            {"parameters": "{oversold: 30, exit_above: 55, colour: 1}"},
            "parameters.colour: unknown parameter (int_rsi_mean_reversion__signals.sql reads "
            "oversold, exit_above)",
        ),
        ({"limits": "{capital_budget: 1.5, max_positions: 3}"}, "limits.capital_budget"),
        ({"limits": "{capital_budget: 0.3}"}, "limits.max_positions"),
        ({"timeframe": "2Fortnight"}, "timeframe '2Fortnight' is not valid"),
        ({"name": "Bad-Name"}, "name"),
        ({"name": "no_such_strategy"}, "no signal model for strategy 'no_such_strategy'"),
        ({"colour": "blue"}, "colour"),
        ({"sizing": "{method: volatility_target}"}, "sizing.annual_volatility is required"),
        ({"sizing": "{method: kelly}"}, "sizing.method"),
        ({"order": "{type: limit}"}, "order.limit_offset is required for type limit"),
        ({"order": "{type: stop_limit, limit_offset: 0.01}"}, "order.stop_offset is required"),
        ({"order": "{type: bracket, take_profit: 0.05}"}, "order.stop_loss is required"),
        ({"order": "{type: market, take_profit: 0.05}"}, "order.take_profit (0.05) does not apply"),
        ({"order": "{exit_type: limit}"}, "order.limit_offset is required"),
        ({"order": "{type: trailing_stop}"}, "order.type"),
        ({"order": "{time_in_force: ioc}"}, "order.time_in_force"),
        ({"order": "{type: bracket, take_profit: 0.05, stop_loss: 1.5}"}, "order.stop_loss"),
    ],
)
def test_bad_specs_are_refused_naming_file_and_field(
    tmp_path: Path, fields: dict[str, str], message: str
) -> None:
    path = write_spec(tmp_path, **fields)
    with pytest.raises(ValueError, match=str(path)) as error:
        load_spec(path)
    assert message in str(error.value)


def test_an_order_block_loads_with_what_its_type_needs(tmp_path: Path) -> None:
    spec = load_spec(
        write_spec(
            tmp_path,
            order="{type: bracket, time_in_force: gtc, take_profit: 0.05, stop_loss: 0.03}",
        )
    )
    assert (spec.order.type, spec.order.time_in_force) == ("bracket", "gtc")
    assert (spec.order.take_profit, spec.order.stop_loss, spec.order.exit_type) == (
        0.05,
        0.03,
        "market",
    )
    assert load_spec(write_spec(tmp_path)).order.type == "market"


def test_a_file_named_differently_from_its_strategy_is_refused(tmp_path: Path) -> None:
    path = write_spec(tmp_path)
    renamed = path.rename(tmp_path / "rsi.yaml")
    with pytest.raises(ValueError, match="'rsi_mean_reversion' differs from the file name 'rsi'"):
        load_spec(renamed)


def test_budgets_above_the_whole_account_are_refused(tmp_path: Path) -> None:
    for path in SPECS_DIR.glob("*.yaml"):
        (tmp_path / path.name).write_text(
            path.read_text().replace("capital_budget: 0.2", "capital_budget: 0.4")
        )
    with pytest.raises(ValueError, match=r"limits.capital_budget adds up to 1.1 > 1"):
        load_specs(tmp_path)


def test_a_misspelt_parameter_is_refused_with_the_closest_name_the_sql_reads(
    tmp_path: Path,
) -> None:
    path = write_spec(tmp_path, parameters="{oversoldd: 25, exit_above: 55}")
    with pytest.raises(ValueError) as error:
        load_spec(path)
    assert str(error.value) == (
        f"{path}: parameters: oversold missing; parameters.oversoldd: unknown parameter, "
        "did you mean 'oversold'? (int_rsi_mean_reversion__signals.sql reads oversold, exit_above)"
    )


def test_a_parameter_is_refused_when_the_sql_reads_none(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "int_rsi_mean_reversion__signals.sql").write_text("select 1 as wants_position\n")
    path = write_spec(tmp_path)
    with pytest.raises(ValueError) as error:
        load_spec(path, models)
    assert str(error.value).endswith(
        ": parameters.oversold: unknown parameter; parameters.exit_above: unknown parameter "
        "(int_rsi_mean_reversion__signals.sql reads no parameters)"
    )
