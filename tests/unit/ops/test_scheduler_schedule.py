"""The scheduler's schedules and catch-up, as pure functions: New York wall-clock times across DST
changes, the day after each XNYS session (holidays have none), weekly jobs, catch-up policies."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from scalper.config.model import SchedulerConfig
from scalper.core.timeutil import NEW_YORK
from scalper.ops.scheduler import (
    CatchUp,
    Job,
    JobContext,
    JobResult,
    Schedule,
    build_jobs,
    due_runs,
    next_run,
    occurrences,
)


def ny(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=NEW_YORK)


def local(times: list[dt.datetime]) -> list[str]:
    return [f"{t.astimezone(NEW_YORK):%a %Y-%m-%d %H:%M %Z}" for t in times]


def nothing(ctx: JobContext) -> JobResult:
    return JobResult()


def job(schedule: Schedule, catch_up: CatchUp = "each", window_days: int = 7) -> Job:
    return Job("probe", schedule, catch_up, nothing, dt.timedelta(days=window_days))


def test_a_daily_time_keeps_its_new_york_wall_clock_across_both_dst_changes() -> None:
    spring = occurrences(Schedule("daily", dt.time(6, 30)), ny(2026, 3, 6), ny(2026, 3, 10))
    assert local(spring) == [
        "Fri 2026-03-06 06:30 EST",
        "Sat 2026-03-07 06:30 EST",
        "Sun 2026-03-08 06:30 EDT",
        "Mon 2026-03-09 06:30 EDT",
    ]
    assert [t.astimezone(dt.UTC).hour for t in spring] == [11, 11, 10, 10]
    assert spring[2] - spring[1] == dt.timedelta(hours=23)  # the short day

    autumn = occurrences(Schedule("daily", dt.time(6, 30)), ny(2026, 10, 31), ny(2026, 11, 3))
    assert local(autumn) == ["Sat 2026-10-31 06:30 EDT", "Sun 2026-11-01 06:30 EST", "Mon 2026-11-02 06:30 EST"]
    assert autumn[1] - autumn[0] == dt.timedelta(hours=25)  # the long day


def test_a_time_in_the_spring_forward_gap_runs_once_an_hour_later() -> None:
    runs = occurrences(Schedule("daily", dt.time(2, 30)), ny(2026, 3, 7), ny(2026, 3, 10))
    assert local(runs) == ["Sat 2026-03-07 02:30 EST", "Sun 2026-03-08 03:30 EDT", "Mon 2026-03-09 02:30 EDT"]
    assert runs[1] - runs[0] == dt.timedelta(hours=24)  # the same UTC time as the day before


def test_a_time_in_the_repeated_fall_back_hour_runs_once_at_its_first_reading() -> None:
    runs = occurrences(Schedule("daily", dt.time(1, 30)), ny(2026, 10, 31, 12), ny(2026, 11, 2, 12))
    assert local(runs) == ["Sun 2026-11-01 01:30 EDT", "Mon 2026-11-02 01:30 EST"]


def test_after_session_runs_on_the_day_after_each_session_and_never_after_a_holiday_or_a_weekend() -> None:
    schedule = Schedule("after_session", dt.time(11, 30))
    # Thanksgiving week 2025: sessions Mon 24, Tue 25, Wed 26, (Thu 27 closed), Fri 28 (early close).
    thanksgiving = occurrences(schedule, ny(2025, 11, 24, 12), ny(2025, 12, 2, 0))
    assert local(thanksgiving) == [
        "Tue 2025-11-25 11:30 EST",
        "Wed 2025-11-26 11:30 EST",
        "Thu 2025-11-27 11:30 EST",  # after Wednesday's session
        "Sat 2025-11-29 11:30 EST",  # after Friday's; none on the Friday (Thursday was closed)
    ]
    # Christmas 2025: Wed 24 (early close) is a session, Thu 25 is not, Fri 26 is.
    christmas = occurrences(schedule, ny(2025, 12, 24, 12), ny(2025, 12, 30, 0))
    assert local(christmas) == ["Thu 2025-12-25 11:30 EST", "Sat 2025-12-27 11:30 EST"]  # none on Fri 26
    # Good Friday 2026 (3 April) is closed: nothing on Saturday 4 April.
    easter = occurrences(schedule, ny(2026, 4, 2), ny(2026, 4, 8))
    assert local(easter) == ["Thu 2026-04-02 11:30 EDT", "Fri 2026-04-03 11:30 EDT", "Tue 2026-04-07 11:30 EDT"]


def test_a_weekly_job_runs_on_its_weekday_only() -> None:
    runs = occurrences(Schedule("weekly", dt.time(14, 0), weekday=5), ny(2026, 2, 1), ny(2026, 2, 22))
    assert local(runs) == ["Sat 2026-02-07 14:00 EST", "Sat 2026-02-14 14:00 EST", "Sat 2026-02-21 14:00 EST"]
    assert occurrences(Schedule("weekly", dt.time(14, 0), weekday=5), ny(2026, 2, 2), ny(2026, 2, 7, 13)) == []


def test_the_interval_is_open_at_the_last_run_and_closed_at_now() -> None:
    schedule = Schedule("daily", dt.time(3, 0))
    at = ny(2026, 3, 10, 3)
    assert occurrences(schedule, at - dt.timedelta(days=1), at) == [at.astimezone(dt.UTC)]
    assert occurrences(schedule, at, at + dt.timedelta(hours=23)) == []
    assert occurrences(schedule, at, at - dt.timedelta(days=3)) == []  # a clock moved back runs nothing


def test_catch_up_each_runs_every_missed_occurrence_in_order_and_latest_only_the_newest() -> None:
    schedule = Schedule("daily", dt.time(3, 0))
    last = ny(2026, 3, 7, 3)  # then three nights missed, across the spring DST change
    now = ny(2026, 3, 10, 12)
    each = due_runs(job(schedule, "each"), last, now)
    assert local(each) == ["Sun 2026-03-08 03:00 EDT", "Mon 2026-03-09 03:00 EDT", "Tue 2026-03-10 03:00 EDT"]
    assert each == sorted(each)
    latest = due_runs(job(schedule, "latest"), last, now)
    assert latest == each[-1:]
    assert due_runs(job(schedule, "each"), each[-1], now) == []  # caught up: nothing more


def test_a_job_that_never_ran_starts_with_the_latest_occurrence() -> None:
    schedule = Schedule("daily", dt.time(3, 0))
    assert local(due_runs(job(schedule, "each"), None, ny(2026, 3, 10, 12))) == ["Tue 2026-03-10 03:00 EDT"]
    assert due_runs(job(schedule, "each"), None, ny(2026, 3, 10, 2)) == [ny(2026, 3, 9, 3).astimezone(dt.UTC)]


def test_occurrences_older_than_the_catch_up_window_are_not_run() -> None:
    schedule = Schedule("daily", dt.time(3, 0))
    runs = due_runs(job(schedule, "each", window_days=3), ny(2026, 2, 1, 3), ny(2026, 3, 10, 12))
    assert local(runs) == ["Sun 2026-03-08 03:00 EDT", "Mon 2026-03-09 03:00 EDT", "Tue 2026-03-10 03:00 EDT"]


def test_after_session_catch_up_over_a_long_weekend_runs_one_sync_per_session() -> None:
    schedule = Schedule("after_session", dt.time(11, 30))
    runs = due_runs(job(schedule, "each"), ny(2025, 11, 26, 11, 30), ny(2025, 12, 1, 18))
    assert local(runs) == ["Thu 2025-11-27 11:30 EST", "Sat 2025-11-29 11:30 EST"]  # none Sun/Mon morning


def test_times_must_be_aware() -> None:
    with pytest.raises(ValueError, match="naive"):
        occurrences(Schedule("daily", dt.time(3, 0)), dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="naive time"):
        Schedule("daily", dt.time(3, 0, tzinfo=dt.UTC))


def test_next_run_is_the_first_occurrence_after_now() -> None:
    assert next_run(Schedule("weekly", dt.time(14, 0), weekday=5), ny(2026, 2, 7, 14)) == ny(2026, 2, 14, 14)
    assert next_run(Schedule("after_session", dt.time(11, 30)), ny(2025, 11, 27, 12)) == ny(2025, 11, 29, 11, 30)


def test_build_jobs_follows_the_configuration() -> None:
    jobs = build_jobs(SchedulerConfig())
    assert [(j.name, j.schedule.cadence, j.catch_up) for j in jobs] == [
        ("flatfile_sync", "after_session", "each"),
        ("retention", "daily", "latest"),
        ("vacuum", "daily", "latest"),
        ("calendar_check", "daily", "latest"),
        ("tune_report", "weekly", "latest"),
    ]
    assert jobs[4].schedule.weekday == 5 and jobs[1].schedule.at < jobs[2].schedule.at  # vacuum after retention
    chosen = build_jobs(
        SchedulerConfig(
            jobs=("vacuum", "retention"), retention_at=dt.time(1, 15), tune_report_day="sunday", catch_up_days=2
        )
    )
    assert [j.name for j in chosen] == ["retention", "vacuum"]
    assert chosen[0].schedule.at == dt.time(1, 15) and chosen[0].window == dt.timedelta(days=2)


def test_the_configuration_refuses_times_with_an_offset_and_unknown_jobs() -> None:
    with pytest.raises(ValidationError, match="wall-clock"):
        SchedulerConfig.model_validate({"retention_at": "03:00+01:00"})
    with pytest.raises(ValidationError):
        SchedulerConfig.model_validate({"jobs": ["retention", "defrag"]})
    assert SchedulerConfig.model_validate({"vacuum_at": "04:45"}).vacuum_at == dt.time(4, 45)
