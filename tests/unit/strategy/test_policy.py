"""The session policy: FOMC blackout, release windows, staleness, morning score and gates, reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from scalper.core.errors import InvariantError
from scalper.core.timeutil import NEW_YORK
from scalper.econ.events import EconEvent, at_new_york
from scalper.econ.flags import SessionFlags, Staleness, session_flags, staleness, xnys_hours
from scalper.econ.snapshot import load_snapshot
from scalper.strategy.policy import PLAYS, Gates, MorningScore, PolicyDecision, decide
from scalper.strategy.thresholds import load_thresholds

TH = load_thresholds()
FOMC_DAY = dt.date(2026, 12, 9)
PLAIN_DAY = dt.date(2026, 12, 2)
TREND = MorningScore(trend_up=0.5, trend_down=0.2, balanced=0.3, checkpoint="10:00")
BALANCED = MorningScore(trend_up=0.15, trend_down=0.15, balanced=0.7, checkpoint="10:00")
MIXED = MorningScore(trend_up=0.3, trend_down=0.2, balanced=0.5, checkpoint="10:00")


def ev(kind: str, day: dt.date, time: dt.time) -> EconEvent:
    return EconEvent(
        uid=f"t:{kind}:{day}", ts=at_new_york(day, time), name=kind, kind=kind, source="t", retrieved_on=day
    )


def fresh() -> Staleness:
    return Staleness(level="fresh", coverage={"FOMC": 20, "CPI": 20, "NFP": 20}, last={}, reduce_below=10, off_below=1)


def flags(day: dt.date, events: Sequence[EconEvent] = (), stale: Staleness | None = None) -> SessionFlags:
    hours = xnys_hours(day)
    assert hours is not None
    return session_flags(day, events, open_=hours[0], close=hours[1], early_close=hours[2], stale=stale or fresh())


def at(day: dt.date, hhmm: str, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm).replace(second=second), tzinfo=NEW_YORK)


def run(
    when: dt.datetime,
    f: SessionFlags,
    score: MorningScore | None = MIXED,
    gates: Gates | None = None,
) -> PolicyDecision:
    g = gates or Gates()
    return decide(
        at=when, flags=f, scores={"I:SPX": score, "I:NDX": score}, gates={"I:SPX": g, "I:NDX": g}, thresholds=TH
    )


def codes(d: PolicyDecision, play: str) -> set[str]:
    return {r.code for r in d.plays[play].reasons}


FOMC_FLAGS = flags(FOMC_DAY, load_snapshot().events)


@pytest.mark.parametrize(("hhmm", "second"), [("13:55", 0), ("14:00", 0), ("14:30", 0), ("14:45", 0), ("14:45", 59)])
def test_fomc_day_blocks_new_entries_from_1355_to_1445(hhmm: str, second: int) -> None:
    d = run(at(FOMC_DAY, hhmm, second), FOMC_FLAGS, TREND)
    for play in PLAYS:
        assert d.level(play) == "off"
        assert "FOMC_BLACKOUT" in codes(d, play)


@pytest.mark.parametrize(("hhmm", "second"), [("13:54", 0), ("13:54", 59), ("14:46", 0)])
def test_fomc_day_allows_entries_just_outside_the_window(hhmm: str, second: int) -> None:
    d = run(at(FOMC_DAY, hhmm, second), FOMC_FLAGS, TREND)
    assert d.level("SPX_TREND_BURST") != "off"
    assert "FOMC_BLACKOUT" not in codes(d, "SPX_TREND_BURST")


def test_after_the_fomc_window_plays_are_reduced() -> None:
    d = run(at(FOMC_DAY, "14:46"), FOMC_FLAGS, TREND)
    assert d.level("SPX_TREND_BURST") == "reduced"
    assert "FOMC_AFTERMATH" in codes(d, "SPX_TREND_BURST")


def test_a_day_without_fomc_is_not_blocked_at_1400() -> None:
    d = run(at(PLAIN_DAY, "14:00"), flags(PLAIN_DAY, load_snapshot().events), TREND)
    assert d.level("SPX_TREND_BURST") == "aggressive"


def test_stale_calendar_reduces_every_play() -> None:
    stale = staleness(
        [
            ev("FOMC", FOMC_DAY, dt.time(14)),
            ev("CPI", PLAIN_DAY, dt.time(8, 30)),
            ev("NFP", dt.date(2026, 12, 4), dt.time(8, 30)),
        ],
        PLAIN_DAY,
        [PLAIN_DAY + dt.timedelta(days=i) for i in range(30)],
    )
    assert stale.level == "reduced"
    d = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY, stale=stale), TREND)
    for play in PLAYS:
        assert d.level(play) == "reduced"
        assert "CALENDAR_STALE" in codes(d, play)


def test_calendar_not_covering_today_stops_trading() -> None:
    stale = staleness(load_snapshot().events, dt.date(2026, 11, 25), [dt.date(2026, 11, 25), dt.date(2026, 11, 27)])
    assert stale.level == "off"  # the shipped snapshot's last NFP is 2025-11-20
    d = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY, stale=stale), TREND)
    for play in PLAYS:
        assert d.level(play) == "off"
        reason = next(r for r in d.plays[play].reasons if r.code == "CALENDAR_STALE_OFF")
        assert "NFP known through 2025-11-20" in reason.text


def test_cpi_morning_is_reduced_until_0945() -> None:
    f = flags(PLAIN_DAY, [ev("CPI", PLAIN_DAY, dt.time(8, 30))])
    assert run(at(PLAIN_DAY, "09:44", 59), f, TREND).level("SPX_TREND_BURST") == "reduced"
    assert "PRE_OPEN_RELEASE" in codes(run(at(PLAIN_DAY, "09:40"), f, TREND), "NDX_BALANCED_BREAK")
    assert run(at(PLAIN_DAY, "09:45"), f, TREND).level("SPX_TREND_BURST") == "aggressive"


def test_ten_oclock_release_blocks_entries_around_it() -> None:
    f = flags(PLAIN_DAY, [ev("ISM", PLAIN_DAY, dt.time(10, 0))])
    assert run(at(PLAIN_DAY, "09:58"), f).level("SPX_BALANCED_BREAK") == "off"
    assert run(at(PLAIN_DAY, "10:05"), f).level("SPX_BALANCED_BREAK") == "off"
    assert run(at(PLAIN_DAY, "09:57"), f).level("SPX_BALANCED_BREAK") == "normal"
    assert run(at(PLAIN_DAY, "10:06"), f).level("SPX_BALANCED_BREAK") == "normal"


def test_trend_morning_favours_trend_plays_and_balanced_morning_balanced_plays() -> None:
    t = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY), TREND)
    assert (t.level("SPX_TREND_BURST"), t.level("SPX_BALANCED_BREAK")) == ("aggressive", "reduced")
    b = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY), BALANCED)
    assert (b.level("NDX_TREND_BURST"), b.level("NDX_BALANCED_BREAK")) == ("reduced", "aggressive")
    assert "MORNING_TREND" in codes(t, "SPX_BALANCED_BREAK")


def test_each_index_reads_its_own_score() -> None:
    d = decide(
        at=at(PLAIN_DAY, "11:00"),
        flags=flags(PLAIN_DAY),
        scores={"I:SPX": TREND, "I:NDX": BALANCED},
        gates={},
        thresholds=TH,
    )
    assert d.level("SPX_TREND_BURST") == "aggressive"
    assert d.level("NDX_TREND_BURST") == "reduced"


def test_gamma_regime_votes() -> None:
    neg = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY), MIXED, Gates(net_gex=-2e9))
    assert neg.level("SPX_TREND_BURST") == "normal"  # +1, but aggressive needs a favouring score
    assert {"NEG_GAMMA", "AGGRESSIVE_NEEDS_SCORE"} <= codes(neg, "SPX_TREND_BURST")
    wall = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY), BALANCED, Gates(net_gex=3e9, wall_distance_pct=0.1))
    assert wall.level("SPX_TREND_BURST") == "reduced"
    assert wall.level("SPX_BALANCED_BREAK") == "aggressive"
    far = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY), MIXED, Gates(net_gex=3e9, wall_distance_pct=1.0))
    assert "POS_GAMMA_NEAR_WALL" not in codes(far, "SPX_BALANCED_BREAK")


def test_iv_rank_and_relative_volume_votes() -> None:
    hot = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY), TREND, Gates(iv_rank=95.0))
    assert {d.level for d in hot.plays.values()} == {"reduced"}
    quiet = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY), MIXED, Gates(iv_rank=10.0, relvol_0dte=0.5))
    assert quiet.level("SPX_TREND_BURST") == "reduced"
    assert {"IV_RANK_LOW", "RELVOL_LOW"} <= codes(quiet, "SPX_TREND_BURST")
    busy = run(at(PLAIN_DAY, "11:00"), flags(PLAIN_DAY), TREND, Gates(relvol_0dte=2.0))
    assert "RELVOL_HIGH" in codes(busy, "SPX_TREND_BURST")


def test_no_score_yet_caps_plays() -> None:
    d = run(at(PLAIN_DAY, "09:40"), flags(PLAIN_DAY), None, Gates(net_gex=-1e9))
    assert d.level("SPX_TREND_BURST") == "reduced"
    assert "NO_MORNING_SCORE" in codes(d, "SPX_TREND_BURST")


def test_outside_session_and_closing_minutes_are_off() -> None:
    f = flags(PLAIN_DAY)
    assert run(at(PLAIN_DAY, "09:29"), f, TREND).level("SPX_TREND_BURST") == "off"
    assert run(at(PLAIN_DAY, "15:45"), f, TREND).level("SPX_TREND_BURST") == "off"
    assert run(at(PLAIN_DAY, "15:44"), f, TREND).level("SPX_TREND_BURST") == "aggressive"
    assert "OUTSIDE_SESSION" in codes(run(at(PLAIN_DAY, "16:00"), f, TREND), "SPX_TREND_BURST")


def test_early_close_day_from_the_exchange_calendar() -> None:
    day = dt.date(2026, 11, 27)
    f = flags(day)
    assert f.early_close and f.close.astimezone(NEW_YORK).time() == dt.time(13, 0)
    assert run(at(day, "11:00"), f, TREND).level("SPX_TREND_BURST") == "reduced"
    assert run(at(day, "12:50"), f, TREND).level("SPX_TREND_BURST") == "off"


def test_every_decision_carries_reasons_with_code_text_and_effect() -> None:
    d = run(at(FOMC_DAY, "14:10"), FOMC_FLAGS, TREND, Gates(net_gex=-1e9, iv_rank=50.0, relvol_0dte=1.0))
    assert d.version == TH.version
    for decision in d.plays.values():
        assert decision.reasons
        for r in decision.reasons:
            assert r.code.isupper() and r.text and r.effect


def test_naive_time_and_bad_probabilities_are_refused() -> None:
    with pytest.raises(InvariantError, match="naive"):
        decide(at=dt.datetime(2026, 12, 2, 11), flags=flags(PLAIN_DAY), scores={}, gates={}, thresholds=TH)
    with pytest.raises(InvariantError, match="summing to 1"):
        MorningScore(trend_up=0.5, trend_down=0.5, balanced=0.5)
