"""The one error of the flat-file backfill: a file that cannot be fetched or loaded."""

from __future__ import annotations

from scalper.core.errors import DataError


class FlatFileError(DataError):
    """A flat file failed; the message starts with the file's key (and names the row when known)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem
