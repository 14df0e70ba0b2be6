"""The Play API: intents, the base class of every play, the index → proxy mapping and the loader.

A play is a small class with a typed configuration (a pydantic model derived from
:class:`PlayConfig`, validated from the play's ``[plays.NAME]`` section of the thresholds file).
It has a ``name`` (``SPX_TREND_BURST`` ...), the ``index`` it reads (``I:SPX``) and the ``proxy``
it trades (``SPY``). :meth:`Play.on_snapshot` is fed, in time order, the time (ns), the index's
feature snapshot, the proxy's snapshot, the session-policy level of this play and optional flow
gates, and returns an :class:`EnterIntent`, an :class:`ExitIntent` or ``None``. When it returns
``None``, :attr:`Play.last_skip` says why (a stable code and a text).

Common rules (every play):

* snapshot values are ``float`` or ``None``; ``None`` and ``nan`` both mean *not ready*. A play
  enters only when every feature its rule reads is ready (``NOT_READY`` names the missing ones);
* no entry while the policy level is ``off`` (``POLICY_OFF``); the level is carried in the intent
  (``reduced`` / ``normal`` / ``aggressive``) for sizing. Exits are evaluated whatever the level;
* after an :class:`ExitIntent`, or when the caller reports the position closed
  (:meth:`Play.position_closed`: stop or target filled, entry refused or not filled), no entry for
  ``cooldown_s`` seconds (``COOLDOWN``);
* index prices map to proxy prices through the live ratio ``proxy_ratio`` of the index snapshot
  (index / proxy): ``proxy = index / ratio`` (:func:`to_proxy`). With the ratio not ready, an
  entry is refused (``RATIO_NOT_READY``);
* times must not go backwards (an :class:`~scalper.core.errors.InvariantError` names both times).

Plays are found by import path ``module:Class`` (:func:`load_play`), so a user's own play is
loaded the same way as the built-in ones.
"""

from __future__ import annotations

import importlib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scalper.core.errors import ConfigError, InvariantError
from scalper.strategy.policy import Gates
from scalper.strategy.thresholds import Level

LEVELS: tuple[Level, ...] = ("off", "reduced", "normal", "aggressive")
NS_PER_S = 1_000_000_000
Snapshot = Mapping[str, float | None]
ReasonPair = tuple[str, str]


def to_proxy(index_price: float, ratio: float) -> float:
    """The proxy price of ``index_price`` under the live ``ratio`` = index / proxy (SPX/SPY ≈ 10).

    Raises :class:`InvariantError` naming the value for a non-finite or non-positive price or ratio.
    """
    if not _positive(ratio):
        raise InvariantError(f"proxy ratio: expected a finite number > 0, was {ratio!r}")
    if not _positive(index_price):
        raise InvariantError(f"index price: expected a finite number > 0, was {index_price!r}")
    return float(index_price) / float(ratio)


