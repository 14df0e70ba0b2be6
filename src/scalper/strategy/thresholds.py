"""The versioned thresholds file (``thresholds.toml`` in this package, or a given path).

Sections: ``version`` (a string stored with every decision), ``[policy]`` and
``[policy.calendar]`` (the session policy), ``[risk.*]`` (sizing, brackets, trailing stops and
limits: docs/RISK.md), ``[plays.NAME]`` (one play each: docs/PLAYS.md). Unknown keys are refused;
every problem is a :class:`ConfigError` naming the file, the key, the value and the expectation.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scalper.core.errors import ConfigError
from scalper.econ.events import KINDS

Level = Literal["off", "reduced", "normal", "aggressive"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _kinds(values: list[str]) -> list[str]:
    bad = [v for v in values if v not in KINDS]
    if bad:
        raise ValueError(f"unknown event kind(s) {bad}; expected among {sorted(KINDS)}")
    return values


class CalendarThresholds(_Strict):
    required_kinds: list[str] = Field(min_length=1)
    reduce_below_sessions: int = Field(ge=1, le=60)
    off_below_sessions: int = Field(ge=0, le=60)

    _check_kinds = field_validator("required_kinds")(_kinds)

    @model_validator(mode="after")
    def _ordered(self) -> CalendarThresholds:
        if self.off_below_sessions > self.reduce_below_sessions:
            raise ValueError("off_below_sessions must not exceed reduce_below_sessions")
        return self


class PolicyThresholds(_Strict):
    trend_favour: float = Field(gt=0, le=1)
    balanced_favour: float = Field(gt=0, le=1)
    no_score_level: Level
    fomc_block_before_min: int = Field(ge=0, le=120)
    fomc_block_after_min: int = Field(ge=0, le=240)
    fomc_after_level: Level
    open_release_kinds: list[str]
    open_release_until: dt.time
    open_release_level: Level
    intraday_release_kinds: list[str]
    intraday_block_before_min: int = Field(ge=0, le=60)
    intraday_block_after_min: int = Field(ge=0, le=120)
    no_entry_before_close_min: int = Field(ge=0, le=120)
    early_close_level: Level
    near_wall_pct: float = Field(gt=0, le=10)
    iv_rank_low: float = Field(ge=0, le=100)
    iv_rank_extreme: float = Field(ge=0, le=100)
    relvol_high: float = Field(gt=0)
    relvol_low: float = Field(ge=0)
    calendar: CalendarThresholds

    _check_kinds = field_validator("open_release_kinds", "intraday_release_kinds")(_kinds)

    @field_validator("open_release_until", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return dt.time.fromisoformat(value)
            except ValueError:
                raise ValueError("expected HH:MM New York time") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> PolicyThresholds:
        if self.iv_rank_low >= self.iv_rank_extreme:
            raise ValueError("iv_rank_low must be below iv_rank_extreme")
        if self.relvol_low >= self.relvol_high:
            raise ValueError("relvol_low must be below relvol_high")
        return self


class RegimeFactors(_Strict):
    """Factor of the risk budget per session-policy level; ``off`` is 0 and the factors never decrease."""

    off: float = Field(ge=0, le=0)
    reduced: float = Field(ge=0, le=1)
    normal: float = Field(gt=0, le=1)
    aggressive: float = Field(gt=0, le=3)

    @model_validator(mode="after")
    def _ordered(self) -> RegimeFactors:
        if not self.off <= self.reduced <= self.normal <= self.aggressive:
            raise ValueError("expected off <= reduced <= normal <= aggressive")
        return self

    def of(self, level: Level) -> float:
        return float(getattr(self, level))


class SizingThresholds(_Strict):
    risk_per_trade_pct: float = Field(gt=0, le=5)
    leverage_cap: float = Field(gt=0, le=10)
    vol_target_pct: float = Field(gt=0, le=50)
    expectancy_floor_factor: float = Field(ge=0, le=1)
    expectancy_full_r: float = Field(gt=0, le=10)
    regime_factor: RegimeFactors


class BracketThresholds(_Strict):
    tick: float = Field(gt=0, le=1)
    reward_risk: float = Field(gt=0, le=20)


class TrailingThresholds(_Strict):
    rule: Literal["off", "atr"]
    breakeven_after_r: float = Field(gt=0, le=20)
    breakeven_offset: float = Field(ge=0)
    atr_multiple: float = Field(gt=0, le=20)
    level_offset: float = Field(ge=0)


class LimitThresholds(_Strict):
    daily_loss_limit_pct: float = Field(gt=0, le=100)
    max_orders_per_minute: int = Field(ge=1, le=10_000)
    stale_data_after_s: float = Field(gt=0, le=3600)
    flatten_before_close_min: int = Field(ge=0, le=120)


class RiskThresholds(_Strict):
    """``[risk.sizing]`` (with ``[risk.sizing.regime_factor]``), ``[risk.brackets]``,
    ``[risk.trailing]``, ``[risk.limits]``: every rule in docs/RISK.md."""

    sizing: SizingThresholds
    brackets: BracketThresholds
    trailing: TrailingThresholds
    limits: LimitThresholds


class PlaySection(BaseModel):
    """``[plays.NAME]``: ``play`` = the class (``package.module:Class``); every other key belongs to
    that class's config model and is validated by it when the file is loaded."""

    model_config = ConfigDict(extra="allow", frozen=True)

    play: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

    def params(self) -> dict[str, Any]:
        """The play's config keys (everything but ``play``)."""
        return dict(self.model_extra or {})


class Thresholds(_Strict):
    version: str = Field(min_length=1)
    policy: PolicyThresholds
    risk: RiskThresholds
    plays: dict[str, PlaySection] = Field(default_factory=dict)

    def play_sections(self) -> dict[str, dict[str, Any]]:
        """``{name: {"play": path, **config}}`` for :func:`scalper.plays.load_plays`."""
        return {name: {"play": s.play, **s.params()} for name, s in self.plays.items()}


def load_thresholds(path: Path | None = None) -> Thresholds:
    """Read and validate the thresholds (the packaged file when ``path`` is ``None``)."""
    where = str(path) if path else "scalper/strategy/thresholds.toml"
    try:
        text = path.read_text(encoding="utf-8") if path else _packaged()
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"thresholds file {where} cannot be read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"thresholds file {where} is not valid TOML: {exc}") from exc
    try:
        thresholds = Thresholds.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid thresholds in {where}:\n  " + "\n  ".join(map(_describe, exc.errors()))) from None
    from scalper.plays import load_plays  # the plays import this module

    try:
        load_plays(thresholds.play_sections())
    except ConfigError as exc:
        raise ConfigError(f"invalid thresholds in {where}: {exc}") from None
    return thresholds


def _packaged() -> str:
    return resources.files("scalper.strategy").joinpath("thresholds.toml").read_text(encoding="utf-8")


def _describe(error: Any) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(file)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if error["type"] == "missing":
        return f"{key}: key is missing"
    return f"{key}: value {error.get('input')!r} is invalid: {error['msg']}"
