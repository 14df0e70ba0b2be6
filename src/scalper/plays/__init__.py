"""Plays: small classes that turn feature snapshots into entry and exit intents.

See :mod:`scalper.plays.base` for the API and the loader, :mod:`scalper.plays.trend_burst` and
:mod:`scalper.plays.balanced_break` for the built-in plays, and docs/PLAYS.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scalper.plays.base import (
    EnterIntent,
    ExitIntent,
    Intent,
    Play,
    PlayConfig,
    Skip,
    load_play,
    resolve_play,
    to_proxy,
)

__all__ = [
    "EnterIntent",
    "ExitIntent",
    "Intent",
    "Play",
    "PlayConfig",
    "Skip",
    "load_play",
    "load_plays",
    "resolve_play",
    "to_proxy",
]


def load_plays(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Play[Any]]:
    """Every play of the thresholds' ``[plays.NAME]`` sections: ``play`` = ``module:Class``, the
    other keys = the class's config. Errors name the section."""
    from scalper.core.errors import ConfigError

    out: dict[str, Play[Any]] = {}
    for name, section in sections.items():
        params = dict(section)
        path = params.pop("play", None)
        if not isinstance(path, str):
            raise ConfigError(f"plays.{name}.play: expected 'package.module:Class', was {path!r}")
        out[name] = load_play(path, params, name=name)
    return out
