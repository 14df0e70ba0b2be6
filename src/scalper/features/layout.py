"""Where each feature lives in a symbol's flat state array, and the parameter vector.

One symbol's whole feature state is one ``float64`` array of :data:`STATE_SIZE` slots; the
offsets below are module constants, so the compiled kernels address them as immediates. Rings are
allocated at their capacity (``*_CAP``) and used up to the configured period, which keeps the
layout fixed and the memory per symbol bounded (:data:`STATE_SIZE` × 8 bytes, ~0.1 MB) whatever
the configuration. Timestamps in the state are whole UTC seconds (exact in a float64).
"""

from __future__ import annotations

from typing import Final

from scalper.features.adx import ADX_SIZE
from scalper.features.atr import ATR_SIZE
from scalper.features.efficiency import er_size
from scalper.features.ema import EMA_SIZE, slope_size
from scalper.features.rolling import window_size
from scalper.features.vwap import VWAP_SIZE

SLOPE_CAP: Final = 60  # EMA slope lag k
ER_CAP: Final = 120  # efficiency-ratio period n (minutes)
BB_CAP: Final = 120  # Bollinger/Keltner period (minutes)
RV_CAP: Final = 3600  # realised-volatility window (seconds)
PIVOT_CAP: Final = 15  # pivot strength N (minutes each side)
RATIO_CAP: Final = 30  # index/proxy ratio median window (minutes)
RELVOL_SESSIONS_CAP: Final = 60  # relative-volume history (sessions)
SESSION_MINUTES_CAP: Final = 400  # longest regular session is 390 minutes
OR_MINUTES: Final = (5, 15, 30)

_cursor = 0


def _take(size: int) -> int:
    global _cursor
    start = _cursor
    _cursor += size
    return start


# --- session and day ---------------------------------------------------------------------------
CURSOR: Final = _take(1)  # index of the current session in the sessions table
DAY_ACTIVE: Final = _take(1)  # 1 once the current session has had a regular-hours event
OPEN_S: Final = _take(1)
CLOSE_S: Final = _take(1)
LAST_S: Final = _take(1)  # the last second processed (out-of-order seconds are refused)
DAY_OPEN: Final = _take(1)
DAY_HIGH: Final = _take(1)
DAY_LOW: Final = _take(1)
DAY_CLOSE: Final = _take(1)
PRIOR_SESSION: Final = _take(1)  # cursor of the session the prior-day values come from
PRIOR_HIGH: Final = _take(1)
PRIOR_LOW: Final = _take(1)
PRIOR_CLOSE: Final = _take(1)
ON_HIGH: Final = _take(1)
ON_LOW: Final = _take(1)
OR_LEVELS: Final = _take(2 * len(OR_MINUTES))  # (high, low) per opening-range window
LAST_CLOSE: Final = _take(1)  # the last regular-hours close (returns, BVC)
LAST_PRICE: Final = _take(1)  # the last second's VWAP price
SESSION_VOLUME: Final = _take(1)

# --- VWAP accumulators (W, mean, S) -------------------------------------------------------------
VWAP_SESSION: Final = _take(VWAP_SIZE)
VWAP_RUN_HIGH: Final = _take(VWAP_SIZE)  # anchored at today's running high: tomorrow's prior-high anchor
VWAP_RUN_LOW: Final = _take(VWAP_SIZE)
VWAP_PRIOR_HIGH: Final = _take(VWAP_SIZE)
VWAP_PRIOR_LOW: Final = _take(VWAP_SIZE)
VWAP_ON_HIGH: Final = _take(VWAP_SIZE)
VWAP_ON_LOW: Final = _take(VWAP_SIZE)
VWAP_PIVOT_HIGH: Final = _take(VWAP_SIZE)
VWAP_PIVOT_LOW: Final = _take(VWAP_SIZE)

# --- timeframes: 1s, 1m, 5m, 15m ----------------------------------------------------------------
BAR_START, BAR_OPEN, BAR_HIGH, BAR_LOW, BAR_CLOSE, BAR_VOLUME, BAR_PW, BAR_W = range(8)
BAR_SIZE: Final = 8  # start second (−1: no bar open), OHLC, volume, Σ w·price, Σ w
TF_BAR: Final = 0
TF_SLOPE: Final = BAR_SIZE
TF_ATR: Final = TF_SLOPE + slope_size(SLOPE_CAP)
TF_SIZE: Final = TF_ATR + ATR_SIZE
TF_1S: Final = _take(TF_SIZE)
TF_1M: Final = _take(TF_SIZE)
TF_5M: Final = _take(TF_SIZE)
TF_15M: Final = _take(TF_SIZE)

