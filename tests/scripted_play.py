"""A play that enters and exits at given decision times, for tests of the trading engine.

Shared by the engine, journal and store tests (imported as ``scripted_play``: the ``tests`` folder
is on the import path through its ``conftest.py``). It keeps the policy-off and cooldown gates of
every play.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from scalper.core.events import SecondAgg
from scalper.plays.base import EnterIntent, Intent, Play, PlayConfig, Skip, Snapshot, value
from scalper.strategy.policy import Gates
from scalper.strategy.thresholds import Level

S = 1_000_000_000
#: Monday 2025-03-03 10:00 New York (15:00 UTC): inside a regular session
T0 = int(dt.datetime(2025, 3, 3, 15, 0, tzinfo=dt.UTC).timestamp()) * S
#: index points per proxy dollar in the constructed sessions
RATIO = 10.0
#: the import path of the play, for ``load_play``
PATH = "scripted_play:ScriptedPlay"


class ScriptedConfig(PlayConfig):
    enter_at: tuple[int, ...] = ()  # decision times (ns) at which to enter
    exit_at: tuple[int, ...] = ()
    direction: int = 1
    stop_points: float = 2.0


class ScriptedPlay(Play[ScriptedConfig]):
    """Enters in ``direction`` at the given decision times (stop ``stop_points`` index points away,
    target at ``reward_risk`` times that), exits at the given times."""

    config_model: ClassVar[type[PlayConfig]] = ScriptedConfig
    kind: ClassVar[str] = "SCRIPTED"

    def __init__(self, config: ScriptedConfig, *, name: str | None = None) -> None:
        super().__init__(config, name=name)
        self.closed_at: list[int] = []

    def _evaluate(
        self, ts_ns: int, index: Snapshot, proxy: Snapshot, level: Level, gates: Gates | None
    ) -> Intent | Skip:
        if self.position != 0:
            if ts_ns in self.config.exit_at:
                return self._exit(ts_ns, "SCRIPTED_EXIT", "scripted exit")
            return Skip(code="HOLD", text="holding")
        blocked = self._entry_gate(ts_ns, level)
        if blocked is not None:
            return blocked
        if ts_ns not in self.config.enter_at:
            return Skip(code="WAIT", text="not an entry time")
        close, proxy_close = value(index, "close"), value(proxy, "close")
        assert close is not None and proxy_close is not None and level != "off"
        d, points = self.config.direction, self.config.stop_points
        self.position = d
        return EnterIntent(
            play=self.name,
            ts_ns=ts_ns,
            index=self.index,
            proxy=self.proxy,
            direction=d,
            level=level,
            price=close,
            stop=close - d * points,
            target=close + d * self.config.reward_risk * points,
            ratio=close / proxy_close,
            reasons=(("SCRIPTED", "scripted entry"), ("POLICY", f"policy level {level}")),
        )

    def _on_flat(self) -> None:
        if self._last_ts is not None:
            self.closed_at.append(self._last_ts)


def decision(second: int) -> int:
    """The decision time of the bar starting at T0 + second: its end."""
    return T0 + (second + 1) * S


def bars(closes: list[float], start: int = 0) -> list[SecondAgg]:
    """One-second bars of I:SPX (× RATIO) then SPY from second ``start`` (the replay order of one
    second), each opening at the previous close."""
    out: list[SecondAgg] = []
    for i, c in enumerate(closes):
        o = closes[max(0, i - 1)]
        ts = T0 + (start + i) * S
        for symbol, k in (("I:SPX", RATIO), ("SPY", 1.0)):
            out.append(
                SecondAgg(
                    symbol=symbol,
                    ts_event=ts,
                    ts_end=ts + S,
                    open=o * k,
                    high=max(o, c) * k,
                    low=min(o, c) * k,
                    close=c * k,
                    volume=1000.0,
                )
            )
    return out
