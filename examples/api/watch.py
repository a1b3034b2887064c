"""Run a pipeline from Python and watch it: the wfc library API with run events (docs/api.md).

Usage: python3 examples/api/watch.py PIPELINE [--cancel-after SECONDS]
"""

from __future__ import annotations

import argparse
import threading

from wfc import api
from wfc.pipeline.events import PipelineFinished, PipelineStarted, RunEvent, StepFinished, StepStarted


def show(event: RunEvent) -> None:
    """Print the events a live view would draw."""
    if isinstance(event, PipelineStarted):
        print(f"started {event.pipeline_run}: {len(event.steps)} steps")
    elif isinstance(event, StepStarted):
        print(f"  {event.step} ...")
    elif isinstance(event, StepFinished):
        print(f"  {event.step} {event.status} in {event.seconds:.2f}s ({event.why})")
    elif isinstance(event, PipelineFinished):
        print(f"finished: {event.status}, {event.counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pipeline")
    parser.add_argument("--cancel-after", type=float, help="cancel the run after this many seconds")
    args = parser.parse_args()

    project = api.open_project()
    problems = api.validate(project, args.pipeline)
    if any(p.severity == "error" for p in problems):
        for p in problems:
            print(f"{p.severity}: {p.path}: {p.message}")
        raise SystemExit(2)
    for step in api.plan(project, args.pipeline).steps:
        print(f"plan: {step.name} {step.status}")

    cancel = threading.Event()
    if args.cancel_after is not None:
        threading.Timer(args.cancel_after, cancel.set).start()
    outcome = api.run_pipeline(project, args.pipeline, cores=2, on_event=show, cancel=cancel)
    print(api.to_json(outcome)["counts"])


if __name__ == "__main__":
    main()
