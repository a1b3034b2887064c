"""``wfc method new MODULE/NAME --lang python|shell|r [--env ENV]``: a method that runs as generated.

It writes ``methods/MODULE/NAME/`` (``method.yaml``, the code, a README saying how to try it), a
one-step pipeline ``pipelines/try-MODULE-NAME.json`` that feeds it a sample, and, when the
environment has no Dockerfile yet, ``environments/ENV/Dockerfile`` for the language. It never
overwrites: an existing method is refused, an existing try pipeline or Dockerfile is kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from wfc.errors import UsageError
from wfc.project import Project
from wfc.scaffold import templates

LANGS = ("python", "shell", "r")
DEFAULT_ENV = {"python": "python", "shell": "shell", "r": "r"}
SAMPLE = "example"  # the sample the try pipeline reads
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class NewMethod:
    """What ``wfc method new`` wrote (project-relative paths)."""

    ref: str
    directory: str
    files: list[str]  # everything written, the method's files first
    env: str
    env_created: bool  # environments/ENV/Dockerfile was written
    pipeline: str  # the try pipeline (written, or kept when it existed)


def new_method(project: Project, ref: str, lang: str, env: str | None = None) -> NewMethod:
    """Write a new method ``ref`` in ``lang``, its try pipeline and, if missing, its environment.

    Raises:
        UsageError: A malformed ``MODULE/NAME`` or environment name, an unknown language, or a
            method that already exists.
    """
    module, name = _split(ref)
    if lang not in LANGS:
        raise UsageError(f"unknown language '{lang}'", "choose one of: " + ", ".join(LANGS))
    env = env or DEFAULT_ENV[lang]
    if not _PART.match(env):
        raise UsageError(
            f"invalid environment name '{env}'",
            "use letters, digits, '_', '.' and '-', starting with a letter or digit",
        )
    directory = project.methods_dir / module / name
    _refuse_existing(project, ref, directory)
    node = re.sub(r"[^\w-]", "_", name)
    pipeline = project.root / "pipelines" / f"try-{module}-{name}.json"
    document = _try_pipeline(ref, node)
    fields = {
        "ref": ref,
        "lang": lang,
        "env": env,
        "node": node,
        "sample": SAMPLE,
        "code": templates.CODE_FILE[lang],
        "pipeline": project.relative(pipeline),
        "document": document.rstrip("\n"),
        "run": templates.RUN[lang],
    }
    files = {
        directory / "method.yaml": templates.METHOD_YAML.format(**fields),
        directory / templates.CODE_FILE[lang]: templates.CODE[lang].format(**fields),
        directory / "README.md": templates.README.format(**fields),
    }
    dockerfile = project.environments_dir / env / "Dockerfile"
    env_created = not dockerfile.is_file()
    if env_created:
        files[dockerfile] = templates.DOCKERFILE[lang]
    if not pipeline.exists():
        files[pipeline] = document
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if path.suffix == ".sh":
            path.chmod(0o755)
    return NewMethod(
        ref=ref,
        directory=project.relative(directory),
        files=[project.relative(p) for p in files],
        env=env,
        env_created=env_created,
        pipeline=project.relative(pipeline),
    )


def _split(ref: str) -> tuple[str, str]:
    parts = ref.split("/")
    if len(parts) != 2 or not all(_PART.match(p) for p in parts):
        raise UsageError(
            f"invalid method name '{ref}': expected MODULE/NAME, e.g. text/count_lines",
            "use letters, digits, '_', '.' and '-' in each part, starting with a letter or digit",
        )
    return parts[0], parts[1]


def _refuse_existing(project: Project, ref: str, directory: Path) -> None:
    if (directory / "method.yaml").exists():
        raise UsageError(
            f"method '{ref}' already exists: {project.relative(directory / 'method.yaml')}",
            "pick another name, or edit the existing method",
        )
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(
            f"{project.relative(directory)}/ already exists and is not empty",
            "pick another name, or move that directory away: `wfc method new` never overwrites",
        )


def _try_pipeline(ref: str, node: str) -> str:
    source = "samples" if node != "samples" else "input"
    doc = {
        "version": 1,
        "name": f"try-{ref.replace('/', '-')}",
        "nodes": [{"id": source, "samples": [SAMPLE]}, {"id": node, "method": ref}],
        "links": [{"from": source, "to": f"{node}.text"}],
    }
    return json.dumps(doc, indent=2) + "\n"
