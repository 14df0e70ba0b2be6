"""Which stock trade condition codes update an aggregate's price and which update its volume.

Source: the *consolidated* update rules that Polygon/Massive publishes per condition id in
``GET /v3/reference/conditions`` (``update_rules.consolidated.updates_high_low`` /
``updates_open_close`` / ``updates_volume``), which encode the CTA and UTP plans' consolidated
processing guidelines (CTS binary output spec, sale-condition table; UTP binary output spec,
sale-condition matrix) as explained in Polygon's "Understanding Trade Eligibility" (2020).
The values below were transcribed from that reference as reproduced in the official
polygon client's test fixtures (ids 1-10) and in public Polygon condition mapping tables
(QuantConnect's Polygon SIP trade mapping, other projects' fixtures of the endpoint).

Rules, as Polygon applies them:

* A trade carries zero or more condition ids. It updates a field only if **every** one of its
  conditions allows it (one ``false`` excludes the trade); no conditions means a regular sale.
* Ids without a row here (quote-only, short-sale and financial-status indicators, or codes
  added later) do not restrict anything: an unknown code must never hide a real trade.

Conditions are passed as a 2-D integer matrix, one row per trade, padded with ``PAD`` (-1);
see :func:`condition_matrix` and :func:`conditions_from_strings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

PAD: Final = -1
TABLE_SIZE: Final = 256

# id: (name, updates_high_low, updates_open_close, updates_volume) -- consolidated rules.
STOCK_TRADE_CONDITIONS: Final[dict[int, tuple[str, bool, bool, bool]]] = {
    0: ("Regular Sale", True, True, True),
    1: ("Acquisition", True, True, True),
    2: ("Average Price Trade", False, False, True),
    3: ("Automatic Execution", True, True, True),
    4: ("Bunched Trade", True, True, True),
    5: ("Bunched Sold Trade", True, False, True),
    6: ("CAP Election", True, True, True),
    7: ("Cash Sale", False, False, True),
    8: ("Closing Prints", True, True, True),
    9: ("Cross Trade", True, True, True),
    10: ("Derivatively Priced", True, False, True),
    11: ("Distribution", True, True, True),
    12: ("Form T/Extended Hours", False, False, True),
    13: ("Extended Trading Hours (Sold Out Of Sequence)", False, False, True),
    14: ("Intermarket Sweep", True, True, True),
    15: ("Market Center Official Close", False, False, False),
    16: ("Market Center Official Open", False, False, False),
    17: ("Market Center Opening Trade", True, True, True),
    18: ("Market Center Reopening Trade", True, True, True),
    19: ("Market Center Closing Trade", True, True, True),
    20: ("Next Day", False, False, True),
    21: ("Price Variation Trade", False, False, True),
    22: ("Prior Reference Price", True, False, True),
    23: ("Rule 155 Trade (AMEX)", True, True, True),
    24: ("Rule 127 NYSE", True, True, True),
    25: ("Opening Prints", True, True, True),
    27: ("Stopped Stock (Regular Trade)", True, True, True),
    28: ("Re-Opening Prints", True, True, True),
    29: ("Seller", True, False, True),
    30: ("Sold Last", True, True, True),
    31: ("Sold Last and Stopped Stock", True, True, True),
    32: ("Sold (Out Of Sequence)", True, False, True),
    33: ("Sold (Out of Sequence) and Stopped Stock", True, False, True),
    34: ("Split Trade", True, True, True),
    35: ("Stock Option", True, True, True),
    36: ("Yellow Flag Regular Trade", True, True, True),
    37: ("Odd Lot Trade", False, False, True),
    38: ("Corrected Consolidated Close (per listing market)", True, True, False),
    41: ("Trade Thru Exempt", True, True, True),
    52: ("Contingent Trade", False, False, True),
    53: ("Qualified Contingent Trade", False, False, True),
}


HIGH_LOW: Final = 1
OPEN_CLOSE: Final = 2
VOLUME: Final = 4


def _flag_table() -> NDArray[np.uint8]:
    """Bit flags per code, shifted by one so the pad (-1) and unknown codes (last slot) allow all."""
    table = np.full(TABLE_SIZE + 2, HIGH_LOW | OPEN_CLOSE | VOLUME, dtype=np.uint8)
    for code, (_, high_low, open_close, volume) in STOCK_TRADE_CONDITIONS.items():
        table[code + 1] = HIGH_LOW * high_low | OPEN_CLOSE * open_close | VOLUME * volume
    table.setflags(write=False)
    return table


FLAG_TABLE: Final = _flag_table()


def eligibility_flags(conditions: ArrayLike) -> NDArray[np.uint8]:
    """Per trade, the AND over its conditions of the HIGH_LOW | OPEN_CLOSE | VOLUME bits."""
    matrix = np.asarray(conditions)
    if matrix.ndim != 2:
        raise ValueError(f"conditions: expected a 2-D (trades, k) matrix padded with -1, was ndim={matrix.ndim}")
    if matrix.shape[1] == 0:
        return np.full(matrix.shape[0], HIGH_LOW | OPEN_CLOSE | VOLUME, dtype=np.uint8)
    if not np.issubdtype(matrix.dtype, np.integer):
        raise ValueError(f"conditions: expected integer codes, was dtype {matrix.dtype}")
    if matrix.size and int(matrix.min()) < PAD:
        raise ValueError(f"conditions: expected codes >= 0 or the pad -1, found {int(matrix.min())}")
    index = np.minimum(matrix.astype(np.int32) + 1, TABLE_SIZE + 1)
    flags: NDArray[np.uint8] = np.bitwise_and.reduce(FLAG_TABLE[index], axis=1)
    return flags


def _has(conditions: ArrayLike, flag: int) -> NDArray[np.bool_]:
    mask: NDArray[np.bool_] = (eligibility_flags(conditions) & flag) != 0
    return mask


def high_low_eligible(conditions: ArrayLike) -> NDArray[np.bool_]:
    """Per trade: may it set an aggregate's high/low (consolidated ``updates_high_low``)."""
    return _has(conditions, HIGH_LOW)


