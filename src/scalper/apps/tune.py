"""``scalper tune`` and ``scalper thresholds apply``: walk-forward threshold iteration, out-of-sample only.

Tune: every combination of a grid of play thresholds (``--grid PLAY.key=v1,v2``) is backtested
once over the whole range (:func:`scalper.apps.backtest.run_backtest`: the same engine, each run
stored), giving a matrix of daily PnL (sessions × parameter sets). Then:

* walk-forward (:func:`scalper.backtest.walkforward.folds`): on each fold the set with the best
  total PnL on the training sessions is frozen and its PnL on the following test sessions is what
  counts; only these out-of-sample sessions are reported;
* the probability of backtest overfitting of the selection (CSCV on the whole matrix,
  :func:`scalper.backtest.overfitting.pbo`);
* the deflated Sharpe ratio of the out-of-sample daily PnL, with N = the number of parameter sets
  tried and the variance of their Sharpe ratios.

The result (a JSON file) names the set chosen on the last fold: the proposal.
``scalper thresholds apply RESULT`` writes that set into the thresholds file under a new version
and appends a dated entry to docs/PROGRESS.md: old → new values and the out-of-sample evidence.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scalper.backtest.overfitting import pbo
from scalper.backtest.stats import deflated_sharpe
from scalper.backtest.trades import RoundTrip
from scalper.backtest.walkforward import folds, out_of_sample
from scalper.core.errors import ConfigError, DataError
from scalper.strategy.thresholds import Thresholds

Override = dict[str, dict[str, Any]]  # play → {key: value}
_GRID = re.compile(r"^(?P<play>[A-Z][A-Z0-9_]*)\.(?P<key>[a-z_][a-z0-9_]*)=(?P<values>.+)$")


@dataclass(frozen=True, slots=True)
class Axis:
    play: str
    key: str
    values: tuple[Any, ...]


def parse_grid(items: Sequence[str], thresholds: Thresholds) -> list[Axis]:
    """``PLAY.key=v1,v2,...`` items → axes; values typed like the current value (int, float, bool, str)."""
    axes = []
    sections = thresholds.play_sections()
    for item in items:
        m = _GRID.match(item.strip())
        if m is None:
            raise ConfigError(f"--grid {item!r}: expected PLAY.key=v1,v2 (e.g. SPX_TREND_BURST.band_k=0.5,1.0)")
        play, key = m["play"], m["key"]
        if play not in sections:
            raise ConfigError(f"--grid {item!r}: unknown play {play}; expected one of {', '.join(sections)}")
        if key not in sections[play] or key == "play":
            raise ConfigError(f"--grid {item!r}: play {play} has no key {key!r}")
        current = sections[play][key]
        values = tuple(_typed(v.strip(), current, item) for v in m["values"].split(","))
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid {item!r}: a value is given twice")
        axes.append(Axis(play=play, key=key, values=values))
    if not axes:
        raise ConfigError("--grid: expected at least one PLAY.key=v1,v2")
    return axes


def _typed(text: str, like: Any, item: str) -> Any:
    try:
        if isinstance(like, bool):
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
        if isinstance(like, int):
            return int(text)
        if isinstance(like, float):
            return float(text)
    except ValueError:
        raise ConfigError(f"--grid {item!r}: value {text!r} is not a {type(like).__name__}") from None
    return text


def combinations(axes: Sequence[Axis]) -> list[Override]:
    """Every combination of the axes' values, as overrides."""
    out = []
    for values in itertools.product(*(a.values for a in axes)):
        override: Override = {}
        for axis, value in zip(axes, values, strict=True):
            override.setdefault(axis.play, {})[axis.key] = value
        out.append(override)
    return out


def with_overrides(thresholds: Thresholds, override: Override, version: str) -> Thresholds:
    """The thresholds with some play keys replaced (validated like the file)."""
    data = thresholds.model_dump(mode="python")
    for play, keys in override.items():
        data["plays"][play].update(keys)
    data["version"] = version
    return Thresholds.model_validate(data)


def label(override: Override) -> str:
    return ", ".join(f"{p}.{k}={v}" for p, keys in sorted(override.items()) for k, v in sorted(keys.items()))


def daily_matrix(days: Sequence[dt.date], runs: Sequence[Sequence[RoundTrip]]) -> np.ndarray[Any, Any]:
    """Sessions × parameter sets of daily PnL (0 on a day without a closed trade)."""
    index = {d: i for i, d in enumerate(days)}
    m = np.zeros((len(days), len(runs)))
    for j, trips in enumerate(runs):
        for t in trips:
            if t.day in index:
                m[index[t.day], j] += t.pnl
    return m


