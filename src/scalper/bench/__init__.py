"""Benchmarks run by ``scalper bench NAME``: each returns one dict of figures per result row."""
