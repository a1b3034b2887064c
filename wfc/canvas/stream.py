"""The live event stream of the canvas (``GET /api/events``, Server-Sent Events) and the watch on
the database for pipeline runs started elsewhere (``wfc run-pipeline`` in a terminal).

Each client reads the numbered :class:`~wfc.canvas.jobs.EventLog`: events are sent in batches,
``event: batch`` with ``id: <seq of its last event>`` and a JSON list, flushed every 100 ms or at
500 events, so a run with thousands of log lines costs a few messages a second, not thousands. A
reconnecting client sends ``Last-Event-ID`` (or ``?since=N``) and gets what it missed first.

:class:`RunsWatch` polls the database every second and bumps a counter when the newest pipeline
runs change in a way this server's jobs do not explain; every stream then sends ``event: runs``
so the history view reloads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator

from wfc.canvas.jobs import Jobs
from wfc.lineage.db import database
from wfc.lineage.query import RunFilter, pipeline_runs
from wfc.project import Project

log = logging.getLogger("wfc.canvas")

FLUSH_SECONDS = 0.1
BATCH_EVENTS = 500
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0
WATCHED_RUNS = 50  # the newest pipeline runs compared on each poll


def batch_message(events: list[dict[str, object]]) -> str:
    """One SSE message carrying a batch of events."""
    data = json.dumps(events, separators=(",", ":"), default=str)
    return f"id: {events[-1]['seq']}\nevent: batch\ndata: {data}\n\n"


async def event_stream(
    jobs: Jobs, watch: RunsWatch, since: int, closing: asyncio.Event
) -> AsyncIterator[str]:
    """The messages of one client: missed events first, then live ones, ``runs`` notices and a
    heartbeat comment, until the client goes or the server closes."""
    cursor = since
    seen_runs = watch.generation
    quiet = 0.0
    yield "retry: 1000\n\n"
    while True:
        closing_now = closing.is_set()  # what came before the server closed is still sent
        events = jobs.events.since(cursor, limit=BATCH_EVENTS)
        if events:
            cursor = int(str(events[-1]["seq"]))
            quiet = 0.0
            yield batch_message(events)
            if len(events) == BATCH_EVENTS:
                continue  # more are waiting: send them now
        if watch.generation != seen_runs:
            seen_runs = watch.generation
            quiet = 0.0
            yield "event: runs\ndata: {}\n\n"
        if closing_now:
            return
        if quiet >= HEARTBEAT_SECONDS:
            quiet = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(FLUSH_SECONDS)
        quiet += FLUSH_SECONDS


class RunsWatch:
    """Notices pipeline runs that change in the database without this server's jobs."""

    def __init__(self, project: Project, jobs: Jobs) -> None:
        self.project = project
        self.jobs = jobs
        self.generation = 0
        self._seen: dict[str, str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Poll on a thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, name="wfc-canvas-runs-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def poll(self) -> bool:
        """Compare the newest pipeline runs with the last poll; whether others changed them."""
        with database(self.project.database_url, read_only=True) as db:
            now = {pr.id: pr.status for pr in pipeline_runs(db, RunFilter(limit=WATCHED_RUNS))}
        before, self._seen = self._seen, now
        if before is None:
            return False
        changed = {pr for pr, status in now.items() if before.get(pr) != status}
        foreign = changed - self.jobs.own_pipeline_runs()
        if foreign:
            self.generation += 1
        return bool(foreign)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.poll()
                failures = 0
            except Exception as exc:  # the database may be migrating or briefly locked
                failures += 1
                if failures == 1:
                    log.warning("watching the database for runs: %s", exc)