def evaluate(
    days: Sequence[dt.date],
    overrides: Sequence[Override],
    matrix: np.ndarray[Any, Any],
    *,
    train: int,
    test: int,
    anchored: bool = False,
) -> dict[str, Any]:
    """Walk-forward selection on ``matrix`` (sessions × sets): out-of-sample results, PBO, DSR."""
    fold_list = folds(days, train=train, test=test, anchored=anchored)
    index = {d: i for i, d in enumerate(days)}
    chosen: list[dict[str, Any]] = []
    oos: dict[dt.date, float] = {}
    for fold in fold_list:
        rows = [index[d] for d in fold.train]
        best = int(np.argmax(matrix[rows].sum(axis=0)))
        for d in fold.test:
            oos[d] = float(matrix[index[d], best])
        chosen.append(
            {
                "fold": fold.index,
                "train": [str(fold.train[0]), str(fold.train[-1])],
                "test": [str(fold.test[0]), str(fold.test[-1])],
                "set": best,
                "label": label(overrides[best]),
            }
        )
    oos_days = out_of_sample(days, fold_list)
    series = np.array([oos[d] for d in oos_days])
    n_sets = matrix.shape[1]
    evidence: dict[str, Any] = {
        "oos_sessions": len(oos_days),
        "oos_first": str(oos_days[0]),
        "oos_last": str(oos_days[-1]),
        "oos_total_pnl": float(series.sum()),
        "oos_mean_daily_pnl": float(series.mean()),
        "oos_days_positive": int((series > 0).sum()),
    }
    sharpes = [float(c.mean() / c.std(ddof=1)) for c in matrix.T if len(c) > 1 and c.std(ddof=1) > 0]
    try:
        var_sr = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
        evidence["oos_deflated_sharpe"] = deflated_sharpe(series, trials=n_sets, var_sr=var_sr)
    except DataError as exc:
        evidence["oos_deflated_sharpe"] = None
        evidence["oos_deflated_sharpe_why"] = str(exc)
    blocks = min(16, len(days) - len(days) % 2)
    try:
        result = pbo(matrix, blocks=blocks)
        evidence["pbo"] = result.pbo
        evidence["pbo_blocks"] = blocks
    except (DataError, ConfigError) as exc:
        evidence["pbo"] = None
        evidence["pbo_why"] = str(exc)
    return {"folds": chosen, "evidence": evidence, "proposal": chosen[-1]["set"]}


