"""Option tickers parsed column-wise, and per-minute volume of contracts expiring that day (0DTE).

``O:`` + root + ``YYMMDD`` + ``C``/``P`` + strike×1000 (8 digits): the tail always has 15
characters, so every part is a fixed slice from the end (see :mod:`scalper.marketdata.tickers`,
which parses one ticker; this does a million at once with pyarrow kernels).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from scalper.adapters.flatfiles.errors import FlatFileError

MINUTE_NS = 60 * 1_000_000_000


def option_columns(tickers: pa.Array, *, key: str) -> dict[str, NDArray[Any]]:
    """``ticker``, ``root``, ``expiry`` (datetime64[D]), ``contract_type`` (call/put), ``strike``."""
    root = pc.utf8_slice_codeunits(tickers, 2, -15)
    right = pc.utf8_slice_codeunits(tickers, -9, -8)
    ymd = pc.binary_join_element_wise("20", pc.utf8_slice_codeunits(tickers, -15, -9), "")
    bad = pc.invert(
        pc.and_(
            pc.match_substring_regex(tickers, r"^O:[A-Z0-9]{1,6}\d{6}[CP]\d{8}$"),
            pc.greater(pc.utf8_length(tickers), 17),
        )
    )
    if pc.any(bad).as_py():
        first = pc.filter(tickers, bad)[0].as_py()
        raise FlatFileError(key, f"not an option ticker (expected O:ROOTYYMMDD[C|P]STRIKE8): {first!r}")
    try:
        expiry = pc.cast(pc.strptime(ymd, format="%Y%m%d", unit="s"), pa.date32())
        strike = pc.divide(pc.cast(pc.utf8_slice_codeunits(tickers, -8), pa.int64()), 1000.0)
    except pa.ArrowInvalid as exc:
        raise FlatFileError(key, f"option ticker with an invalid expiry or strike: {exc}") from None
    return {
        "ticker": np.asarray(tickers.to_numpy(zero_copy_only=False), dtype=object),
        "root": np.asarray(root.to_numpy(zero_copy_only=False), dtype=object),
        "expiry": np.asarray(expiry.to_numpy(zero_copy_only=False), dtype="datetime64[D]"),
        "contract_type": np.where(np.asarray(pc.equal(right, "C")), "call", "put").astype(object),
        "strike": np.asarray(strike.to_numpy(zero_copy_only=False), dtype=np.float64),
    }


def zero_dte_minutes(
    totals: dict[tuple[int, int], NDArray[np.int64]],
    contract: dict[str, NDArray[Any]],
    ts: NDArray[np.int64],
    volume: NDArray[np.int64],
    trades: NDArray[np.int64],
    roots: tuple[str, ...],
    day: dt.date,
) -> None:
    """Add this block's 0DTE minute volume into ``totals[(root code, minute ns)] = [calls, puts, trades]``."""
    today = contract["expiry"] == np.datetime64(day, "D")
    if not today.any():
        return
    root_code = np.searchsorted(np.asarray(roots, dtype=object), contract["root"][today])
    minute = ts[today] - ts[today] % MINUTE_NS
    is_call = contract["contract_type"][today] == "call"
    keys = np.stack([root_code.astype(np.int64), minute])
    uniq, inverse = np.unique(keys, axis=1, return_inverse=True)
    inverse = inverse.ravel()
    count = uniq.shape[1]
    calls = np.bincount(inverse, weights=np.where(is_call, volume[today], 0), minlength=count)
    puts = np.bincount(inverse, weights=np.where(is_call, 0, volume[today]), minlength=count)
    n_trades = np.bincount(inverse, weights=trades[today], minlength=count)
    for i in range(count):  # one iteration per (root, minute): a few thousand a day at most
        slot = (int(uniq[0, i]), int(uniq[1, i]))
        add = np.array([calls[i], puts[i], n_trades[i]], dtype=np.int64)
        totals[slot] = totals[slot] + add if slot in totals else add
