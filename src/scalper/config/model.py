"""The configuration schema: one section per subsystem, unknown keys rejected.

Secrets never live here: they come from :mod:`scalper.config.secrets`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Section(BaseModel):
    """Base of every section: frozen, unknown keys rejected, no type coercion surprises."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(Section):
    """Where the system of record lives."""

    url: str | None = Field(
        default=None,
        description="PostgreSQL URL; unset = the embedded server. A password belongs in SCALPER_DATABASE_URL.",
    )
    embedded_dir: Path | None = Field(
        default=None, description="Data directory of the embedded server (default: per-user data dir)."
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    statement_timeout_s: float = Field(default=0.0, ge=0, description="0 = no limit.")

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("expected a URL starting with postgresql:// or postgres://")
        return v


class FeedConfig(Section):
    """The Polygon/Massive market-data feed."""

    provider: Literal["massive", "polygon"] = "massive"
    realtime: bool = True
    ws_url: str | None = Field(default=None, description="Override, e.g. ws://127.0.0.1:8765 (replay server).")
    rest_url: str | None = Field(
        default=None, description="Override, e.g. http://127.0.0.1:8765; default: ws_url's host when ws_url is set."
    )
    index_symbols: tuple[str, ...] = ("I:SPX", "I:NDX")
    proxy_symbols: tuple[str, ...] = ("SPY", "QQQ")
    index_channels: tuple[Literal["A", "AM", "V"], ...] = ("A", "AM", "V")
    stock_channels: tuple[Literal["A", "AM", "T", "Q"], ...] = ("A", "AM", "T", "Q")
    stall_after_s: float = Field(default=15.0, gt=0, le=3600)
    compression: Literal["none", "deflate"] = Field(
        default="none",
        description="Websocket compression: none spends no CPU on inflating (about 50 Mbit/s at 50k events/s); "
        "deflate cuts bandwidth about 5x for CPU on both ends.",
    )
    aggregate_delay_ms: int = Field(
        default=2000,
        ge=0,
        le=60_000,
        description="How long after its window the provider delivers a second or minute bar; live events are "
        "ordered by it as a replay orders them (the replay server delivers bars 2 s late).",
    )
    sequencer_grace_ms: int = Field(
        default=200,
        ge=1,
        le=60_000,
        description="Wall time an event waits for the other socket before it goes to the engine anyway (a quiet "
        "or stalled stream must not hold the engine back); an event of the late stream then counts as late.",
    )
    spool_dir: Path | None = Field(default=None, description="Where batches wait while the DB is down.")
    spool_max_mb: int = Field(default=2048, ge=1, description="Refuse to spool beyond this (MiB).")

    def websocket_base(self) -> str:
        """The websocket base URL for the chosen provider and latency."""
        if self.ws_url:
            return self.ws_url.rstrip("/")
        host = "socket" if self.realtime else "delayed"
        domain = "massive.com" if self.provider == "massive" else "polygon.io"
        return f"wss://{host}.{domain}"

    def rest_base(self) -> str:
        """The REST base URL for the chosen provider."""
        if self.rest_url:
            return self.rest_url.rstrip("/")
        if self.ws_url:  # a local replay server serves REST on its websocket port
            return "http" + self.ws_url.rstrip("/")[2:] if self.ws_url.startswith("ws") else self.ws_url
        return "https://api.massive.com" if self.provider == "massive" else "https://api.polygon.io"


class FlatFilesConfig(Section):
    """S3-compatible flat-file history (keys: SCALPER_S3_ACCESS_KEY_ID / SCALPER_S3_SECRET_ACCESS_KEY)."""

    endpoint: str = "https://files.massive.com"
    bucket: str = "flatfiles"
    region: str = "us-east-1"
    cache_dir: Path | None = Field(default=None, description="Default: per-user cache dir.")
    local_dir: Path | None = Field(
        default=None, description="Read files from this directory (same layout as the bucket) instead of S3."
    )
    datasets: tuple[str, ...] = Field(
        default=(
            "us_indices/values_v1",
            "us_indices/minute_aggs_v1",
            "us_stocks_sip/trades_v1",
            "us_stocks_sip/minute_aggs_v1",
        ),
        description="Datasets that backfill and sync load when --datasets is not given.",
    )
    option_roots: tuple[str, ...] = ("SPX", "SPXW", "SPY", "NDX", "QQQ")
    store_trades: bool = Field(default=False, description="Also store SPY/QQQ trades (needed for cumulative delta).")
    keep_cache: bool = Field(default=True, description="Keep downloaded files after loading them.")
    block_mb: int = Field(default=2, ge=1, le=64, description="CSV block size read at a time (bounds memory).")
    writer_connections: int = Field(default=2, ge=1, le=4, description="Database connections writing in parallel.")


class BrokerConfig(Section):
    """Execution. Paper is the default; live orders need ``live = true`` and keys in the environment."""

    kind: Literal["sim", "alpaca"] = "sim"
    live: bool = False
    alpaca_url: str | None = Field(default=None, description="Alpaca REST base URL (default: Alpaca's paper or live).")
    alpaca_stream_url: str | None = Field(default=None, description="Alpaca trade-updates websocket URL.")
    paper_equity: float = Field(default=100_000.0, gt=0, description="Equity of the simulated paper account ($).")
    sim_latency_ms: int = Field(default=100, ge=1, le=10_000, description="Simulated decision-to-broker latency.")
    default_daily_sigma: float = Field(
        default=0.01,
        gt=0,
        le=0.2,
        description="A proxy's daily return sigma when fewer than 5 stored sessions give one (sizing).",
    )


class WriterConfig(Section):
    """The bulk writer."""

    batch_rows: int = Field(default=50_000, ge=1, le=5_000_000)
    write_timeout_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="The capture's writes are cancelled after this long (0 = no limit): a hung database then "
        "counts as down and batches go to the spool, so memory stays bounded.",
    )


