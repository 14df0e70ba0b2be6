"""The one exception tree of scalper.

Every error raised on purpose by scalper derives from :class:`ScalperError`; third-party
errors are translated at the edge with ``raise Ours(...) from exc``. Each class says what the
caller should do about it::

    ScalperError                     base; carries a human-readable message
    ├── ConfigError                  bad configuration: fix the file/environment, then restart
    ├── DataError                    malformed or inconsistent input data: skip it and report
    │   └── InvariantError           a value broke a domain invariant (expected X, was Y)
    │       └── OrderStateError      an order update the order's state does not allow: skip and reconcile
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


class OrderStateError(InvariantError):
    """An update an order's state does not allow (an illegal transition, an overfill).

    ``client_order_id``, ``from_status`` and ``to_status`` name the order and the transition.
    """

    def __init__(self, message: str, *, client_order_id: str, from_status: str, to_status: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id
        self.from_status = from_status
        self.to_status = to_status


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
