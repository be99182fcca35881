from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from steady_queue.cron.schedule import Schedule

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def at(*args, tz=UTC):
    return datetime(*args, tzinfo=tz)


def test_next_run_is_strictly_after_the_given_moment():
    schedule = Schedule("0 9 * * *", UTC)
    assert schedule.next_after(at(2026, 11, 25, 8, 59, 59)) == at(2026, 11, 25, 9, 0)
    assert schedule.next_after(at(2026, 11, 25, 9, 0)) == at(2026, 11, 26, 9, 0)


def test_runs_are_in_the_project_time_zone():
    schedule = Schedule("0 9 * * *", PARIS)
    # 9:00 in Paris is 8:00 UTC in winter, 7:00 UTC in summer.
    assert schedule.next_after(at(2026, 1, 10, 0, 0)) == at(2026, 1, 10, 8, 0)
    assert schedule.next_after(at(2026, 7, 10, 0, 0)) == at(2026, 7, 10, 7, 0)


def test_weekdays_and_aliases():
    assert Schedule("0 9 * * 1-5", UTC).next_after(at(2026, 11, 27, 10, 0)) == at(2026, 11, 30, 9, 0)  # Fri -> Mon
    assert Schedule("@daily", UTC).next_after(at(2026, 11, 25, 10, 0)) == at(2026, 11, 26, 0, 0)


def test_seconds_field():
    assert Schedule("*/10 * * * * * *", UTC).next_after(at(2026, 1, 1, 0, 0, 1)) == at(2026, 1, 1, 0, 0, 10)


def test_a_time_skipped_by_the_spring_change_runs_an_hour_later_by_the_clock():
    # Paris, 29 March 2026: 02:00 jumps to 03:00; 02:30 does not exist that day.
    schedule = Schedule("30 2 * * *", PARIS)
    run = schedule.next_after(at(2026, 3, 29, 0, 0, tz=PARIS))
    assert run == at(2026, 3, 29, 1, 30)  # 03:30 Paris summer time
    assert run.astimezone(PARIS).hour == 3
    assert schedule.next_after(run) == at(2026, 3, 30, 0, 30)  # 02:30 the next day


def test_a_time_repeated_by_the_autumn_change_runs_once():
    # New York, 1 November 2026: 02:00 goes back to 01:00; 01:30 happens twice.
    schedule = Schedule("30 1 * * *", NEW_YORK)
    first = schedule.next_after(at(2026, 11, 1, 0, 0, tz=NEW_YORK))
    assert first == at(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert schedule.next_after(first) == at(2026, 11, 2, 6, 30)  # the next day, 01:30 EST


def test_hourly_runs_across_the_autumn_change_never_go_backwards():
    schedule = Schedule("0 * * * *", NEW_YORK)
    moment = at(2026, 11, 1, 4, 0)  # 00:00 EDT
    runs = []
    for _ in range(4):
        moment = schedule.next_after(moment)
        runs.append(moment)
    assert runs == sorted(runs) and len(set(runs)) == 4


@pytest.mark.parametrize("expression", ["61 * * * *", "nope", "* * *"])
def test_invalid_expressions_raise(expression):
    with pytest.raises(ValueError):
        Schedule(expression)
