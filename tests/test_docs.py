"""The docs are followed verbatim: every ``console`` block of every page runs, command by command,
in a fresh copy of the example project, and every ``wfc`` command the docs mention is among them.

A command line starts with ``$ ``; a trailing ``\\`` continues it; lines without ``$ `` are sample
output (not compared: ids and times differ). A command expected to fail ends with ``# exits N``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, Proj, add_examples
from tests.seaweed_server import SeaweedServer

DOCS = sorted((REPO / "docs").glob("*.md"))
GATEWAY_PORT = 9091  # the docs use http://localhost:9091
NOT_RUN_BY_DOCS = {"env build": "rebuilding images is slow: tests/test_environments.py builds them"}
_EXIT = re.compile(r"\s+# exits (\d+)$")


def commands(page: Path) -> list[tuple[str, int]]:
    """The ``$`` commands of a page's console blocks with their expected exit codes."""
    found: list[tuple[str, int]] = []
    in_console = False
    pending = ""
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_console = line.strip() == "```console"
            continue
        if not in_console:
            continue
        if pending:
            pending += "\n" + line
        elif line.startswith("$ "):
            pending = line[2:]
        if pending and not pending.endswith("\\"):
            match = _EXIT.search(pending)
            found.append((_EXIT.sub("", pending), int(match[1]) if match else 0))
            pending = ""
    return found


_COMMAND = re.compile(r"(?:^|\$ |[A-Z_]+=\S+ )wfc ((?:cache|env|sample|metrics) [a-z]+|[a-z][a-z-]+)")


def mentioned(page: Path) -> set[str]:
    """The wfc commands a page shows in code: inline spans and code-block lines."""
    text = page.read_text()
    snippets = re.findall(r"`([^`\n]+)`", text)
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        snippets += block.splitlines()
    groups = {"cache", "env", "sample", "metrics"}  # a group named alone is not a command
    return {m for snippet in snippets for m in _COMMAND.findall(snippet.strip())} - groups


def test_every_wfc_command_mentioned_in_the_docs_is_run_by_them() -> None:
    shown = set().union(*(mentioned(p) for p in [*DOCS, REPO / "README.md"]))
    run = {m for page in DOCS for command, _ in commands(page) for m in _COMMAND.findall(command)}
    assert shown - run - set(NOT_RUN_BY_DOCS) == set()
    assert {"runs", "show", "logs", "lineage", "why", "export", "cache verify", "cache gc", "doctor"} <= run


@pytest.fixture(scope="module")
def gateway() -> Iterator[None]:
    """A Pushgateway where the docs expect one, for the metrics commands."""
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", GATEWAY_PORT)) != 0, "port 9091 is taken: the docs need it"
    binary = shutil.which("prometheus-pushgateway")
    assert binary
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{GATEWAY_PORT}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.docker
@pytest.mark.parametrize("page", [p for p in DOCS if commands(p)], ids=lambda p: p.name)
def test_docs_page_runs_verbatim(
    page: Path, project: Proj, built_envs: Path, gateway: None, seaweed: SeaweedServer
) -> None:
    shutil.copytree(built_envs, project.root / "environments", dirs_exist_ok=True)
    add_examples(project)
    # the team's S3 endpoint and credentials, as a reader has them set (scale-out.md)
    env = {k: v for k, v in project.env(seaweed.env()).items() if k != "WFC_PROJECT"}
    for command, expected in commands(page):
        proc = subprocess.run(
            ["bash", "-c", "set -o pipefail\n" + command],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == expected, f"{page.name}: $ {command}\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("section", ["argo", "dvc", "snakemake"])
def test_values_references_are_generated_from_the_models(section: str) -> None:
    from wfc.compile.values import reference_markdown

    page = REPO / "docs" / {"argo": "argo.md", "dvc": "dvc.md", "snakemake": "pipelines.md"}[section]
    text = page.read_text()
    start, end = f"<!-- values-reference:{section} -->\n", "<!-- /values-reference -->"
    fresh = reference_markdown(section)
    if os.environ.get("WFC_UPDATE_GOLDEN"):
        head, rest = text.split(start)
        page.write_text(head + start + fresh + end + rest.split(end, 1)[1])
        text = page.read_text()
    assert text.split(start)[1].split(end)[0] == fresh
