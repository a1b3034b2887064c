"""Runtimes that execute a method: the protocol, and the Docker implementation."""
