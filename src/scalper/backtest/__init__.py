"""Backtest analytics: round trips and honest statistics (pure)."""
