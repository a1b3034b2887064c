"""Compile time: expanding a pipeline document into concrete steps (and, later, backends)."""
