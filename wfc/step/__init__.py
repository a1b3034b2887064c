"""The run-step lifecycle: resolve -> key -> claim -> hit or execute -> collect -> archive -> record.

This package is the only one that coordinates the cache, the store, the lineage database and the
runtime; ``run_step`` is the library function behind ``wfc run-step``.
"""
