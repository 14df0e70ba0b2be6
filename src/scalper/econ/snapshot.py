"""The economic calendar snapshot shipped in the package (``data/events.toml``).

The file lists, per kind and time of day, the dates read in a named source; each event's uid is
``snapshot:{KIND}:{YYYY-MM-DD}`` so reloading it is idempotent. Bad content raises a
:class:`DataError` naming the block and key.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from scalper.core.errors import DataError
from scalper.econ.events import KINDS, EconEvent, at_new_york

SNAPSHOT_UID_PREFIX = "snapshot:"


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """The parsed snapshot: its version, retrieval date, sources (id → URL) and events."""

    version: str
    retrieved_on: dt.date
    sources: dict[str, str]
    events: tuple[EconEvent, ...]


def snapshot_text() -> str:
    """The shipped file's text."""
    return resources.files("scalper.econ").joinpath("data/events.toml").read_text(encoding="utf-8")


def load_snapshot(path: Path | None = None) -> Snapshot:
    """Parse the shipped snapshot (or ``path``, a file of the same format)."""
    where = str(path) if path else "scalper/econ/data/events.toml"
    text = path.read_text(encoding="utf-8") if path else snapshot_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{where}: not valid TOML: {exc}") from exc
    retrieved = _get(data, "retrieved_on", dt.date, where)
    sources = {
        _get(s, "id", str, f"{where} [[source]] #{i + 1}"): _get(s, "url", str, f"{where} [[source]] #{i + 1}")
        for i, s in enumerate(_get(data, "source", list, where))
    }
    events: dict[str, EconEvent] = {}
    for i, block in enumerate(_get(data, "release", list, where)):
        for ev in _release_events(block, f"{where} [[release]] #{i + 1}", sources, retrieved):
            if ev.uid in events:
                raise DataError(f"{where}: {ev.kind} on {ev.day} is listed twice")
            events[ev.uid] = ev
    return Snapshot(
        version=_get(data, "version", str, where),
        retrieved_on=retrieved,
        sources=sources,
        events=tuple(sorted(events.values(), key=lambda e: (e.ts, e.kind))),
    )


def _release_events(block: dict[str, Any], where: str, sources: dict[str, str], retrieved: dt.date) -> list[EconEvent]:
    kind = _get(block, "kind", str, where)
    if kind not in KINDS:
        raise DataError(f"{where}: kind {kind!r} is invalid: expected one of {sorted(KINDS)}")
    source = _get(block, "source", str, where)
    if source not in sources:
        raise DataError(f"{where}: source {source!r} is not a [[source]] id (known: {sorted(sources)})")
    text = _get(block, "time", str, where)
    try:
        time = dt.time.fromisoformat(text)
    except ValueError:
        raise DataError(f"{where}: time {text!r} is invalid: expected HH:MM New York time") from None
    name = block.get("name", KINDS[kind][1])
    out = []
    for day in _get(block, "dates", list, where):
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise DataError(f"{where}: dates: value {day!r} is invalid: expected a TOML date YYYY-MM-DD")
        out.append(
            EconEvent(
                uid=f"{SNAPSHOT_UID_PREFIX}{kind}:{day.isoformat()}",
                ts=at_new_york(day, time),
                name=str(name),
                kind=kind,
                source=sources[source],
                retrieved_on=retrieved,
            )
        )
    return out


def _get(data: dict[str, Any], key: str, kind: type[Any], where: str) -> Any:
    if key not in data:
        raise DataError(f"{where}: key {key!r} is missing")
    value = data[key]
    if not isinstance(value, kind) or (kind is dt.date and isinstance(value, dt.datetime)):
        raise DataError(f"{where}: {key}: value {value!r} is invalid: expected {kind.__name__}")
    return value
