"""Human text of API values that more than one command prints (``why`` and ``plan --explain``)
or that takes more than a few lines (``show``). Presentation only: no I/O, no decisions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from wfc.output import plural, resources_text

if TYPE_CHECKING:
    from wfc.api import Why


def why_text(why: Why) -> str:
    """One line per step (cached or will run, compared with which run), then its reasons; each
    line ends with a newline."""
    lines = []
    for e in why.steps:
        against = f" (compared with run {e.compared_with})" if e.compared_with else ""
        lines.append(f"{e.step}: {e.status}{against}")
        lines += [f"  - {reason}" for reason in e.reasons]
    return "".join(line + "\n" for line in lines)


def show_text(d: dict[str, Any]) -> str:
    """The ``wfc show`` document of a step run as aligned ``label value`` lines."""
    pr = d["pipeline_run"]
    lines = [
        f"run          {d['id']}  {d['status']}"
        + (f" (from {d['cache_source_id']})" if d["cache_source_id"] else ""),
        f"step         {d['step']}",
        f"pipeline run {pr['id']} ({pr['pipeline']}, {pr['status']}), document {pr['document_hash']}",
        f"method       {d['module']}/{d['method']}",
        f"code         {d['code_hash']}",
        f"contract     {d['contract_hash']}",
        f"params       {json.dumps(d['params'], sort_keys=True)}",
        f"environment  {d['env_name']} {d['env_digest']}",
        f"key          {d['key']}",
        f"started      {d['started_at']} UTC on {d['host']}",
        f"ended        {d['ended_at'] or '-'}"
        + (f" ({d['seconds']:.2f}s)" if d["seconds"] is not None else ""),
        f"git commit   {pr['git_commit'] or '-'}   wfc {pr['wfc_version']}",
    ]
    if d["members"]:
        lines.append(f"members      {', '.join(d['members'])}")
    for label, value in (("reason", d["reason"]), ("error", d["error"]), ("exit code", d["exit_code"])):
        if value is not None:
            lines.append(f"{label:<12} {value}")
    if d["cancel_cause_id"]:
        lines.append(f"cancelled by {d['cancel_cause_id']}")
    lines.append("inputs")
    for i in d["inputs"]:
        src = i["source"]
        origin = (
            f"sample {src['sample']}@{src['version']}"
            if "sample" in src
            else f"run {src['run']} ({src['node']}) slot {src['slot']}"
        )
        lines.append(f"  {i['slot']}[{i['position']}]  {origin}  {i['hash']}")
    lines.append("outputs")
    for o in d["outputs"]:
        lines.append(f"  {o['slot']}  {o['path']}  {o['kind']} {plural(o['size'], 'byte')}  {o['hash']}")
    if d["metrics"]:
        lines.append(f"metrics      {json.dumps(d['metrics'], sort_keys=True)}")
    if d["resources"]:
        lines.append(f"used         {resources_text(d['resources'])}")
    if d["code_tree"]:
        env = f", environment tree {d['env_tree']}" if d["env_tree"] else ""
        lines.append(f"kept         code tree {d['code_tree']}{env}")
    if d["reproductions"]:  # the newest says whether the result was last confirmed
        last = d["reproductions"][0]
        when = f"{last['id']} at {last['at']} UTC"
        if last["identical"]:
            lines.append(f"confirmed    by {when} (identical)")
        else:
            lines.append(f"reproduced   by {when}: NOT identical: {last['error']}")
    for stream, where in d["logs"].items():
        lines.append(f"{stream:<12} {where['file'] or '-'}  (object {where['object'] or '-'})")
    return "\n".join(lines)


def failure_text(step: str, error: str, stderr_tail: tuple[str, ...], run_id: str) -> str:
    """A failed step: its error, the end of its standard error, and the command that shows it all."""
    lines = [f"error: step {step} failed: {error}"]
    if stderr_tail:
        lines.append("  the end of its stderr:")
        lines += [f"  | {line}" for line in stderr_tail]
    lines.append(f"hint: see all of it with `wfc logs {run_id} --stderr`")
    return "\n".join(lines)
