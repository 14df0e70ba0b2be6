"""The Python side of a play whose rule is a compiled kernel of :mod:`scalper.plays.kernels`.

:class:`CompiledPlay` is the base of the built-in plays. It holds the kernel's state arrays
(``fs``, ``its``), the parameters built from the config and reusable input rows. On each
snapshot it runs :func:`~scalper.plays.kernels.step_play` and turns the ``out`` array into the
:class:`~scalper.plays.base.EnterIntent`, :class:`~scalper.plays.base.ExitIntent` or
:class:`~scalper.plays.base.Skip` (codes and texts) the play's rule defines. The position, the
last time seen and the cooldown end are read from and written to the state arrays, so
``play.position = ±1`` (a resumed position) and :meth:`position_closed` reach the kernel.

A compiled loop drives the same play without Python on each step: it calls
``step_play(play.kernel_kind, *play.kernel_state, play.kernel_params, ts, index_row, proxy_row,
level, out)`` and ``play_position_closed(play.kernel_kind, *play.kernel_state, play.kernel_params,
ts)``; the state arrays are the play's own, and :meth:`CompiledPlay.apply_output` turns an ``out``
filled by that loop into exactly what :meth:`~scalper.plays.base.Play.on_snapshot` would have
returned (and sets :attr:`~scalper.plays.base.Play.last_skip`).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from scalper.core.errors import InvariantError
from scalper.features.snapshot import INDEX, N_FIELDS, SnapshotView
from scalper.plays import kernels as K
from scalper.plays.base import LEVELS, C, EnterIntent, ExitIntent, Intent, Play, ReasonPair, Skip, Snapshot
from scalper.strategy.policy import Gates
from scalper.strategy.thresholds import Level


class CompiledPlay(Play[C]):
    """A play whose rule runs in :func:`scalper.plays.kernels.step_play` under ``kernel_kind``.

    Subclasses set ``kernel_kind`` and say which fields the rule reads (:meth:`_index_fields`,
    :meth:`_proxy_fields`), how the config maps to the kernel's parameters (:meth:`_build_params`) and
    the texts of their own codes (:meth:`_rule_text`, :meth:`_exit_text`, :meth:`_reasons`).
    """

    kernel_kind: ClassVar[int]

    def __init__(self, config: C, *, name: str | None = None) -> None:
        self._fs, self._its = K.new_state(self.kernel_kind)
        super().__init__(config, name=name)
        self._params = self._build_params()
        self._out = K.new_out()
        self._index_row = np.full(N_FIELDS, math.nan)
        self._proxy_row = np.full(N_FIELDS, math.nan)
        self._ready_fields = self._index_fields()
        self._index_reads = tuple((INDEX[f], f) for f in (*self._ready_fields, "proxy_ratio"))
        self._proxy_reads = tuple((INDEX[f], f) for f in self._proxy_fields())

    # --- state held by the kernel's arrays ----------------------------------------------------

    @property
    def position(self) -> int:
        """+1 long, −1 short, 0 flat."""
        return int(self._fs[K.FS_POSITION])

    @position.setter
    def position(self, direction: int) -> None:
        self._fs[K.FS_POSITION] = direction

    @property
    def _last_ts(self) -> int | None:
        return _time(self._its[K.IT_LAST_TS])

    @_last_ts.setter
    def _last_ts(self, ts_ns: int | None) -> None:
        self._its[K.IT_LAST_TS] = K.NO_TIME if ts_ns is None else ts_ns

    @property
    def _cooldown_until(self) -> int | None:
        return _time(self._its[K.IT_COOLDOWN_UNTIL])

    @_cooldown_until.setter
    def _cooldown_until(self, ts_ns: int | None) -> None:
        self._its[K.IT_COOLDOWN_UNTIL] = K.NO_TIME if ts_ns is None else ts_ns

    # --- what a compiled loop needs ------------------------------------------------------------

    @property
    def kernel_state(self) -> tuple[K.F64, K.I64]:
        """The play's own state arrays ``(fs, its)`` (not copies: a kernel call updates the play)."""
        return self._fs, self._its

    def adopt_state(self, fs: K.F64, its: K.I64) -> None:
        """Keep the state in ``fs`` and ``its`` from now on (e.g. rows of a compiled loop's arrays of
        every play), after copying the current state into them."""
        fs[:] = self._fs
        its[:] = self._its
        self._fs, self._its = fs, its

    @property
    def kernel_params(self) -> K.F64:
        """The kernel's parameters built from the config."""
        return self._params

    def apply_output(self, ts_ns: int, out: K.F64) -> Intent | None:
        """The intent (or ``None``, with :attr:`last_skip` set) of the kernel step at ``ts_ns`` that filled ``out``.

        This is how :meth:`on_snapshot` ends; a compiled loop that ran ``step_play`` for this play
        gets the very same intent or skip from it. Raises :class:`InvariantError` when the step
        found time going backwards or an entry that breaks an :class:`EnterIntent` invariant.
        """
        if int(out[K.O_OUTCOME]) == K.TIME_BACKWARDS:
            raise self._time_error(ts_ns, out)
        self.last_skip = None
        result = self._result(ts_ns, out)
        if isinstance(result, Skip):
            self.last_skip = result
            return None
        return result

    def skip_of(self, out: K.F64) -> Skip:
        """The skip (code and text) of a kernel output whose outcome is a skip (a compiled loop keeps
        the latest output per skip code and asks for the text only when it is wanted)."""
        if int(out[K.O_OUTCOME]) != K.SKIP:
            raise InvariantError(f"{self.name}: kernel outcome {int(out[K.O_OUTCOME])} is not a skip")
        code = K.CODES[int(out[K.O_CODE])]
        return Skip(code=code, text=self._skip_text(code, out))

    # --- the Play API --------------------------------------------------------------------------

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
        self._step(ts_ns, index_snapshot, proxy_snapshot, level)
        return self.apply_output(ts_ns, self._out)

    def position_closed(self, ts_ns: int) -> None:
        """The position ended outside the play (stop/target filled, entry refused): start the cooldown."""
        K.play_position_closed(self.kernel_kind, self._fs, self._its, self._params, ts_ns)

    def _evaluate(
        self, ts_ns: int, index: Snapshot, proxy: Snapshot, level: Level, gates: Gates | None
    ) -> Intent | Skip:
        """The rule for one step (what :meth:`Play.on_snapshot` calls; :meth:`on_snapshot` runs the same)."""
        self._step(ts_ns, index, proxy, level)
        if int(self._out[K.O_OUTCOME]) == K.TIME_BACKWARDS:
            raise self._time_error(ts_ns, self._out)
        return self._result(ts_ns, self._out)

    # --- one step ------------------------------------------------------------------------------

    def _step(self, ts_ns: int, index: Snapshot, proxy: Snapshot, level: Level) -> None:
        """Run the kernel on the two snapshots; the result is in ``self._out``."""
        index_row = _row(index, self._index_row, self._index_reads)
        proxy_row = _row(proxy, self._proxy_row, self._proxy_reads)
        K.step_play(
            self.kernel_kind,
            self._fs,
            self._its,
            self._params,
            ts_ns,
            index_row,
            proxy_row,
            LEVELS.index(level),
            self._out,
        )

    def _result(self, ts_ns: int, out: K.F64) -> Intent | Skip:
        outcome = int(out[K.O_OUTCOME])
        code = K.CODES[int(out[K.O_CODE])]
        if outcome == K.SKIP:
            return Skip(code=code, text=self._skip_text(code, out))
        if outcome == K.EXIT:
            return ExitIntent(
                play=self.name,
                ts_ns=ts_ns,
                index=self.index,
                proxy=self.proxy,
                reason=(code, self._exit_text(code, out)),
            )
        level = LEVELS[int(out[K.O_LEVEL])]
        intent = EnterIntent(  # raises for an INVALID_ENTRY outcome
            play=self.name,
            ts_ns=ts_ns,
            index=self.index,
            proxy=self.proxy,
            direction=int(out[K.O_DIRECTION]),
            level=level,
            price=float(out[K.O_PRICE]),
            stop=float(out[K.O_STOP]),
            target=float(out[K.O_TARGET]),
            ratio=float(out[K.O_RATIO]),
            reasons=(*self._reasons(out), ("POLICY", f"policy level {level}")),
        )
        if outcome != K.ENTER:
            raise InvariantError(f"{self.name}: kernel outcome {outcome} is not an entry")
        return intent

    def _time_error(self, ts_ns: int, out: K.F64) -> InvariantError:
        last = int(out[K.O_LAST_TS_HIGH]) * 2**32 + int(out[K.O_LAST_TS_LOW])
        return InvariantError(f"{self.name}: time went backwards: {ts_ns} after {last}")

    def _skip_text(self, code: str, out: K.F64) -> str:
        """The text of a skip: the common codes here, the rule's own in :meth:`_rule_text`."""
        if code == "NOT_READY":
            mask = int(out[K.O_MISSING])
            gone = [f for i, f in enumerate(self._ready_fields) if mask & (1 << i)]
            return f"{self.index} features not ready: {', '.join(gone)}"
        if code == "POLICY_OFF":
            return "session policy level is off: no new entries"
        if code == "COOLDOWN":
            return f"cooldown after the last exit: {float(out[K.O_SECONDS]):.0f} s left"
        if code == "BAD_STOP":
            return f"stop {float(out[K.O_STOP]):.2f} is not on the losing side of {float(out[K.O_PRICE]):.2f}"
        if code == "RATIO_NOT_READY":
            return "proxy_ratio not ready: cannot map index prices to the proxy"
        if code == "BAD_TARGET":
            return f"target {float(out[K.O_TARGET]):.2f} is not a price"
        if code == "IN_POSITION":
            return f"in a {'long' if out[K.O_DIRECTION] > 0 else 'short'} position"
        return self._rule_text(code, out)

    # --- what a subclass says ------------------------------------------------------------------

    @abstractmethod
    def _build_params(self) -> K.F64:
        """The kernel's parameters (``P_*`` slots of :mod:`scalper.plays.kernels`) from the config."""

    @abstractmethod
    def _index_fields(self) -> tuple[str, ...]:
        """The index fields the rule needs ready, in the order NOT_READY names them (bit i = field i)."""

    def _proxy_fields(self) -> tuple[str, ...]:
        """The proxy fields the rule reads."""
        return ()

    @abstractmethod
    def _rule_text(self, code: str, out: K.F64) -> str:
        """The text of a skip code of the play's own rule."""

    @abstractmethod
    def _exit_text(self, code: str, out: K.F64) -> str:
        """The text of an exit."""

    @abstractmethod
    def _reasons(self, out: K.F64) -> list[ReasonPair]:
        """The reasons of an entry, before POLICY."""


def _time(ts_ns: np.int64) -> int | None:
    return None if ts_ns == K.NO_TIME else int(ts_ns)


def _row(snapshot: Snapshot, buf: K.F64, reads: Sequence[tuple[int, str]]) -> K.F64:
    """``snapshot`` as a float64 row: a :class:`SnapshotView`'s own row, or ``buf`` with the ``reads``
    (index, field) filled from the mapping (absent or ``None`` → ``nan``)."""
    if isinstance(snapshot, SnapshotView):
        row = snapshot._row
        return row if row.dtype == np.float64 else row.astype(np.float64)
    for i, field in reads:
        v = snapshot.get(field)
        buf[i] = math.nan if v is None else float(v)
    return buf
