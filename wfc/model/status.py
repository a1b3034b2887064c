"""The five statuses of steps and pipeline runs (BRIEF §6b), the same everywhere."""

from enum import StrEnum


class Status(StrEnum):
    """What became of a step run or a pipeline run.

    Attributes:
        RUNNING: claimed and executing now (or its process died; the next claimant marks it failed).
        COMPLETED: executed, outputs archived and verified in the store.
        CACHED: not executed; its outputs are those of ``cache_source`` (a completed run).
        FAILED: executed and failed: non-zero exit, missing output, timeout, OOM, or died.
        CANCELLED: never finished because the user stopped it or an upstream step failed.
    """

    RUNNING = "running"
    COMPLETED = "completed"
    CACHED = "cached"
    FAILED = "failed"
    CANCELLED = "cancelled"