class MetricsConfig(Section):
    """The Prometheus endpoint of long-running commands (ingest, run)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535, description="0 = any free port.")


class FeaturesConfig(Section):
    """Feature engine periods (bars of the named timeframe) and snapshot persistence."""

    ema_periods: tuple[int, int, int, int] = Field(default=(60, 20, 20, 20), description="EMA n on 1s, 1m, 5m, 15m.")
    slope_lags: tuple[int, int, int, int] = Field(default=(10, 3, 3, 3), description="Slope lag k per timeframe.")
    atr_period: int = Field(default=14, ge=1)
    adx_period: int = Field(default=14, ge=1)
    er_period: int = Field(default=10, ge=1)
    bb_period: int = Field(default=20, ge=1, description="Bollinger and Keltner period (minutes).")
    bb_k: float = Field(default=2.0, gt=0)
    kc_multiplier: float = Field(default=1.5, gt=0)
    atr_fast: int = Field(default=5, ge=1, description="Fast ATR of the ATR ratio (the slow one is bb_period).")
    rv_window_s: int = Field(default=300, ge=1)
    pivot_strength: int = Field(default=5, ge=1, description="Minutes on each side of a swing pivot.")
    relvol_sessions: int = Field(default=20, ge=1)
    relvol_min_sessions: int = Field(default=5, ge=1)
    bvc_period: int = Field(default=60, ge=1, description="Seconds of price changes behind the BVC sigma.")
    ratio_minutes: int = Field(default=5, ge=1, description="Minutes in the median index/proxy ratio.")
    index_vwap: Literal["proxy", "equal"] = Field(
        default="proxy", description="Index VWAP: the proxy's VWAP x the live ratio, or equal weights (TWAP)."
    )
    snapshot_every_s: int = Field(default=60, ge=1, le=86_400, description="A stored snapshot every N seconds.")
    seed_sessions: int = Field(
        default=20, ge=1, le=250, description="Sessions of stored seconds replayed at start-up to warm the features."
    )


class OptionsConfig(Section):
    """Option chains: what cannot be implied from the data."""

    rate: float = Field(
        default=0.04,
        ge=-0.05,
        le=0.25,
        description="Annual risk-free rate (continuous) for chains built from closes, where the discount "
        "factor cannot be implied; keep it current.",
    )


class AlertsConfig(Section):
    """Delivery of recorded alerts to Discord (the webhook URL is the secret SCALPER_DISCORD_WEBHOOK_URL)."""

    enabled: bool = Field(default=True, description="Deliver recorded alerts; false = record them only.")
    min_severity: Literal["info", "warning", "critical"] = Field(
        default="warning", description="Alerts below this severity are recorded but not sent."
    )
    dedup_window_s: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="An alert whose dedup key was delivered less than this long before it is suppressed (0 = off).",
    )
    max_per_minute: int = Field(
        default=10, ge=1, le=30, description="Messages a minute at most; beyond, alerts are held and summarised."
    )
    max_age_s: float = Field(
        default=3600.0,
        ge=0,
        description="Alerts older than this when the dispatcher reaches them are expired (0 = no limit).",
    )
    poll_s: float = Field(default=2.0, gt=0, le=3600, description="How often the background dispatcher looks.")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Timeout of one webhook request.")
    max_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a message after a 429, a 5xx or a network error."
    )


class SchedulerConfig(Section):
    """The maintenance scheduler (``scalper scheduler``): jobs, their New York times, retention, the
    weekly tune. See docs/SCHEDULER.md."""

    jobs: tuple[Literal["flatfile_sync", "retention", "vacuum", "calendar_check", "tune_report"], ...] = Field(
        default=("flatfile_sync", "retention", "vacuum", "calendar_check", "tune_report"),
        description="Jobs that run; the others are never scheduled.",
    )
    flatfile_sync_at: dt.time = Field(
        default=dt.time(11, 30),
        description="New York time of the sync, on the day after each XNYS session (files appear about 11:00 ET).",
    )
    retention_at: dt.time = Field(default=dt.time(3, 0), description="New York time of the daily retention.")
    vacuum_at: dt.time = Field(default=dt.time(3, 30), description="New York time of the daily VACUUM (ANALYZE).")
    calendar_check_at: dt.time = Field(default=dt.time(7, 0), description="New York time of the calendar check.")
    tune_report_at: dt.time = Field(default=dt.time(14, 0), description="New York time of the weekly tune.")
    tune_report_day: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "saturday"
    retention_days: int = Field(
        default=90, ge=1, le=36_500, description="Trades and one-second quotes older than this are deleted."
    )
    retention_seconds_days: int = Field(
        default=730, ge=1, le=36_500, description="One-second aggregates older than this are deleted; bars are kept."
    )
    catch_up_days: int = Field(
        default=7, ge=1, le=366, description="Runs missed longer ago than this are not caught up after downtime."
    )
    poll_s: float = Field(default=30.0, gt=0, le=3600, description="How often the scheduler looks for due jobs.")
    tune_weeks: int = Field(default=8, ge=1, le=104, description="Weeks of stored sessions the weekly tune runs on.")
    tune_grid: tuple[str, ...] = Field(
        default=(), description="PLAY.key=v1,v2 items of the weekly tune (as scalper tune --grid); empty = skipped."
    )
    tune_train: int = Field(default=20, ge=1, description="Sessions a set is chosen on (weekly tune).")
    tune_test: int = Field(default=5, ge=1, description="Sessions the chosen set is evaluated on (weekly tune).")
    tune_dir: Path | None = Field(
        default=None, description="Where the weekly tune's result files go (default: per-user data dir/tune)."
    )

    @field_validator("flatfile_sync_at", "retention_at", "vacuum_at", "calendar_check_at", "tune_report_at")
    @classmethod
    def _wall_clock(cls, v: dt.time) -> dt.time:
        if v.tzinfo is not None:
            raise ValueError("expected a New York wall-clock time without an offset, e.g. 03:00")
        return v


class LogConfig(Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(Section):
    """The whole configuration."""

    database: DatabaseConfig = DatabaseConfig()
    feed: FeedConfig = FeedConfig()
    flatfiles: FlatFilesConfig = FlatFilesConfig()
    broker: BrokerConfig = BrokerConfig()
    writer: WriterConfig = WriterConfig()
    features: FeaturesConfig = FeaturesConfig()
    options: OptionsConfig = OptionsConfig()
    log: LogConfig = LogConfig()
    metrics: MetricsConfig = MetricsConfig()
    alerts: AlertsConfig = AlertsConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
