"""Everyday CLI polish (issue 11, part B): quiet broken pipes, one hint style, plurals, the
`inspect` header, strict run references."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import Proj, probe_pipeline


def _into_closed_pipe(proj: Proj, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``wfc ARGS`` with stdout a pipe whose reader has already gone (``| head`` has exited)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "wfc", *args],
            cwd=proj.root,
            env=proj.env(),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("args", [("schema", "pipeline"), ("runs", "--json"), ("sample", "list", "--json")])
def test_a_reader_that_goes_away_ends_wfc_quietly(project: Proj, args: tuple[str, ...]) -> None:
    proc = _into_closed_pipe(project, *args)
    assert proc.stderr == ""  # no "internal error: BrokenPipeError", no "Exception ignored"
    assert proc.returncode == 141  # 128 + SIGPIPE, as `git log | head -1` reports


def test_plural_says_one_thing_in_the_singular() -> None:
    from wfc.output import plural

    assert [plural(1, "core"), plural(2, "core"), plural(0, "step run")] == [
        "1 core",
        "2 cores",
        "0 step runs",
    ]
    assert (
        plural(1, "analysis", "analyses") == "1 analysis"
        and plural(3, "analysis", "analyses") == "3 analyses"
    )


def test_counts_of_one_are_singular_in_cli_messages(project: Proj) -> None:
    (project.root / "one.txt").write_text("x")
    added = project.wfc("sample", "add", "one", "one.txt", check=True)
    assert added.stderr.startswith("added sample one@1 (file, 1 byte, blake3:")
    verify = project.wfc("cache", "verify", check=True)
    assert verify.stderr.splitlines()[-1] == "verified 1 object (1 byte): all good"


def test_a_plan_of_one_step_says_step(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline(samples=["s1"]))
    plan = fake_env.wfc("plan", "pipeline.json", check=True)
    assert plan.stderr.splitlines()[-1] == "1 step: 0 cached, 1 will run"


def test_inspect_table_has_a_header_for_every_column(fake_env: Proj) -> None:
    fake_env.write_pipeline(probe_pipeline(samples=["s1"]))
    out = fake_env.wfc("inspect", "pipeline.json", check=True, env={"WFC_STORE_LINK": "copy"}).stdout
    header, *rows = out.splitlines()
    assert header.split() == ["variable", "need", "value", "default", "state"]
    store_link = next(r for r in rows if r.startswith("WFC_STORE_LINK"))
    assert store_link.split() == ["WFC_STORE_LINK", "optional", "copy", "auto", "ok"]
    assert [header.index(h) for h in ("need", "value")] == [
        store_link.index("optional"),
        store_link.index("copy"),
    ]


HINT = "hint: write last:NODE or last:NODE[SAMPLE] (last:NODE[SAMPLE|VARIANT] for a variant)"


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("last:scale[s1", "unbalanced [ ]"),
        ("last:scale]", "unbalanced [ ]"),
        ("last:scale[s1]x", "not a step name"),
        ("last:[s1]", "not a step name"),
        ("last:", "names no step"),
    ],
)
def test_a_malformed_last_reference_is_an_error(project: Proj, ref: str, problem: str) -> None:
    proc = project.wfc("show", ref)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: bad run reference '{ref}': {problem}", HINT]


def test_env_show_json_keeps_its_own_schema_and_the_lock_schema(fake_env: Proj) -> None:
    doc = json.loads(fake_env.wfc("env", "show", "python", "--json", check=True).stdout)
    assert (doc["schema"], doc["lock_schema"], doc["name"]) == ("wfc.env-show/1", 1, "python")