def open_close_eligible(conditions: ArrayLike) -> NDArray[np.bool_]:
    """Per trade: may it set an aggregate's open/close (consolidated ``updates_open_close``)."""
    return _has(conditions, OPEN_CLOSE)


def volume_eligible(conditions: ArrayLike) -> NDArray[np.bool_]:
    """Per trade: does it count in volume, VWAP and trade count (consolidated ``updates_volume``)."""
    return _has(conditions, VOLUME)


def price_eligible(conditions: ArrayLike) -> NDArray[np.bool_]:
    """Per trade: does it update the price at all (high/low); a bar exists only with one of these."""
    return high_low_eligible(conditions)


def condition_matrix(rows: Iterable[Sequence[int]], width: int | None = None) -> NDArray[np.int16]:
    """Lists of condition ids to the padded ``(n, width)`` int16 matrix the lookups take."""
    lists = [tuple(int(c) for c in row) for row in rows]
    need = max((len(row) for row in lists), default=0)
    width = need if width is None else width
    if width < need:
        raise ValueError(f"condition_matrix: width {width} is less than the longest row ({need})")
    matrix = np.full((len(lists), width), PAD, dtype=np.int16)
    for i, row in enumerate(lists):
        matrix[i, : len(row)] = row
    return matrix


def conditions_from_strings(values: Sequence[str | None] | Any, width: int = 4) -> NDArray[np.int16]:
    """Flat-file ``conditions`` cells (``"12,37"``, ``"14"``, empty or null) to a padded matrix.

    Vectorised through pyarrow so a backfill can convert millions of rows at once.
    """
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, type=pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    parts = pc.split_pattern(pc.fill_null(array.cast(pa.string()), ""), ",")
    flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    keep = pc.not_equal(flat, "")
    owner = pc.filter(pc.list_parent_indices(parts), keep).to_numpy(zero_copy_only=False).astype(np.int64)
    try:
        codes = pc.cast(pc.filter(flat, keep), pa.int64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"conditions: expected comma-separated integers: {exc}") from exc
    return _scatter(owner, codes.astype(np.int64), len(array), width)


def _scatter(owner: NDArray[np.int64], codes: NDArray[np.int64], n: int, width: int) -> NDArray[np.int16]:
    """Place codes (grouped by ascending owner row) into a padded (n, width) matrix."""
    counts = np.bincount(owner, minlength=n)
    if counts.size and int(counts.max()) > width:
        raise ValueError(f"conditions: a row has {int(counts.max())} codes, more than width {width}")
    starts = np.cumsum(counts) - counts
    slot = np.arange(owner.size) - starts[owner]
    matrix = np.full((n, width), PAD, dtype=np.int16)
    matrix[owner, slot] = codes
    return matrix


def counts_in_volume(conditions: Sequence[int]) -> bool:
    """One trade (the live path): does it count in volume, VWAP and trade count."""
    flags = HIGH_LOW | OPEN_CLOSE | VOLUME
    for code in conditions:
        flags &= int(FLAG_TABLE[min(code + 1, TABLE_SIZE + 1)]) if code >= PAD else 0
    return flags & VOLUME != 0