def value(snapshot: Snapshot, field: str) -> float | None:
    """``snapshot[field]`` as a float, ``None`` when absent, ``None`` or ``nan`` (not ready)."""
    v = snapshot.get(field)
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _positive(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Skip:
    """Why the last snapshot produced no intent."""

    code: str
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class EnterIntent:
    """Open a position: ``direction`` +1 long / −1 short at about ``price`` (index points), with a
    stop and a target in index points; ``ratio`` (index / proxy) maps them to the proxy."""

    play: str
    ts_ns: int
    index: str
    proxy: str
    direction: int
    level: Level
    price: float
    stop: float
    target: float
    ratio: float
    reasons: tuple[ReasonPair, ...]

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise InvariantError(f"{self.play}: direction: expected +1 or -1, was {self.direction!r}")
        if self.level not in LEVELS[1:]:
            raise InvariantError(f"{self.play}: level: expected reduced, normal or aggressive, was {self.level!r}")
        for name in ("price", "stop", "target", "ratio"):
            if not _positive(getattr(self, name)):
                raise InvariantError(f"{self.play}: {name}: expected a finite number > 0, was {getattr(self, name)!r}")
        if self.direction * (self.price - self.stop) <= 0:
            raise InvariantError(
                f"{self.play}: stop {self.stop} is not on the losing side of {self.price} for direction "
                f"{self.direction:+d}"
            )
        if self.direction * (self.target - self.price) <= 0:
            raise InvariantError(
                f"{self.play}: target {self.target} is not on the winning side of {self.price} for direction "
                f"{self.direction:+d}"
            )

    @property
    def stop_points(self) -> float:
        """|price − stop| in index points."""
        return abs(self.price - self.stop)

    @property
    def proxy_price(self) -> float:
        return to_proxy(self.price, self.ratio)

    @property
    def proxy_stop(self) -> float:
        return to_proxy(self.stop, self.ratio)

    @property
    def proxy_target(self) -> float:
        return to_proxy(self.target, self.ratio)

    @property
    def proxy_stop_distance(self) -> float:
        """The stop distance in proxy dollars per share (what sizing divides by)."""
        return self.stop_points / self.ratio


@dataclass(frozen=True, kw_only=True, slots=True)
class ExitIntent:
    """Close the play's position now; ``reason`` = (code, text)."""

    play: str
    ts_ns: int
    index: str
    proxy: str
    reason: ReasonPair


Intent = EnterIntent | ExitIntent

_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class PlayConfig(BaseModel):
    """Keys common to every play: the ``index`` read (``I:SPX``), the ``proxy`` traded (``SPY``),
    the ``reward_risk`` of the target (target = entry ± reward_risk × stop distance) and the
    ``cooldown_s`` after an exit. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: str = Field(pattern=r"^I:[A-Z0-9.]+$")
    proxy: str = Field(pattern=r"^[A-Z][A-Z0-9.]*$")
    reward_risk: float = Field(gt=0, le=20)
    cooldown_s: int = Field(ge=0, le=6 * 3600)


C = TypeVar("C", bound=PlayConfig)


class Play(ABC, Generic[C]):
    """Base of every play: common checks, cooldown, position flag, the entry/exit builders.

    Subclasses set ``config_model`` and ``kind`` (the name defaults to the index root + ``_`` +
    ``kind``: ``I:SPX`` + ``TREND_BURST`` → ``SPX_TREND_BURST``) and implement :meth:`_evaluate`.
    """

    config_model: ClassVar[type[PlayConfig]]
    kind: ClassVar[str]

    def __init__(self, config: C, *, name: str | None = None) -> None:
        if not isinstance(config, self.config_model):
            raise ConfigError(
                f"{type(self).__name__}: expected a {self.config_model.__name__}, was {type(config).__name__}"
            )
        self.config: C = config
        self.name = name if name is not None else f"{config.index.removeprefix('I:')}_{self.kind}"
        if not _NAME.match(self.name):
            raise ConfigError(f"play name: expected upper-case letters, digits and '_', was {self.name!r}")
        self.position = 0
        self.last_skip: Skip | None = None
        self._last_ts: int | None = None
        self._cooldown_until: int | None = None

    @property
    def index(self) -> str:
        return self.config.index

    @property
    def proxy(self) -> str:
        return self.config.proxy

    def on_snapshot(
        self,
        ts_ns: int,
        index_snapshot: Snapshot,
        proxy_snapshot: Snapshot,
        level: Level,
        gates: Gates | None = None,
    ) -> Intent | None:
        """Feed one time step; an intent or ``None`` (then :attr:`last_skip` says why)."""
        if level not in LEVELS:
            raise InvariantError(f"{self.name}: level: expected one of {LEVELS}, was {level!r}")
        if self._last_ts is not None and ts_ns < self._last_ts:
            raise InvariantError(f"{self.name}: time went backwards: {ts_ns} after {self._last_ts}")
        self._last_ts = ts_ns
        self.last_skip = None
        out = self._evaluate(ts_ns, index_snapshot, proxy_snapshot, level, gates)
        if isinstance(out, Skip):
            self.last_skip = out
            return None
        return out

    def position_closed(self, ts_ns: int) -> None:
        """The position ended outside the play (stop/target filled, entry refused): start the cooldown."""
        self.position = 0
        self._cooldown_until = ts_ns + self.config.cooldown_s * NS_PER_S
        self._on_flat()

    @abstractmethod
    def _evaluate(
        self, ts_ns: int, index: Snapshot, proxy: Snapshot, level: Level, gates: Gates | None
    ) -> Intent | Skip:
        """The play's rule for one step."""

    def _on_flat(self) -> None:
        """Hook: the position ended."""

    # helpers for subclasses ------------------------------------------------------------------

    @staticmethod
    def _missing(snapshot: Snapshot, fields: tuple[str, ...], which: str) -> Skip | None:
        gone = [f for f in fields if value(snapshot, f) is None]
        if gone:
            return Skip(code="NOT_READY", text=f"{which} features not ready: {', '.join(gone)}")
        return None

    def _entry_gate(self, ts_ns: int, level: Level) -> Skip | None:
        if level == "off":
            return Skip(code="POLICY_OFF", text="session policy level is off: no new entries")
        if self._cooldown_until is not None and ts_ns < self._cooldown_until:
            left = (self._cooldown_until - ts_ns) / NS_PER_S
            return Skip(code="COOLDOWN", text=f"cooldown after the last exit: {left:.0f} s left")
        return None

    def _enter(
        self,
        ts_ns: int,
        index: Snapshot,
        *,
        direction: int,
        level: Level,
        price: float,
        stop: float,
        reasons: list[ReasonPair],
    ) -> EnterIntent | Skip:
        """The entry at ``price`` with ``stop`` and the R-multiple target, or the refusal."""
        if direction * (price - stop) <= 0:
            return Skip(code="BAD_STOP", text=f"stop {stop:.2f} is not on the losing side of {price:.2f}")
        ratio = value(index, "proxy_ratio")
        if ratio is None or ratio <= 0:
            return Skip(code="RATIO_NOT_READY", text="proxy_ratio not ready: cannot map index prices to the proxy")
        target = price + direction * self.config.reward_risk * abs(price - stop)
        if target <= 0:
            return Skip(code="BAD_TARGET", text=f"target {target:.2f} is not a price")
        intent = EnterIntent(
            play=self.name,
            ts_ns=ts_ns,
            index=self.index,
            proxy=self.proxy,
            direction=direction,
            level=level,
            price=price,
            stop=stop,
            target=target,
            ratio=ratio,
            reasons=(*reasons, ("POLICY", f"policy level {level}")),
        )
        self.position = direction
        return intent

    def _exit(self, ts_ns: int, code: str, text: str) -> ExitIntent:
        self.position = 0
        self._cooldown_until = ts_ns + self.config.cooldown_s * NS_PER_S
        self._on_flat()
        return ExitIntent(play=self.name, ts_ns=ts_ns, index=self.index, proxy=self.proxy, reason=(code, text))


def resolve_play(path: str) -> type[Play[Any]]:
    """The play class at ``path`` = ``package.module:Class``; :class:`ConfigError` naming the path
    when it is malformed, the module cannot be imported, the class is missing or is not a Play."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr or not attr.isidentifier():
        raise ConfigError(f"play path {path!r}: expected 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"play path {path!r}: module {module_name!r} cannot be imported: {exc}") from exc
    cls = getattr(module, attr, None)
    if cls is None:
        raise ConfigError(f"play path {path!r}: module {module_name!r} has no attribute {attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, Play)) or cls is Play:
        raise ConfigError(f"play path {path!r}: {attr!r} is not a subclass of scalper.plays.base.Play")
    return cls


def load_play(path: str, config: Mapping[str, Any] | PlayConfig, *, name: str | None = None) -> Play[Any]:
    """Build the play at ``path`` (``module:Class``) from ``config`` (a mapping of its keys, validated
    by the class's ``config_model``, or a ready config). Errors name the path, the key and the value."""
    cls = resolve_play(path)
    label = name or path
    if isinstance(config, PlayConfig):
        model = config
    else:
        try:
            model = cls.config_model.model_validate(dict(config))
        except ValidationError as exc:
            raise ConfigError(
                f"play {label}: invalid config:\n  " + "\n  ".join(map(_describe, exc.errors()))
            ) from None
    return cls(model, name=name)


def _describe(error: Any) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(config)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if error["type"] == "missing":
        return f"{key}: key is missing"
    return f"{key}: value {error.get('input')!r} is invalid: {error['msg']}"