# --- minute-level indicators --------------------------------------------------------------------
ADX_1M: Final = _take(ADX_SIZE)
ER_1M: Final = _take(er_size(ER_CAP))
BB_1M: Final = _take(window_size(BB_CAP))
KC_EMA: Final = _take(EMA_SIZE)
ATR_SLOW: Final = _take(ATR_SIZE)  # ATR(kc_period): Keltner width and the slow leg of the ATR ratio
ATR_FAST: Final = _take(ATR_SIZE)
LAST_MINUTE: Final = _take(4)  # last closed minute: start second, close, session VWAP, σ at its close
MINUTES_CLOSED: Final = _take(1)

# --- second-level volatility and delta ----------------------------------------------------------
RV_WINDOW: Final = _take(window_size(RV_CAP))  # squared 1 s log returns
RV_SESSION: Final = _take(1)
BVC_VAR: Final = _take(EMA_SIZE)  # EW mean of squared close changes
CUM_BVC: Final = _take(1)
QUOTE_BID: Final = _take(1)
QUOTE_ASK: Final = _take(1)
TRADE_LAST_PRICE: Final = _take(1)
TRADE_LAST_SIDE: Final = _take(1)
CUM_LEE_READY: Final = _take(1)
LEE_READY_TRADES: Final = _take(1)

# --- swing pivots (minute bars) -----------------------------------------------------------------
PIVOT_FIELDS: Final = 5  # start second, high, low, price, weight
PIVOT_RING: Final = _take(PIVOT_FIELDS * (2 * PIVOT_CAP + 1))
PIVOT_COUNT: Final = _take(1)
PIVOT_POS: Final = _take(1)
PIVOT_HIGH: Final = _take(2)  # level, start second (confirmed)
PIVOT_LOW: Final = _take(2)

# --- relative volume at time of day -------------------------------------------------------------
RELVOL_HIST: Final = _take(RELVOL_SESSIONS_CAP * SESSION_MINUTES_CAP)  # cumulative volume by minute
RELVOL_POS: Final = _take(1)
RELVOL_COUNT: Final = _take(1)
RELVOL_SUM: Final = _take(SESSION_MINUTES_CAP)
RELVOL_N: Final = _take(SESSION_MINUTES_CAP)
RELVOL_TODAY: Final = _take(SESSION_MINUTES_CAP)

# --- minute-bar reconciliation with the feed's AM bars -----------------------------------------
RECENT_MINUTES: Final = 4
RECENT_FIELDS: Final = 6  # start second, OHLC, volume
RECENT: Final = _take(RECENT_MINUTES * RECENT_FIELDS)
RECENT_POS: Final = _take(1)
AM_CHECKED: Final = _take(1)
AM_MISMATCHES: Final = _take(1)

# --- index ← proxy (indices only) ---------------------------------------------------------------
RATIO_RING: Final = _take(RATIO_CAP)
RATIO_COUNT: Final = _take(1)
RATIO_POS: Final = _take(1)
RATIO: Final = _take(1)
PAIR_MINUTE: Final = _take(1)  # the last minute both index and proxy had closed
MAPPED_VWAP: Final = _take(2)  # proxy VWAP and σ × ratio
MAPPED_OR: Final = _take(2 * len(OR_MINUTES))

STATE_SIZE: Final = _cursor

# --- parameters (one float64 vector per symbol) -------------------------------------------------
(
    P_EMA_N,  # 4 slots: 1s, 1m, 5m, 15m
    _P1,
    _P2,
    _P3,
    P_EMA_ALPHA,  # 4 slots
    _P5,
    _P6,
    _P7,
    P_SLOPE_K,  # 4 slots
    _P9,
    _P10,
    _P11,
    P_ATR_N,
    P_ADX_N,
    P_ER_N,
    P_BB_N,
    P_BB_K,
    P_KC_MULT,
    P_ATR_FAST,
    P_RV_N,
    P_PIVOT_N,
    P_RELVOL_N,
    P_RELVOL_MIN,
    P_BVC_N,
    P_HAS_VOLUME,
    P_VWAP_MODE,
    P_RATIO_N,
    P_SIZE,
) = range(28)

VWAP_VOLUME: Final = 1.0  # weights = the symbol's own volume
VWAP_EQUAL: Final = 2.0  # equal weight per second (TWAP): indices without a proxy
VWAP_PROXY: Final = 3.0  # the proxy's VWAP mapped through the live index/proxy ratio
