"""How the dashboard shows a metric: one label and format per column, in cards and tables."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard import metrics


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("total_return", -0.012345, "-1.23%"),
        ("calmar_ratio", 2.0, "2.00"),
        ("average_loss", -298.734, "-$298.73"),
        ("expectancy", 1234.5, "$1,234.50"),
        ("max_consecutive_losses", 3, "3"),
        ("max_drawdown_start_date", date(2024, 1, 11), "2024-01-11"),
        ("first_bar_at", pd.Timestamp("2024-01-02 14:00", tz="UTC"), "2024-01-02 09:00"),
        ("profit_factor", float("nan"), "—"),
        ("win_rate", None, "—"),
    ],
)
def test_text_formats_each_kind_of_metric(name: str, value: object, shown: str) -> None:
    """Fractions as percentages, money with the sign before the dollar, times in New York,
    an undefined value as a dash."""
    assert metrics.text(name, value) == shown


def test_as_points_scales_percent_metrics_and_their_aliases_only() -> None:
    """Percent metrics (and columns named as holding one) become points; ratios stay."""
    frame = pd.DataFrame(
        {"total_return": [0.1], "sharpe_ratio": [1.5], "in_sample_return": [0.02], "x": [0.5]}
    )
    shown = metrics.as_points(frame, {"in_sample_return": "total_return"})
    assert shown.iloc[0].tolist() == pytest.approx([10.0, 1.5, 2.0, 0.5])
    assert frame["total_return"].iloc[0] == 0.1  # a copy


def test_key_values_lists_the_metrics_in_the_order_asked() -> None:
    """A row's metrics as (label, text) pairs, for a one-run table."""
    row = pd.Series({"turnover": 0.25, "time_underwater": 0.8085, "trade_count": 4})
    table = metrics.key_values(row, ["trade_count", "time_underwater", "turnover"])
    assert table.to_numpy().tolist() == [
        ["Trades", "4"],
        ["Time underwater", "80.85%"],
        ["Turnover", "0.25"],
    ]


def test_d3_format_follows_the_metric_kind() -> None:
    """Plotly's cell labels read like the tables: percent, ratio, money, count."""
    assert [
        metrics.d3_format(name)
        for name in ("total_return", "sharpe_ratio", "expectancy", "trade_count")
    ] == [".2%", ".2f", "$,.2f", ",d"]
