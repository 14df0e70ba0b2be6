"""scalper: intraday scalping of SPX/NDX signals executed on SPY/QQQ.

One engine for live and replay; PostgreSQL as the system of record.
"""

__version__ = "0.1.0"
