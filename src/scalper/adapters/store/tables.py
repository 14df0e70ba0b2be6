"""What the bulk writer knows about each bulk-written table: columns, natural key, time range."""

from __future__ import annotations

from dataclasses import dataclass

from scalper.adapters.store.binary_copy import Column


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table written in bulk.

    ``key`` is the natural key (a unique index in the schema). When ``range_column`` is set,
    ``range_group`` names the one key column that, with the time range, bounds a batch: the
    writer uses it to see cheaply whether a batch can touch existing rows at all.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    range_column: str | None = None
    range_group: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.column_names if c not in self.key)


def _c(name: str, pg_type: str, nullable: bool = True) -> Column:
    return Column(name, pg_type, nullable)  # type: ignore[arg-type]


_OHLC = (
    _c("open", "float8", False),
    _c("high", "float8", False),
    _c("low", "float8", False),
    _c("close", "float8", False),
)

AGG_1S = TableSpec(
    name="agg_1s",
    columns=(
        _c("symbol", "text", False),
        _c("ts", "timestamptz", False),
        *_OHLC,
        _c("volume", "float8"),
        _c("vwap", "float8"),
        _c("trades", "int4"),
        _c("source", "text", False),
    ),
    key=("symbol", "ts"),
    range_column="ts",
    range_group="symbol",
)

BARS = TableSpec(
    name="bars",
    columns=(
        _c("symbol", "text", False),
        _c("timeframe", "text", False),
        _c("ts", "timestamptz", False),
        *_OHLC,
        _c("volume", "float8"),
        _c("vwap", "float8"),
        _c("trades", "int4"),
        _c("source", "text", False),
    ),
    key=("symbol", "timeframe", "ts"),
    range_column="ts",
    range_group="symbol",
)

TRADES = TableSpec(
    name="trades",
    columns=(
        _c("symbol", "text", False),
        _c("ts", "timestamptz", False),
        _c("sequence", "int8", False),
        _c("price", "float8", False),
        _c("size", "float8", False),
        _c("exchange", "int2"),
        _c("trade_id", "text"),
        _c("conditions", "text"),
        _c("tape", "int2"),
    ),
    key=("symbol", "ts", "sequence"),
    range_column="ts",
    range_group="symbol",
)

QUOTES_1S = TableSpec(
    name="quotes_1s",
    columns=(
        _c("symbol", "text", False),
        _c("ts", "timestamptz", False),
        _c("bid", "float8"),
        _c("bid_size", "float8"),
        _c("ask", "float8"),
        _c("ask_size", "float8"),
        _c("quotes", "int4"),
    ),
    key=("symbol", "ts"),
    range_column="ts",
    range_group="symbol",
)

OPTION_SNAPSHOTS = TableSpec(
    name="option_snapshots",
    columns=(
        _c("underlying", "text", False),
        _c("ts", "timestamptz", False),
        _c("ticker", "text", False),
        _c("root", "text", False),
        _c("expiry", "date", False),
        _c("contract_type", "text", False),
        _c("strike", "float8", False),
        _c("bid", "float8"),
        _c("ask", "float8"),
        _c("last_price", "float8"),
        _c("iv", "float8"),
        _c("delta", "float8"),
        _c("gamma", "float8"),
        _c("theta", "float8"),
        _c("vega", "float8"),
        _c("open_interest", "int8"),
        _c("volume", "int8"),
        _c("underlying_price", "float8"),
        _c("source", "text", False),
    ),
    key=("underlying", "ts", "ticker"),
    range_column="ts",
    range_group="underlying",
)

OPTION_BARS = TableSpec(
    name="option_bars",
    columns=(
        _c("ticker", "text", False),
        _c("timeframe", "text", False),
        _c("ts", "timestamptz", False),
        _c("root", "text", False),
        _c("expiry", "date", False),
        _c("contract_type", "text", False),
        _c("strike", "float8", False),
        *_OHLC,
        _c("volume", "int8", False),
        _c("trades", "int4"),
        _c("source", "text", False),
    ),
    key=("ticker", "timeframe", "ts"),
    range_column="ts",
    range_group="ticker",
)

OPTION_VOLUME_0DTE = TableSpec(
    name="option_volume_0dte",
    columns=(
        _c("root", "text", False),
        _c("ts", "timestamptz", False),
        _c("call_volume", "int8", False),
        _c("put_volume", "int8", False),
        _c("trades", "int4", False),
        _c("source", "text", False),
    ),
    key=("root", "ts"),
    range_column="ts",
    range_group="root",
)

FEATURES = TableSpec(
    name="features",
    columns=(
        _c("symbol", "text", False),
        _c("ts", "timestamptz", False),
        _c("version", "text", False),
        _c("ready", "bool", False),
        _c("data", "jsonb", False),
    ),
    key=("symbol", "ts", "version"),
    range_column="ts",
    range_group="symbol",
)

GAMMA_LEVELS = TableSpec(
    name="gamma_levels",
    columns=(
        _c("underlying", "text", False),
        _c("ts", "timestamptz", False),
        _c("variant", "text", False),
        _c("spot", "float8", False),
        _c("net_gex", "float8", False),
        _c("zero_gamma", "float8"),
        _c("call_wall", "float8"),
        _c("put_wall", "float8"),
        _c("profile", "jsonb", False),
    ),
    key=("underlying", "ts", "variant"),
    range_column="ts",
    range_group="underlying",
)

BULK_TABLES: dict[str, TableSpec] = {
    s.name: s
    for s in (
        AGG_1S,
        BARS,
        TRADES,
        QUOTES_1S,
        OPTION_SNAPSHOTS,
        OPTION_BARS,
        OPTION_VOLUME_0DTE,
        FEATURES,
        GAMMA_LEVELS,
    )
}
