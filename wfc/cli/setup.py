"""Commands that set a project up: ``env build|list|show`` (environments) and ``sample add|list``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wfc.cli.app import app
from wfc.cli.boundary import emit_json, guard, say
from wfc.cli.options import JsonOpt, ProjectOpt, VerboseOpt, load_project
from wfc.output import plural, table

env_app = typer.Typer(help="Build and inspect environments (Docker images).", no_args_is_help=True)
sample_app = typer.Typer(help="Register and list samples.", no_args_is_help=True)
app.add_typer(env_app, name="env")
app.add_typer(sample_app, name="sample")


@env_app.command("list")
@guard
def env_list(project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """List environments and whether each is built.

    Example: wfc env list
    """
    from wfc.environments.build import list_environments, read_lock
    from wfc.errors import UsageError

    proj = load_project(project)
    rows = []
    for name in list_environments(proj):
        try:
            lock = read_lock(proj, name)
            rows.append({"name": name, "built": True, "image_id": lock.image_id, "built_at": lock.built_at})
        except UsageError:
            rows.append({"name": name, "built": False, "image_id": None, "built_at": None})
    if json_out:
        emit_json({"schema": "wfc.env-list/1", "environments": rows})
    else:
        print(
            table(
                [[str(r["name"]), str(r["image_id"] or "not built"), str(r["built_at"] or "")] for r in rows],
                ["environment", "image", "built"],
            )
        )


@env_app.command("show")
@guard
def env_show(
    name: str, project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False
) -> None:
    """Show an environment's lock: image digest, base image, build args, build time.

    Example: wfc env show python
    """
    from wfc.environments.build import read_lock

    lock = read_lock(load_project(project), name)
    if json_out:
        emit_json({"schema": "wfc.env-show/1", **lock.model_dump(mode="json", by_alias=True)})
    else:
        for key, value in lock.model_dump(mode="json", by_alias=True).items():
            print(f"{key:16} {value}")


@env_app.command("build")
@guard
def env_build(
    name: str,
    base_image: Annotated[
        str | None, typer.Option(help="Base image (overrides WFC_BASE_IMAGE and files).")
    ] = None,
    ca_bundle: Annotated[
        str | None, typer.Option(help="Extra CA bundle (PEM) trusted during the build.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not stream the build output.")] = False,
    with_wfc: Annotated[
        bool,
        typer.Option("--with-wfc", help="Also build the image with wfc inside (for Argo / process runtime)."),
    ] = False,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Build environments/NAME/Dockerfile and record the image digest in env.lock.json.

    Example: wfc env build python --ca-bundle /etc/ssl/certs/ca-certificates.crt
    """
    from wfc.environments.build import build_environment

    lock = build_environment(
        load_project(project),
        name,
        base_image=base_image,
        ca_bundle=ca_bundle,
        echo=not (quiet or json_out),
        with_wfc=with_wfc,
    )
    if json_out:
        emit_json({"schema": "wfc.env-build/1", **lock.model_dump(mode="json", by_alias=True)})
    else:
        say(f"built environment '{name}': {lock.image_id} (base {lock.base_image})")
        if lock.wfc_tag:
            say(f"built {lock.wfc_tag}: {lock.wfc_image_id} (the environment with wfc inside)")


@sample_app.command("add")
@guard
def sample_add(
    name: str,
    path: Path,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Register a file or directory as a sample version (content stored by hash).

    Example: wfc sample add north examples/data/north.csv
    """
    from wfc.samples import add_sample

    sample, created = add_sample(load_project(project), name, path)
    doc = {
        "name": sample.name,
        "version": sample.version,
        "hash": sample.content_hash,
        "size": sample.size,
        "kind": sample.kind,
        "created": created,
    }
    if json_out:
        emit_json({"schema": "wfc.sample-add/1", **doc})
    elif created:
        what = f"{sample.kind}, {plural(sample.size, 'byte')}, {sample.content_hash}"
        say(f"added sample {sample.name}@{sample.version} ({what})")
    else:
        say(f"sample {sample.name}@{sample.version} already has this content: nothing changed")


@sample_app.command("list")
@guard
def sample_list(project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """List every registered sample version.

    Example: wfc sample list --json
    """
    from wfc.samples import list_samples

    rows = list_samples(load_project(project))
    docs = [
        {
            "name": r.name,
            "version": r.version,
            "hash": r.content_hash,
            "kind": r.kind,
            "size": r.size,
            "source": r.source_path,
            "registered_at": r.registered_at.isoformat(),
        }
        for r in rows
    ]
    if json_out:
        emit_json({"schema": "wfc.sample-list/1", "samples": docs})
    else:
        print(
            table(
                [
                    [
                        str(d["name"]),
                        str(d["version"]),
                        str(d["kind"]),
                        str(d["size"]),
                        str(d["hash"]),
                        str(d["source"]),
                    ]
                    for d in docs
                ],
                ["sample", "version", "kind", "bytes", "hash", "source"],
            )
        )
