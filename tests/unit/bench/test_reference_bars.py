"""The reference workload's bars are the published ones, byte for byte, and give the known answer."""

from __future__ import annotations

import hashlib

import numpy as np

from scalper.bench.reference_bars import COLUMNS, SESSION_SECONDS, ema_cross_reference, make_bars, session_opens

#: sha256 over (name, dtype, bytes) of each column of the published generator's output, 43 days, seed 7
DIGEST_43 = "9765c75c396f47a827e19d9176f8a1f86b075414c56555bc09cb745969cbe6f7"


def digest(bars: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in COLUMNS:
        h.update(name.encode())
        h.update(str(bars[name].dtype).encode())
        h.update(bars[name].tobytes())
    return h.hexdigest()


def test_43_days_are_the_published_bars_and_give_the_known_answer() -> None:
    bars = make_bars(43, 7)
    assert len(bars["ts_ns"]) == 43 * SESSION_SECONDS == 1_006_200
    assert digest(bars) == DIGEST_43
    fills, units, position, pnl = ema_cross_reference(bars["open"], bars["close"])
    assert (fills, units, position) == (10_427, 20_853, -1)
    assert round(pnl, 2) == 123.59


def test_the_bars_are_consistent_cents_on_weekday_sessions() -> None:
    bars = make_bars(3, 7)
    for name in ("open", "high", "low", "close"):
        assert np.allclose(bars[name] * 100, np.round(bars[name] * 100))
    assert np.all(bars["low"] <= np.minimum(bars["open"], bars["close"]))
    assert np.all(bars["high"] >= np.maximum(bars["open"], bars["close"]))
    assert np.all(bars["volume"] >= 1)
    # inside a session the next open is this close; sessions start 09:30 at UTC-5 on weekdays
    assert np.array_equal(bars["open"][1:SESSION_SECONDS], bars["close"][: SESSION_SECONDS - 1])
    assert session_opens(3) == [int(bars["ts_ns"][i * SESSION_SECONDS]) for i in range(3)]
    assert make_bars(3, 7)["close"].tobytes() == bars["close"].tobytes()
    assert make_bars(3, 8)["close"].tobytes() != bars["close"].tobytes()


def test_a_fill_at_the_signal_bars_close_would_give_the_wrong_answer() -> None:
    # the common engine mistake the benchmark guards against: same signals, filled at the close
    bars = make_bars(43, 7)
    shifted_opens = np.concatenate(([bars["close"][0]], bars["close"][:-1]))  # "next open" := this close
    *_, pnl = ema_cross_reference(shifted_opens, bars["close"])
    assert round(pnl, 2) == 132.33
