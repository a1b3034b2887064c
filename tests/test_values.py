"""Values files: deep merge in order, null resets, and one-line errors naming file and key path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import Proj
from tests.test_generate import gen_project
from wfc.compile.values import load_values, values_reference
from wfc.errors import UsageError
from wfc.model.values import ArgoValues

__all__ = ["gen_project"]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_maps_merge_lists_and_scalars_replace_null_resets(tmp_path: Path) -> None:
    base = write(
        tmp_path, "base.yaml",
        "argo:\n  labels: {team: a, tier: gold}\n  tolerations: [{key: x}]\n  parallelism: 4\n"
        "  retryStrategy: {limit: 5}\n  namespace: prod\n",
    )  # fmt: skip
    over = write(
        tmp_path, "over.yaml",
        "argo:\n  labels: {tier: silver}\n  tolerations: [{key: y}, {key: z}]\n  parallelism: 2\n"
        "  retryStrategy: null\n  namespace: null\n",
    )  # fmt: skip
    merged = load_values([base, over]).argo
    assert merged.labels == {"team": "a", "tier": "silver"}
    assert merged.tolerations == [{"key": "y"}, {"key": "z"}]
    assert merged.parallelism == 2
    assert merged.retryStrategy == ArgoValues().retryStrategy  # null: back to the default
    assert merged.namespace is None
    assert load_values([over, base]).argo.parallelism == 4  # order matters: later wins


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            "argo:\n  nodeSelecter: {a: b}\n",
            "{f}: unknown key 'argo.nodeSelecter' (did you mean 'argo.nodeSelector'?)",
            "keys of argo: name, namespace,",
        ),
        (
            "argo:\n  cron:\n    schedule: ['* * * * *']\n",
            "{f}: unknown key 'argo.cron.schedule' (did you mean 'argo.cron.schedules'?)",
            "keys of argo.cron: schedules,",
        ),
        (
            "argo:\n  nodes:\n    clean: {resource: {}}\n",
            "{f}: unknown key 'argo.nodes.clean.resource' (did you mean 'argo.nodes.clean.resources'?)",
            "keys of argo.nodes.clean:",
        ),
        ("argoo: {}\n", "{f}: unknown key 'argoo' (did you mean 'argo'?)", "keys of the top level:"),
        (
            "argo:\n  parallelism: many\n",
            "{f}: argo.parallelism: Input should be a valid integer",
            "see the values",
        ),
        ("- argo\n", "{f}: the top level must be a mapping of sections, not a list", "write sections"),
        ("argo: [unclosed\n", "{f}: invalid YAML at line 2", "fix the YAML syntax"),
    ],
)
def test_values_errors_name_file_and_key(tmp_path: Path, text: str, message: str, hint: str) -> None:
    path = write(tmp_path, "values.yaml", text)
    with pytest.raises(UsageError) as err:
        load_values([path])
    assert err.value.message.startswith(message.format(f=path))
    assert err.value.hint.startswith(hint)


def test_a_type_error_names_the_file_that_set_the_value(tmp_path: Path) -> None:
    good = write(tmp_path, "a.yaml", "argo:\n  parallelism: 3\n")
    bad = write(tmp_path, "b.yaml", "argo:\n  cron: {suspend: sometimes}\n")
    with pytest.raises(UsageError, match=f"^{bad}: argo.cron.suspend: Input should be a valid boolean"):
        load_values([good, bad])


def test_cli_values_errors_and_show_values(gen_project: Proj) -> None:
    missing = gen_project.wfc(
        "compile", "examples/pipelines/quickstart.json", "-b", "argo", "-f", "nope.yaml"
    )
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        "error: nope.yaml: cannot read values file: No such file or directory",
        "hint: check the -f path",
    ]
    (gen_project.root / "v.yaml").write_text("argo:\n  nodes:\n    clen: {activeDeadlineSeconds: 60}\n")
    unknown_node = gen_project.wfc(
        "compile", "examples/pipelines/quickstart.json", "-b", "argo", "-f", "v.yaml"
    )
    assert unknown_node.returncode == 2
    assert unknown_node.stderr.splitlines() == [
        "error: values: argo.nodes.clen: no method node 'clen' (did you mean 'clean'?)",
        "hint: method nodes: clean, report, summarise",
    ]
    backend = gen_project.wfc("compile", "examples/pipelines/quickstart.json", "-b", "argoo")
    assert backend.stderr.splitlines() == [
        "error: unknown backend 'argoo' (did you mean 'argo'?)",
        "hint: backends: argo, dvc, snakemake",
    ]
    (gen_project.root / "w.yaml").write_text("argo:\n  parallelism: 3\n  labels: {team: x}\n")
    shown = gen_project.wfc("compile", "x.json", "--show-values", "-f", "w.yaml", check=True).stdout
    values = yaml.safe_load(shown)
    assert values["argo"]["parallelism"] == 3 and values["argo"]["labels"] == {"team": "x"}
    backoff = {"duration": "10s", "factor": 2, "maxDuration": "5m"}
    assert values["argo"]["retryStrategy"] == {"limit": 2, "retryPolicy": "OnError", "backoff": backoff}
    assert values["dvc"] == {"outputs_dir": "wfc-dvc", "params_file": "params.yaml"}


def test_values_reference_lists_every_key_with_type_default_and_meaning() -> None:
    rows = {r[0]: r for r in values_reference(ArgoValues, "argo")}
    assert rows["argo.parallelism"][1:] == ("int | null", "null", "tasks running at once")
    assert rows["argo.cron.concurrencyPolicy"][2] == "Forbid"
    assert "argo.nodes.NAME.resources" in rows and "argo.retryStrategy.backoff.factor" in rows
    assert all(r[3] for r in rows.values())  # every key says what it does
