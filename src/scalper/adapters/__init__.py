"""Adapters: the edges where scalper meets databases, feeds, brokers and files."""
