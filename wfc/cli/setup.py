"""Commands that set a project up: ``init``, ``env build|list|show|shell`` (environments) and
``method new``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wfc.cli.app import app
from wfc.cli.boundary import emit_json, guard, say
from wfc.cli.options import JsonOpt, ProjectOpt, VarOpt, VerboseOpt, load_project, variables
from wfc.output import table

if TYPE_CHECKING:
    from wfc.model.environment import EnvLock

env_app = typer.Typer(help="Build and inspect environments (Docker images).", no_args_is_help=True)
method_app = typer.Typer(help="Create methods.", no_args_is_help=True)
app.add_typer(env_app, name="env")
app.add_typer(method_app, name="method")


@app.command("init")
@guard
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    no_git: Annotated[bool, typer.Option("--no-git", help="Do not run `git init`.")] = False,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Create a project: wfc.toml, methods/, environments/, pipelines/, a .gitignore (.wfc/,
    __pycache__/, .venv/) and a git repository (unless already inside one, or --no-git).

    Example: wfc init my-project
    """
    from wfc.scaffold import GitInit, init_project

    done = init_project(directory, git=not no_git)
    root = directory.resolve()
    if json_out:
        emit_json({"schema": "wfc.init/1", "project": str(root), "created": done.created, "git": done.git})
        return
    if done.created:
        say(f"initialised wfc project in {root}: created " + ", ".join(done.created))
    else:
        say(f"{root} is already a wfc project: nothing changed")
    if done.git is GitInit.UNAVAILABLE:
        say("git is not on PATH: no git repository was created (runs record their commit when there is one)")


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
        emit_json(_lock_document("wfc.env-show/1", lock))
    else:
        for key, value in lock.model_dump(mode="json", by_alias=True).items():
            print(f"{key:16} {value}")


@env_app.command("save")
@guard
def env_save(
    name: str, project: ProjectOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False
) -> None:
    """Keep the built image of an environment in the store (a docker save archive), so that
    `wfc reproduce` can load it back years later without a registry or a rebuild.

    Example: wfc env save python
    """
    from wfc.ops.images import save_environment
    from wfc.output import size_text

    saved = save_environment(load_project(project), name)
    if json_out:
        emit_json(saved)
    elif saved.already:
        say(f"environment '{name}' ({saved.image_id}) was already saved: object {saved.object}")
    else:
        say(f"saved environment '{name}' ({saved.image_id}): {size_text(saved.size)}, object {saved.object}")


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
        emit_json(_lock_document("wfc.env-build/1", lock))
    else:
        say(f"built environment '{name}': {lock.image_id} (base {lock.base_image})")
        if lock.wfc_tag:
            say(f"built {lock.wfc_tag}: {lock.wfc_image_id} (the environment with wfc inside)")


@env_app.command("shell")
@guard
def env_shell(
    name: Annotated[str, typer.Argument(help="The environment.")],
    command: Annotated[
        list[str] | None, typer.Argument(help="Run this instead of a shell (after --).", show_default=False)
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="Open this method (MODULE/NAME); --sample feeds its input.")
    ] = None,
    pipeline: Annotated[Path | None, typer.Option(help="Open a step of this pipeline (with --node).")] = None,
    node: Annotated[str | None, typer.Option(help="The node of the step (with --pipeline).")] = None,
    sample: Annotated[str | None, typer.Option(help="The sample of the step, or fed to --method.")] = None,
    variant: Annotated[str | None, typer.Option(help="The variant of the step.")] = None,
    var: VarOpt = None,
    project: ProjectOpt = None,
    verbose: VerboseOpt = False,
) -> int:
    """Open a shell in an environment's image, in the container run-step would run a method in:
    same user, mounts (inputs read-only, a writable run directory) and WFC_* variables. With
    -- COMMAND, or without a terminal, run that (or stdin) instead and exit with its code.

    Example: wfc env shell python --method tables/clean --sample north -- ls -R /wfc/inputs
    """
    import sys

    from wfc.envshell import ShellRequest, open_shell, prepare_shell

    proj = load_project(project)
    request = ShellRequest(
        env=name,
        method=method,
        pipeline=pipeline,
        node=node,
        sample=sample,
        variant=variant,
        variables=variables(var),
        command=tuple(command or ()),
    )
    shell = prepare_shell(proj, request)
    what = shell.step or f"environment '{name}'"
    say(f"{what}: WFC_RUN_DIR is {proj.relative(shell.out_dir)} (kept); staged inputs go when it exits")
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    code = open_shell(shell, tty=tty, echo=say if verbose else None)
    if not command or code != 0:
        say(f"{what}: the container exited with {code}; its outputs are in {proj.relative(shell.out_dir)}")
    return code


@method_app.command("new")
@guard
def method_new(
    ref: Annotated[str, typer.Argument(metavar="MODULE/NAME", help="The method to create.")],
    lang: Annotated[str, typer.Option(help="Language: python, shell or r.")] = "python",
    env: Annotated[
        str | None, typer.Option(help="Environment (default: python, shell or r after --lang).")
    ] = None,
    project: ProjectOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Create methods/MODULE/NAME (method.yaml, code, README), a try pipeline for it and, when
    missing, its environment's Dockerfile. It runs as generated; its README says how.

    Example: wfc method new text/shout --lang shell
    """
    from dataclasses import asdict

    from wfc.scaffold import new_method

    made = new_method(load_project(project), ref, lang, env)
    if json_out:
        emit_json({"schema": "wfc.method-new/1", **asdict(made)})
        return
    say(f"created method {made.ref}: " + ", ".join(made.files))
    if made.env_created:
        say(f"environment '{made.env}' is new: build it with `wfc env build {made.env}`")
    say(f"to try it, follow {made.directory}/README.md")


def _lock_document(schema: str, lock: EnvLock) -> dict[str, object]:
    """A lock as a ``--json`` document: the lock file's own ``schema`` becomes ``lock_schema``."""
    fields = lock.model_dump(mode="json", by_alias=True)
    return {"schema": schema, "lock_schema": fields.pop("schema", None), **fields}
