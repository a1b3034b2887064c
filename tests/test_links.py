"""The link and slot checker (wfc.compile.links): every problem, its JSON path and its exact words.

Pure: documents and method specs are built in memory; no project, database or Docker.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from wfc.compile.links import check_links
from wfc.model.method import MethodSpec
from wfc.model.pipeline import Pipeline
from wfc.model.problem import Problem


def _spec(inputs: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None) -> MethodSpec:
    return MethodSpec.model_validate(
        {
            "env": "python",
            "inputs": {"data": {}} if inputs is None else inputs,
            "outputs": {"out": {"file": "out.txt"}} if outputs is None else outputs,
        }
    )


SPECS: dict[str, MethodSpec | None] = {
    "t/one": _spec(),  # data -> out (.txt)
    "t/two": _spec(
        {"data": {}, "ref": {"required": False}},
        {"left": {"file": "left.csv"}, "right": {"file": "right.json"}},
    ),
    "t/many": _spec({"tables": {"multiple": True, "type": "csv"}}),
    "t/json": _spec({"data": {"type": "json"}}),
    "t/none": _spec({}, {}),
}


def _pipeline(nodes: list[dict[str, Any]], links: list[dict[str, Any]]) -> Pipeline:
    return Pipeline.model_validate({"version": 1, "name": "p", "nodes": nodes, "links": links})


def _check(nodes: list[dict[str, Any]], links: list[dict[str, Any]], **kw: Any) -> list[Problem]:
    return check_links(_pipeline(nodes, links), SPECS, **kw)


DATA = {"id": "data", "samples": ["s1", "s2"]}


def test_a_valid_pipeline_has_no_problem() -> None:
    nodes = [
        DATA,
        {"id": "a", "method": "t/one"},
        {"id": "b", "method": "t/two"},
        {"id": "c", "method": "t/many"},
    ]
    links = [
        {"from": "data", "to": "a"},
        {"from": "a", "to": "b.data"},
        {"from": "b.left", "to": "c", "gather": True},
        {"from": "data.data", "to": "c.tables"},  # several into a multiple slot
    ]
    assert _check(nodes, links) == []


def test_link_into_an_input_node() -> None:
    nodes = [DATA, {"id": "more", "samples": ["s1"]}, {"id": "a", "method": "t/one"}]
    assert _check(nodes, [{"from": "data", "to": "a"}, {"from": "a", "to": "more"}]) == [
        Problem("links[1].to", "'more' is an input node: nothing flows into it", "link to a method node")
    ]


def test_unknown_input_slot_with_did_you_mean() -> None:
    nodes = [DATA, {"id": "b", "method": "t/two"}]
    assert _check(nodes, [{"from": "data", "to": "b.dta"}]) == [
        Problem(
            "links[0].to",
            "'b' has no input slot dta (did you mean 'data'?)",
            'write "to": "b.SLOT" with one of: data, ref',
        ),
        Problem(
            "nodes[1]",
            "required input slot 'data' of 'b' is not fed",
            'add a link {"from": "...", "to": "b.data"}',
        ),
    ]


def test_link_without_a_slot_into_a_method_with_several_inputs() -> None:
    nodes = [DATA, {"id": "b", "method": "t/two"}]
    problems = _check(nodes, [{"from": "data", "to": "b"}])
    assert problems[0] == Problem(
        "links[0].to", "'b' has no input slot (none)", 'write "to": "b.SLOT" with one of: data, ref'
    )


def test_link_into_a_method_without_inputs() -> None:
    nodes = [DATA, {"id": "z", "method": "t/none"}]
    assert _check(nodes, [{"from": "data", "to": "z"}]) == [
        Problem("links[0].to", "'z' has no input slot (none)", "t/none takes no inputs: remove the link")
    ]


def test_unknown_output_slot_with_did_you_mean() -> None:
    nodes = [DATA, {"id": "b", "method": "t/two"}, {"id": "a", "method": "t/one"}]
    links = [{"from": "data", "to": "b.data"}, {"from": "b.lefty", "to": "a"}]
    assert _check(nodes, links) == [
        Problem(
            "links[1].from",
            "'b' has no output slot lefty (did you mean 'left'?)",
            'write "from": "b.SLOT" with one of: left, right',
        )
    ]


def test_link_without_a_slot_from_a_method_with_several_outputs() -> None:
    nodes = [DATA, {"id": "b", "method": "t/two"}, {"id": "a", "method": "t/one"}]
    links = [{"from": "data", "to": "b.data"}, {"from": "b", "to": "a"}]
    assert _check(nodes, links) == [
        Problem(
            "links[1].from",
            "'b' has no output slot (none)",
            'write "from": "b.SLOT" with one of: left, right',
        )
    ]


def test_link_from_a_method_without_outputs() -> None:
    nodes = [DATA, {"id": "z", "method": "t/none"}, {"id": "a", "method": "t/one"}]
    assert _check(nodes, [{"from": "z", "to": "a"}]) == [
        Problem("links[0].from", "'z' has no output slot (none)", "t/none makes no outputs: remove the link")
    ]


def test_input_node_slot_other_than_data() -> None:
    nodes = [DATA, {"id": "a", "method": "t/one"}]
    assert _check(nodes, [{"from": "data.table", "to": "a"}]) == [
        Problem(
            "links[0].from", "input node 'data' has one slot, 'data', not 'table'", 'write "from": "data"'
        )
    ]


def test_both_ends_of_one_link_are_reported() -> None:
    nodes = [DATA, {"id": "b", "method": "t/two"}, {"id": "a", "method": "t/one"}]
    links = [{"from": "data", "to": "b.data"}, {"from": "b.lft", "to": "a.dat"}]
    assert [(p.path, p.message) for p in _check(nodes, links)] == [
        ("links[1].to", "'a' has no input slot dat (did you mean 'data'?)"),
        ("links[1].from", "'b' has no output slot lft (did you mean 'left'?)"),
        ("nodes[2]", "required input slot 'data' of 'a' is not fed"),
    ]


def test_type_mismatch_is_a_warning() -> None:
    nodes = [
        DATA,
        {"id": "b", "method": "t/two"},
        {"id": "j", "method": "t/json"},
        {"id": "c", "method": "t/many"},
    ]
    links = [
        {"from": "data", "to": "b.data"},
        {"from": "b.left", "to": "j"},  # .csv into json: warned
        {"from": "b.right", "to": "c", "gather": True},  # .json into csv: warned
        {"from": "b.left", "to": "c", "gather": True},  # .csv into csv: fine
    ]
    assert _check(nodes, links) == [
        Problem(
            "links[1]",
            "'b.left' makes .csv files but the input expects json",
            "check the link; types are advisory",
            "warning",
        ),
        Problem(
            "links[2]",
            "'b.right' makes .json files but the input expects csv",
            "check the link; types are advisory",
            "warning",
        ),
    ]


def test_required_slot_not_fed_and_optional_slot_not_fed() -> None:
    nodes = [DATA, {"id": "a", "method": "t/one"}, {"id": "b", "method": "t/two"}]
    assert _check(nodes, [{"from": "data", "to": "b.data"}]) == [
        Problem(
            "nodes[1]",
            "required input slot 'data' of 'a' is not fed",
            'add a link {"from": "...", "to": "a.data"}',
        )
    ]  # b.ref is optional


SEVERAL = Problem(
    "nodes[1]",
    "input slot 'data' of 'a' receives several inputs but is not multiple",
    "declare inputs.data.multiple: true in method.yaml, or feed it one input",
)


def test_two_links_into_a_slot_that_is_not_multiple() -> None:
    nodes = [DATA, {"id": "a", "method": "t/one"}, {"id": "more", "samples": ["s1", "s2"]}]
    assert _check(nodes, [{"from": "data", "to": "a"}, {"from": "more", "to": "a"}]) == [SEVERAL]


def test_mode_all_counts_its_samples() -> None:
    several = [{"id": "data", "samples": ["s1", "s2@1"], "mode": "all"}, {"id": "a", "method": "t/one"}]
    assert _check(several, [{"from": "data", "to": "a"}]) == [SEVERAL]
    one = [{"id": "data", "samples": ["s1"], "mode": "all"}, {"id": "a", "method": "t/one"}]
    assert _check(one, [{"from": "data", "to": "a"}]) == []
    same_name = [{"id": "data", "samples": ["s1", "s1@2"], "mode": "all"}, {"id": "a", "method": "t/one"}]
    assert _check(same_name, [{"from": "data", "to": "a"}]) == []  # one sample, a given version


def test_a_gather_counts_as_several() -> None:
    nodes = [DATA, {"id": "a", "method": "t/one"}, {"id": "up", "method": "t/one"}]
    gathered = [{"from": "data", "to": "up"}, {"from": "up", "to": "a", "gather": True}]
    assert _check(nodes, gathered) == [SEVERAL]
    one = [{"id": "data", "samples": ["s1"]}, {"id": "a", "method": "t/one"}]
    assert _check(one, [{"from": "data", "to": "a", "gather": True}]) == [
        Problem(
            "nodes[1]",
            "input slot 'data' of 'a' receives several inputs but is not multiple",
            "declare inputs.data.multiple: true in method.yaml, or feed it one input",
        )
    ]


def test_methods_that_failed_to_load_are_skipped() -> None:
    nodes = [
        DATA,
        {"id": "g", "method": "t/ghost"},
        {"id": "h", "method": "t/gone"},
        {"id": "a", "method": "t/one"},
    ]
    links = [{"from": "data", "to": "g.nothing"}, {"from": "g.nothing", "to": "a"}, {"from": "h", "to": "a"}]
    specs = {**SPECS, "t/ghost": None}  # t/gone is not in the mapping at all
    problems = check_links(_pipeline(nodes, links), specs)
    assert problems == [replace(SEVERAL, path="nodes[3]")]  # only the loaded t/one is checked


def test_into_keeps_only_the_problems_of_one_node() -> None:
    nodes = [
        DATA,
        {"id": "a", "method": "t/one"},
        {"id": "b", "method": "t/two"},
        {"id": "x", "samples": ["s1"]},
    ]
    links = [{"from": "data.d", "to": "a"}, {"from": "a", "to": "x"}, {"from": "a", "to": "b.dta"}]
    pipeline = _pipeline(nodes, links)
    assert [(p.path, p.message) for p in check_links(pipeline, SPECS, into="a")] == [
        ("links[0].from", "input node 'data' has one slot, 'data', not 'd'")
    ]
    assert [(p.path, p.message) for p in check_links(pipeline, SPECS, into="b")] == [
        ("links[2].to", "'b' has no input slot dta (did you mean 'data'?)"),
        ("nodes[2]", "required input slot 'data' of 'b' is not fed"),
    ]
    assert len(check_links(pipeline, SPECS)) == 4
