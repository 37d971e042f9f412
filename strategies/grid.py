"""Parameter grids for sweeps: `oversold=20:35:5,exit_above=50,55,60` or a spec's `sweep:` block.

Every point is a full parameter set (the spec's values for the parameters the grid leaves out),
validated as a spec would be, so a sweep never evaluates a set the live loader would refuse.
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal, InvalidOperation

from strategies.spec import StrategySpec, check_against_sql

# More points than this is almost certainly a typo in a step (and an hours-long build).
MAX_POINTS = 10_000
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class GridError(ValueError):
    """A grid is refused; the message names the parameter and the value."""


def _number(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise GridError(f"--grid {name}: {text.strip()!r} is not a number") from None
    if not value.is_finite():
        raise GridError(f"--grid {name}: {text.strip()!r} is not a finite number")
    return value


def _values(name: str, item: str) -> list[Decimal]:
    """One value, or a range start:stop:step with the stop included."""
    if ":" not in item:
        return [_number(item, name)]
    parts = item.split(":")
    if len(parts) != 3:
        raise GridError(f"--grid {name}: {item!r} is not start:stop:step")
    start, stop, step = (_number(part, name) for part in parts)
    if step <= 0:
        raise GridError(f"--grid {name}: step {step} in {item!r} must be above 0")
    if stop < start:
        raise GridError(f"--grid {name}: {item!r} stops below its start")
    count = int((stop - start) / step) + 1
    if count > MAX_POINTS:
        raise GridError(f"--grid {name}: {item!r} has {count:,} values (at most {MAX_POINTS:,})")
    return [start + step * i for i in range(count)]


def parse_grid(text: str) -> dict[str, list[float]]:
    """`a=1:3:1,b=5,6` → {'a': [1, 2, 3], 'b': [5, 6]}; a bare value continues the last name."""
    grid: dict[str, list[float]] = {}
    name = ""
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise GridError(f"--grid {text!r}: an empty value (two commas in a row?)")
        if "=" in item:
            name, item = (piece.strip() for piece in item.split("=", 1))
            if not _NAME.match(name):
                raise GridError(f"--grid {name!r} is not a parameter name")
            if name in grid:
                raise GridError(f"--grid {name} is given twice")
            grid[name] = []
        elif not name:
            raise GridError(f"--grid {text!r} must start with name=value")
        grid[name] += [float(value) for value in _values(name, item)]
    return grid


def grid_points(spec: StrategySpec, grid: dict[str, list[float]]) -> list[dict[str, float]]:
    """Every combination of the grid's values, each completed with the spec's other parameters
    and checked against the strategy's SQL and rules; a refused point names its values."""
    if not grid:
        raise GridError(f"--grid: empty, and {spec.name}'s spec has no sweep block")
    unknown = [name for name in grid if name not in spec.parameters]
    if unknown:
        known = ", ".join(spec.parameters) or "none"
        raise GridError(f"--grid {', '.join(unknown)}: not a parameter of {spec.name} ({known})")
    for name, values in grid.items():
        if not values:
            raise GridError(f"--grid {name}: no values")
        if len(set(values)) != len(values):
            raise GridError(f"--grid {name}: a value is given twice")
    names = list(grid)
    count = 1
    for values in grid.values():
        count *= len(values)
    if count > MAX_POINTS:
        raise GridError(f"--grid has {count:,} points (at most {MAX_POINTS:,})")
    points = []
    for combination in itertools.product(*(grid[name] for name in names)):
        point = {**spec.parameters, **dict(zip(names, combination, strict=True))}
        try:
            check_against_sql(spec.model_copy(update={"parameters": point}))
        except ValueError as error:
            shown = ", ".join(
                f"{name}={value:g}" for name, value in zip(names, combination, strict=True)
            )
            reason = str(error).replace("Value error, ", "")
            raise GridError(f"--grid point {shown}: {reason}") from None
        points.append(point)
    return points
