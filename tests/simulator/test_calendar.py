"""Tests for the NYSE session calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from simulator.calendar import NEW_YORK, MarketCalendar


def test_early_close_day_closes_at_one_pm_new_york() -> None:
    session = MarketCalendar().session_on(date(2024, 11, 29))
    assert session is not None
    assert session.close.astimezone(NEW_YORK).time() == time(13, 0)
    assert session.is_early_close


def test_holiday_and_weekend_have_no_session() -> None:
    calendar = MarketCalendar()
    assert calendar.session_on(date(2024, 7, 4)) is None
    assert calendar.session_on(date(2024, 1, 6)) is None


def test_open_interval_includes_open_and_excludes_close() -> None:
    calendar = MarketCalendar()
    assert calendar.is_open(datetime(2024, 1, 3, 14, 30, tzinfo=UTC))
    assert not calendar.is_open(datetime(2024, 1, 3, 14, 29, 59, tzinfo=UTC))
    assert not calendar.is_open(datetime(2024, 1, 3, 21, 0, tzinfo=UTC))


def test_next_open_skips_weekend_and_next_close_is_today_while_open() -> None:
    calendar = MarketCalendar()
    friday_evening = datetime(2024, 1, 5, 23, 0, tzinfo=UTC)
    assert calendar.next_open(friday_evening) == datetime(2024, 1, 8, 14, 30, tzinfo=UTC)
    wednesday_noon = datetime(2024, 1, 3, 17, 0, tzinfo=UTC)
    assert calendar.next_close(wednesday_noon) == datetime(2024, 1, 3, 21, 0, tzinfo=UTC)
    assert calendar.next_open(wednesday_noon) == datetime(2024, 1, 4, 14, 30, tzinfo=UTC)


def test_summer_sessions_open_at_half_past_nine_new_york() -> None:
    session = MarketCalendar().session_on(date(2024, 7, 3))
    assert session is not None
    assert session.open == datetime(2024, 7, 3, 13, 30, tzinfo=UTC)
    assert session.close == datetime(2024, 7, 3, 17, 0, tzinfo=UTC)


def test_sessions_between_is_inclusive() -> None:
    sessions = MarketCalendar().sessions_between(date(2024, 11, 27), date(2024, 12, 2))
    assert [s.date for s in sessions] == [date(2024, 11, 27), date(2024, 11, 29), date(2024, 12, 2)]
