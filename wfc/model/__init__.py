"""Pydantic models of wfc's documents (method.yaml, pipelines, env locks). No I/O beyond parsing."""
