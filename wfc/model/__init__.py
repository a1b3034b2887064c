"""Pydantic models of wfc's documents (method.yaml, pipelines, env locks, values) and the problems
found in them. No I/O beyond parsing."""
