"""Write synthetic sessions to disk: Polygon flat files, websocket frames and chain snapshots.

Layout under ``out_dir``:

* ``flatfiles/{dataset}/{YYYY}/{MM}/{YYYY-MM-DD}.csv.gz`` (see :mod:`.flatfiles`),
* ``events/{market}/{YYYY-MM-DD}.jsonl``: one websocket frame (a JSON array) per line, in send
  order (see :mod:`.polygon_events` for the send-time rule),
* ``snapshots/options/{I_SPX|SPY}/{YYYY-MM-DD}.json``: the end-of-day REST chain snapshot
  (``/v3/snapshot/options/{underlying}`` shape, all results on one page), when asked for.

Sessions are written one at a time while the next one is generated (at most two in memory);
files are rendered and compressed on worker threads (pyarrow kernels and zlib release the GIL).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

import msgspec

from scalper.synthetic.flatfiles import DATASETS, write_dataset
from scalper.synthetic.market import MarketConfig, MarketDay, generate_market_days
from scalper.synthetic.options import UNDERLYINGS, OptionConfig, OptionDay, generate_option_day
from scalper.synthetic.polygon_events import render_frames, snapshot_response

WHAT: Final = frozenset({"flatfiles", "events", "snapshots"})


@dataclass(frozen=True, kw_only=True, slots=True)
class SynthSummary:
    """What ``write_synthetic`` produced: rows (or frames/results) per dataset, files, time."""

    sessions: tuple[dt.date, ...]
    counts: Mapping[str, int]
    files: tuple[Path, ...]
    elapsed_s: float


def write_synthetic(
    out_dir: Path,
    *,
    start: dt.date,
    sessions: int,
    seed: int,
    what: set[str],
    market_config: MarketConfig | None = None,
    option_config: OptionConfig | None = None,
) -> SynthSummary:
    """Generate ``sessions`` XNYS sessions from ``start`` and write the parts named in ``what``.

    ``what`` is a subset of {"flatfiles", "events", "snapshots"}. Deterministic: the same
    arguments give byte-identical files. ``counts`` keys are dataset names
    (``us_stocks_sip/trades_v1``: rows), ``events/{market}`` (frames) and
    ``snapshots/{underlying}`` (results).
    """
    unknown = set(what) - WHAT
    if unknown:
        raise ValueError(f"what: unknown parts {sorted(unknown)}; expected a subset of {sorted(WHAT)}")
    began = time.perf_counter()
    counts: dict[str, int] = {}
    files: list[Path] = []
    days: list[dt.date] = []
    pairs = _sessions(start, sessions, seed, market_config, option_config)
    with ThreadPoolExecutor(max_workers=3) as pool:
        upcoming = pool.submit(next, pairs, None)
        while (pair := upcoming.result()) is not None:
            upcoming = pool.submit(next, pairs, None)  # generate the next session while writing this one
            market, options = pair
            jobs = _jobs(out_dir, market, options, what)
            for key, future in [(key, pool.submit(job)) for key, job in jobs.items()]:
                path, count = future.result()
                counts[key] = counts.get(key, 0) + count
                files.append(path)
            days.append(market.window.day)
    return SynthSummary(sessions=tuple(days), counts=counts, files=tuple(files), elapsed_s=time.perf_counter() - began)


def _sessions(
    start: dt.date,
    sessions: int,
    seed: int,
    market_config: MarketConfig | None,
    option_config: OptionConfig | None,
) -> Iterator[tuple[MarketDay, OptionDay]]:
    """Market and option data per session, lazily (at most two sessions live at once)."""
    for market in generate_market_days(start, sessions, seed, market_config):
        yield market, generate_option_day(market, seed, option_config)


Job = Callable[[], tuple[Path, int]]


def _jobs(out_dir: Path, market: MarketDay, options: OptionDay, what: set[str]) -> dict[str, Job]:
    """One callable per file of the session, biggest first so the two threads stay busy."""
    jobs: dict[str, Job] = {}
    if "events" in what:
        for name in ("stocks", "options", "indices"):
            jobs[f"events/{name}"] = partial(_write_events, out_dir, name, market, options)
    if "flatfiles" in what:
        for dataset in DATASETS:
            jobs[dataset] = partial(write_dataset, out_dir / "flatfiles", dataset, market, options)
    if "snapshots" in what:
        for code, underlying in enumerate(UNDERLYINGS):
            jobs[f"snapshots/{underlying}"] = partial(_write_snapshot, out_dir, code, underlying, market, options)
    return jobs


def _write_events(out_dir: Path, name: str, market: MarketDay, options: OptionDay) -> tuple[Path, int]:
    rendered = render_frames(name, market, options)
    path = out_dir / "events" / name / f"{market.window.day:%Y-%m-%d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rendered.content)
    return path, len(rendered)


def _write_snapshot(
    out_dir: Path, code: int, underlying: str, market: MarketDay, options: OptionDay
) -> tuple[Path, int]:
    response = snapshot_response(options, market, code)
    path = out_dir / "snapshots" / "options" / underlying.replace(":", "_") / f"{market.window.day:%Y-%m-%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.encode(response))
    return path, len(response["results"])
