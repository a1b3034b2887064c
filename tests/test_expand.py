"""Expansion of a pipeline document into concrete steps, and pipeline variables (pure logic)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from wfc.compile.expand import Expansion
from wfc.compile.variables import resolve_variables, substitute
from wfc.errors import UsageError
from wfc.model.pipeline import Pipeline


def _doc(nodes: list[dict[str, Any]], links: list[dict[str, Any]], **extra: Any) -> Pipeline:
    return Pipeline.model_validate({"version": 1, "name": "t", "nodes": nodes, "links": links, **extra})


def _names(p: Pipeline) -> list[str]:
    return [s.name for s in Expansion(p).steps()]


DIAMOND = _doc(
    [
        {"id": "in", "samples": ["b", "a"]},
        {"id": "top", "method": "m/x"},
        {"id": "left", "method": "m/x"},
        {"id": "right", "method": "m/x"},
        {"id": "join", "method": "m/x"},
    ],
    [
        {"from": "in", "to": "top"},
        {"from": "top", "to": "left"},
        {"from": "top", "to": "right"},
        {"from": "left", "to": "join.a"},
        {"from": "right", "to": "join.b"},
    ],
)


def test_diamond_runs_every_node_per_sample_in_dependency_order() -> None:
    assert _names(DIAMOND) == [
        "top[a]",
        "top[b]",
        "left[a]",
        "left[b]",
        "right[a]",
        "right[b]",
        "join[a]",
        "join[b]",
    ]


def test_gather_and_mode_all_make_one_step() -> None:
    p = _doc(
        [
            {"id": "in", "samples": ["s1", "s2", "s3"]},
            {"id": "ref", "samples": ["genome"], "mode": "all"},
            {"id": "align", "method": "m/x"},
            {"id": "merge", "method": "m/x"},
        ],
        [
            {"from": "in", "to": "align.reads"},
            {"from": "ref", "to": "align.ref"},
            {"from": "align", "to": "merge", "gather": True},
        ],
    )
    assert _names(p) == ["align[s1]", "align[s2]", "align[s3]", "merge"]


def test_sweep_runs_downstream_once_per_point_and_upstream_once() -> None:
    p = _doc(
        [
            {"id": "in", "samples": ["s1", "s2"]},
            {"id": "prep", "method": "m/x"},
            {"id": "fit", "method": "m/x", "sweep": {"k": [2, 5]}},
            {"id": "report", "method": "m/x"},
        ],
        [{"from": "in", "to": "prep"}, {"from": "prep", "to": "fit"}, {"from": "fit", "to": "report"}],
    )
    assert _names(p) == [
        "prep[s1]",
        "prep[s2]",
        "fit[s1|k=2]",
        "fit[s1|k=5]",
        "fit[s2|k=2]",
        "fit[s2|k=5]",
        "report[s1|k=2]",
        "report[s1|k=5]",
        "report[s2|k=2]",
        "report[s2|k=5]",
    ]


def test_two_swept_upstreams_give_their_cross_product_and_siblings_stay_single() -> None:
    p = _doc(
        [
            {"id": "a", "method": "m/x", "sweep": {"k": [1, 2]}},
            {"id": "b", "method": "m/x", "variants": {"fast": {}, "slow": {}}},
            {"id": "c", "method": "m/x"},
            {"id": "other", "method": "m/x"},
        ],
        [{"from": "a", "to": "c.x"}, {"from": "b", "to": "c.y"}],
    )
    assert _names(p) == [
        "a[|k=1]",
        "a[|k=2]",
        "b[|fast]",
        "b[|slow]",
        "c[|k=1,fast]",
        "c[|k=1,slow]",
        "c[|k=2,fast]",
        "c[|k=2,slow]",
        "other",
    ]


def test_variants_times_sweep_points_and_qualified_labels_on_collision() -> None:
    p = _doc(
        [
            {"id": "a", "method": "m/x", "variants": {"v1": {"x": 1}}, "sweep": {"k": [1, "z"], "j": [True]}},
            {"id": "b", "method": "m/x", "variants": {"v1": {}}},
            {"id": "c", "method": "m/x"},
        ],
        [{"from": "a", "to": "c.x"}, {"from": "b", "to": "c.y"}],
    )
    assert p.nodes[0].choices() == [
        ("v1,j=true,k=1", {"x": 1, "j": True, "k": 1}),  # type: ignore[union-attr]
        ("v1,j=true,k=z", {"x": 1, "j": True, "k": "z"}),
    ]
    exp = Expansion(p)
    assert [v.label for v in exp.variants_of("c")] == ["v1,j=true,k=1,v1", "v1,j=true,k=z,v1"]
    q = _doc(
        [
            {"id": "a", "method": "m/x", "variants": {"v": {}, "w": {}}},
            {"id": "b", "method": "m/x", "variants": {"v": {}, "w": {}}},
            {"id": "c", "method": "m/x"},
        ],
        [{"from": "a", "to": "c.x"}, {"from": "b", "to": "c.y"}],
    )
    labels = [v.label for v in Expansion(q).variants_of("c")]
    assert labels == ["a:v,b:v", "a:v,b:w", "a:w,b:v", "a:w,b:w"]


def test_restrict_keeps_only_the_upstream_choices() -> None:
    p = _doc(
        [
            {"id": "a", "method": "m/x", "sweep": {"k": [1, 2]}},
            {"id": "c", "method": "m/x", "variants": {"fast": {}}},
        ],
        [{"from": "a", "to": "c"}],
    )
    exp = Expansion(p)
    ctx = exp.find("c", "k=2,fast")
    assert exp.restrict(ctx, "a").label == "k=2"


def test_find_errors() -> None:
    p = _doc([{"id": "a", "method": "m/x", "sweep": {"k": [1, 2]}}], [])
    with pytest.raises(UsageError, match="node 'a' runs in variants: say which with --variant") as exc:
        Expansion(p).find("a", None)
    assert exc.value.hint == "variants: k=1, k=2"
    with pytest.raises(UsageError, match=re.escape("node 'a' has no variant 'k=3' (did you mean 'k=2'?)")):
        Expansion(p).find("a", "k=3")


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (
            {"variants": {"a,b": {}}},
            "variant name 'a,b' must be non-empty, free of , | = : [ ] and not start with '-'",
        ),
        ({"sweep": {"k": []}}, "sweep.k must list at least one value"),
    ],
)
def test_bad_axes_are_model_errors(node: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace("|", r"\|")):
        _doc([{"id": "a", "method": "m/x", **node}], [])


VARS = _doc(
    [{"id": "a", "method": "m/x", "params": {"t": {"$var": "threshold"}, "n": {"$var": "name"}}}],
    [],
    variables={
        "threshold": {"type": "float", "default": 0.5},
        "name": {"type": "str"},
        "flags": {"type": "list"},
    },
)


def test_variables_precedence_default_env_cli() -> None:
    assert resolve_variables(VARS, {}, {}) == {"threshold": 0.5}
    assert resolve_variables(VARS, {"WFC_VAR_THRESHOLD": "0.7"}, {}) == {"threshold": 0.7}
    assert resolve_variables(VARS, {"WFC_VAR_THRESHOLD": "0.7"}, {"threshold": "0.9"}) == {"threshold": 0.9}
    assert resolve_variables(VARS, {"WFC_VAR_FLAGS": '["a"]'}, {})["flags"] == ["a"]


def test_variable_errors() -> None:
    with pytest.raises(
        UsageError, match="--var treshold: unknown variable \\(did you mean 'threshold'\\?\\)"
    ):
        resolve_variables(VARS, {}, {"treshold": "1"})
    with pytest.raises(
        UsageError, match="WFC_VAR_THRESHOLD: 'high' is not a valid float for variable 'threshold'"
    ):
        resolve_variables(VARS, {"WFC_VAR_THRESHOLD": "high"}, {})
    params = VARS.nodes[0].params  # type: ignore[union-attr]
    with pytest.raises(UsageError, match=re.escape("nodes[a].params.n: variable 'name' has no value")) as exc:
        substitute(params, {"threshold": 0.5}, VARS, "nodes[a].params")
    assert exc.value.hint == "set WFC_VAR_NAME or pass --var name=VALUE"
    assert substitute(params, {"threshold": 0.5, "name": "x"}, VARS, "p") == {"t": 0.5, "n": "x"}
    with pytest.raises(UsageError, match=re.escape("p.z: unknown variable 'nope'")):
        substitute({"z": {"$var": "nope"}}, {}, VARS, "p")
