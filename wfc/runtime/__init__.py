"""Runtimes that execute a method (BRIEF §5): the protocol, Docker (the default), a process inside
the environment's image, an in-process fake for tests, and choosing one by name."""
