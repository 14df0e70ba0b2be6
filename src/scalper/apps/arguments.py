"""Command-line values parsed once, with the error every command gives for a bad one."""

from __future__ import annotations

import datetime as dt
from typing import overload

from scalper.core.errors import ConfigError


@overload
def parse_date(option: str, text: str) -> dt.date: ...
@overload
def parse_date(option: str, text: None) -> None: ...
def parse_date(option: str, text: str | None) -> dt.date | None:
    """``YYYY-MM-DD`` → a date (``None`` passes through); a bad value names the option and the format."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option}: value {text!r} is invalid: expected a date YYYY-MM-DD") from None
