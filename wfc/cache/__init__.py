"""Hashing primitives and the step cache key (BRIEF §7)."""
