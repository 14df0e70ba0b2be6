"""The one exception tree of scalper.

Every error raised on purpose by scalper derives from :class:`ScalperError`; third-party
errors are translated at the edge with ``raise Ours(...) from exc``. Each class says what the
caller should do about it::

    ScalperError                     base; carries a human-readable message
    ├── ConfigError                  bad configuration: fix the file/environment, then restart
    ├── DataError                    malformed or inconsistent input data: skip it and report
    │   └── InvariantError           a value broke a domain invariant (expected X, was Y)
    ├── StoreError                   the database failed
    │   ├── DatabaseUnavailable      cannot connect: retry later (spool meanwhile)
    │   └── MigrationError           a migration failed or was altered: nothing half-applied
    ├── FeedError                    the market-data feed failed
    │   └── FeedAuthError            credentials refused: fatal, do not retry
    └── BrokerError                  the broker refused or failed an action
"""

from __future__ import annotations


class ScalperError(Exception):
    """Base of every error scalper raises on purpose."""


class ConfigError(ScalperError):
    """The configuration is invalid; the message names the key, the value and what was expected."""


class DataError(ScalperError):
    """Input data is malformed or inconsistent."""


class InvariantError(DataError):
    """A value violated a domain invariant."""


class StoreError(ScalperError):
    """The database failed to do what was asked."""


class DatabaseUnavailable(StoreError):
    """The database cannot be reached (the URL in the message has its password redacted)."""


class MigrationError(StoreError):
    """A migration could not be applied, or an applied migration was changed afterwards."""


class FeedError(ScalperError):
    """The market-data feed failed."""


class FeedAuthError(FeedError):
    """The feed refused the API key. Retrying will not help."""


class BrokerError(ScalperError):
    """The broker refused or failed an action."""