def run_tune(
    backtest: Callable[[Thresholds, str], Sequence[RoundTrip]],
    thresholds: Thresholds,
    axes: Sequence[Axis],
    days: Sequence[dt.date],
    *,
    train: int,
    test: int,
    anchored: bool = False,
    stamp: str,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Backtest every combination once (``backtest(thresholds, run_id) -> round trips``), then evaluate."""
    overrides = combinations(axes)
    runs = []
    for i, override in enumerate(overrides):
        variant = with_overrides(thresholds, override, f"{thresholds.version}+tune{i}")
        runs.append(backtest(variant, f"tune-{stamp}-{i}"))
        if progress is not None:
            progress(i + 1, len(overrides), label(override))
    matrix = daily_matrix(days, runs)
    result = evaluate(days, overrides, matrix, train=train, test=test, anchored=anchored)
    return {
        "thresholds_version": thresholds.version,
        "sessions": [str(d) for d in days],
        "train": train,
        "test": test,
        "anchored": anchored,
        "sets": [{"index": i, "label": label(o), "override": o} for i, o in enumerate(overrides)],
        "run_ids": [f"tune-{stamp}-{i}" for i in range(len(overrides))],
        **result,
    }


# --- thresholds apply -------------------------------------------------------------------------------


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def rewrite_thresholds(text: str, override: Override, version: str) -> tuple[str, list[tuple[str, Any, Any]]]:
    """The thresholds file text with ``override`` written into its ``[plays.NAME]`` sections and the
    new ``version`` (comments and layout kept); returns (text, [(play.key, old, new)])."""
    lines = text.splitlines(keepends=True)
    changes: list[tuple[str, Any, Any]] = []
    section = None
    seen: set[tuple[str, str]] = set()
    version_done = False
    for i, line in enumerate(lines):
        header = re.match(r"^\[(?P<name>[^\]]+)\]\s*$", line.strip())
        if header:
            section = header["name"]
            continue
        m = re.match(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<eq>\s*=\s*)(?P<value>[^#\n]*?)(?P<rest>\s*(#.*)?\n?)$", line)
        if m is None:
            continue
        if section is None and m["key"] == "version":
            lines[i] = f"{m['key']}{m['eq']}{json.dumps(version)}{m['rest']}"
            version_done = True
            continue
        if section is not None and section.startswith("plays."):
            play = section.removeprefix("plays.")
            if m["key"] in override.get(play, {}):
                new = override[play][m["key"]]
                changes.append((f"{play}.{m['key']}", m["value"].strip(), _format(new)))
                lines[i] = f"{m['key']}{m['eq']}{_format(new)}{m['rest']}"
                seen.add((play, m["key"]))
    missing = sorted(f"{p}.{k}" for p, keys in override.items() for k in keys if (p, k) not in seen)
    if missing:
        raise ConfigError(f"thresholds apply: keys not found in the file: {', '.join(missing)}")
    if not version_done:
        raise ConfigError("thresholds apply: no top-level version = ... line in the file")
    return "".join(lines), changes


def next_version(current: str, today: dt.date) -> str:
    """``policy-YYYY-MM-DD.N``: today's date, N one more than the current one's when it is today's."""
    m = re.match(r"^(?P<stem>.*?)-(?P<day>\d{4}-\d{2}-\d{2})\.(?P<n>\d+)$", current)
    stem = m["stem"] if m else "policy"
    n = int(m["n"]) + 1 if m and m["day"] == today.isoformat() else 1
    return f"{stem}-{today.isoformat()}.{n}"


def progress_entry(
    result: Mapping[str, Any], old: str, new: str, changes: Sequence[tuple[str, Any, Any]], today: dt.date
) -> str:
    """The dated docs/PROGRESS.md entry of an applied tune: the changes and the out-of-sample evidence."""
    e = result["evidence"]

    def num(value: Any, digits: int = 2) -> str:
        return (
            "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.{digits}f}"
        )

    rows = "\n".join(f"| `{key}` | {a} | {b} |" for key, a, b in changes) or "| (no value changed) | | |"
    folds_text = "; ".join(f"fold {f['fold']}: {f['label']}" for f in result["folds"])
    return (
        f"## {today.isoformat()} — thresholds {old} → {new} (walk-forward tune)\n\n"
        f"| key | old | new |\n|---|---|---|\n{rows}\n\n"
        f"Out-of-sample only: {e['oos_sessions']} sessions ({e['oos_first']} to {e['oos_last']}), each traded by the "
        f"set chosen on the {result['train']} sessions before it (test windows of {result['test']}): total PnL "
        f"{num(e['oos_total_pnl'])} $, mean {num(e['oos_mean_daily_pnl'])} $ a session, {e['oos_days_positive']} "
        f"positive sessions; deflated Sharpe {num(e.get('oos_deflated_sharpe'), 3)} over {len(result['sets'])} "
        f"parameter sets tried; probability of backtest overfitting {num(e.get('pbo'), 3)}. "
        f"Chosen per fold: {folds_text}.\n\n"
    )


def apply_result(
    result: Mapping[str, Any], thresholds_path: Path, progress_path: Path, today: dt.date
) -> tuple[str, str]:
    """Write the proposal into ``thresholds_path`` (new version) and the entry into ``progress_path``;
    returns (old version, new version)."""
    from scalper.strategy.thresholds import load_thresholds

    current = load_thresholds(thresholds_path)
    if current.version != result["thresholds_version"]:
        raise ConfigError(
            f"thresholds apply: the tune ran on {result['thresholds_version']}, the file is at {current.version}; "
            "tune again on the current thresholds"
        )
    override: Override = result["sets"][result["proposal"]]["override"]
    new = next_version(current.version, today)
    text, changes = rewrite_thresholds(thresholds_path.read_text(encoding="utf-8"), override, new)
    tmp = thresholds_path.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    load_thresholds(tmp)  # the new file must be valid before it replaces the old one
    tmp.replace(thresholds_path)
    entry = progress_entry(result, current.version, new, changes, today)
    progress = progress_path.read_text(encoding="utf-8") if progress_path.exists() else "# Progress\n\n"
    head, sep, rest = progress.partition("\n## ")
    progress_path.write_text(head.rstrip("\n") + "\n\n" + entry + (("## " + rest) if sep else ""), encoding="utf-8")
    return current.version, new
