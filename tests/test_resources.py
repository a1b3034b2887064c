"""Resource traces and kept sources: every execution records what it used (wall, CPU, peak
memory, block I/O: from the container's cgroup, or from ``wait4`` for the process runtime) and
archives its method directory and environment as tree objects a re-run can restore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Proj, probe_pipeline, wfc_json
from wfc import metrics
from wfc.output import resources_text
from wfc.runtime import cgroup

MIB = 1 << 20


@pytest.mark.parametrize("runtime", ["docker", "process"])
def test_an_execution_records_what_it_used(probe_project: Proj, runtime: str) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": "hog", "k": 40}))
    doc = probe_project.run_step("probe", "--sample", "s1", "--runtime", runtime)
    assert doc["status"] == "completed", doc
    shown = wfc_json(probe_project, "show", doc["run_id"])
    used = shown["resources"]
    assert used["source"] == ("cgroup" if runtime == "docker" else "rusage")
    assert used["peak_memory_bytes"] >= 40 * MIB  # the 40 MiB it held at once
    assert used["peak_memory_bytes"] < 64 * MIB * (1 if runtime == "docker" else 4)
    assert 0 < used["cpu_s"] < 30 and used["wall_s"] > 0
    assert used["read_bytes"] >= 0 and used["written_bytes"] >= 0
    text = probe_project.wfc("show", doc["run_id"], check=True).stdout
    assert "used         " in text and "s CPU, peak memory " in text
    steps = [s for pr in wfc_json(probe_project, "runs", "--steps")["pipeline_runs"] for s in pr["steps"]]
    assert [s["resources"]["peak_memory_bytes"] for s in steps] == [used["peak_memory_bytes"]]
    if runtime == "docker":  # the cgroup parent is read and deleted with the container
        assert not list(cgroup.ROOT.glob(f"*/{cgroup.PARENT}/wfc-{doc['run_id'].lower()}"))


def test_a_failed_execution_records_what_it_used_and_a_hit_nothing(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": "fail"}))
    failed = probe_project.run_step("probe", "--sample", "s1")
    assert failed["status"] == "failed"
    assert wfc_json(probe_project, "show", failed["run_id"])["resources"]["wall_s"] > 0
    probe_project.write_pipeline(probe_pipeline())
    probe_project.run_step("probe", "--sample", "s1")
    hit = probe_project.run_step("probe", "--sample", "s1")
    assert hit["status"] == "cached"
    assert wfc_json(probe_project, "show", hit["run_id"])["resources"] is None


def test_the_method_and_environment_are_kept_as_tree_objects(probe_project: Proj, tmp_path: Path) -> None:
    method_dir = probe_project.root / "methods" / "t" / "probe"
    (method_dir / "__pycache__").mkdir(exist_ok=True)
    (method_dir / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"never content")
    first = probe_project.run_step("probe", "--sample", "s1")
    second = probe_project.run_step("probe", "--sample", "s2")
    kept = probe_project.rows("SELECT code_tree, env_tree FROM runs ORDER BY id")
    assert kept[0] == kept[1] and all(kept[0])  # unchanged code and environment: the same objects
    for run in (first, second):
        assert wfc_json(probe_project, "show", run["run_id"])["code_tree"] == kept[0][0]
    trees = probe_project.root / ".wfc" / "store" / "objects"
    listing = json.loads((trees / kept[0][0][7:9] / kept[0][0][9:]).read_text())
    names = {entry[0] for entry in listing["entries"]}
    assert names == {"main.py", "method.yaml"}  # caches are never part of the code
    env_listing = json.loads((trees / kept[0][1][7:9] / kept[0][1][9:]).read_text())
    assert {entry[0] for entry in env_listing["entries"]} >= {"Dockerfile", "env.lock.json"}
    assert wfc_json(probe_project, "cache", "verify")["problems"] == []  # the trees are referenced
    dockerfile = probe_project.root / "environments" / "python" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "# edited since the build\n")
    probe_project.write_pipeline(probe_pipeline({"k": 2}))
    third = probe_project.run_step("probe", "--sample", "s1")
    kept = probe_project.rows("SELECT code_tree, env_tree FROM runs WHERE id = ?", third["run_id"])
    assert kept == [(kept[0][0], None)]  # not the Dockerfile behind the image: not kept as if it were


def test_resource_gauges_are_pushed_for_an_execution() -> None:
    used = {
        "wall_s": 1.5,
        "cpu_s": 0.75,
        "peak_memory_bytes": 3 * MIB,
        "read_bytes": 0,
        "written_bytes": 4096,
    }
    body = metrics.exposition(
        status="completed", method="t/probe", phases={}, output_bytes=1, metrics=None, resources=used
    )
    assert 'wfc_step_cpu_seconds{method="t/probe"} 0.75' in body
    assert f'wfc_step_peak_memory_bytes{{method="t/probe"}} {float(3 * MIB)}' in body
    assert 'wfc_step_written_bytes{method="t/probe"} 4096.0' in body
    hit = metrics.exposition(status="cached", method="m", phases={}, output_bytes=1, metrics=None)
    assert "wfc_step_cpu_seconds" not in hit


def test_resources_read_as_one_line() -> None:
    used = {
        "wall_s": 2.0,
        "cpu_s": 1.25,
        "peak_memory_bytes": 3 * MIB,
        "read_bytes": 0,
        "written_bytes": 2048,
    }
    assert resources_text({**used, "source": "cgroup"}) == (
        "2.00s wall, 1.25s CPU, peak memory 3.0 MiB, read 0 B, wrote 2.0 KiB (cgroup)"
    )
    assert resources_text({"wall_s": 0.5, "source": "clock"}) == "0.50s wall (clock)"
    assert resources_text(None) == "-"


def test_an_engine_that_refuses_a_cgroup_parent_runs_the_step_with_wall_time_only(
    probe_project: Proj, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The systemd driver refuses a cgroupfs parent at create: the container is created again
    without one, once per runtime, and the step records its wall time only."""
    from wfc.runtime.base import ExecSpec
    from wfc.runtime.docker import DockerRuntime

    image = json.loads((probe_project.root / "environments/python/env.lock.json").read_text())["image_id"]
    from docker.errors import APIError
    from docker.models.containers import ContainerCollection

    runtime = DockerRuntime()
    create = ContainerCollection.create
    refused: list[str] = []

    def systemd_driver(self: ContainerCollection, **kwargs: object) -> object:  # as that driver answers
        if "cgroup_parent" in kwargs:
            refused.append(str(kwargs["cgroup_parent"]))
            raise APIError('cgroup-parent for systemd cgroup should be a valid slice named as "xxx.slice"')
        return create(self, **kwargs)

    monkeypatch.setattr(ContainerCollection, "create", systemd_driver)
    try:
        for n in range(2):
            spec = ExecSpec(
                name=f"wfc-test-refused-{tmp_path.name}-{n}".lower(),
                image=image,
                argv=["true"],
                workdir="/",
                env={},
                mounts=[],
                stdout_path=tmp_path / "out.log",
                stderr_path=tmp_path / "err.log",
                labels={"wfc.test": tmp_path.name},
            )
            result = runtime.run(spec)
            assert result.exit_code == 0 and result.resources is not None
            assert result.resources.source == "clock" and result.resources.cpu_s is None
    finally:
        runtime.close()
    assert len(refused) == 1  # asked once: the runtime remembers the engine's answer


def test_cgroup_v1_and_v2_counters_are_read_then_the_parent_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = tmp_path / "v1"
    for controller, name, text in (
        ("cpuacct", "cpuacct.usage", "1500000000\n"),
        ("memory", "memory.max_usage_in_bytes", f"{5 * MIB}\n"),
        (
            "blkio",
            "blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n",
        ),
    ):
        (v1 / controller / "wfc" / "wfc-r1").mkdir(parents=True)
        (v1 / controller / "wfc" / "wfc-r1" / name).write_text(text)
    monkeypatch.setattr(cgroup, "ROOT", v1)
    used = cgroup.collect("/wfc/wfc-r1", 2.0)
    assert used == cgroup.Resources(2.0, 1.5, 5 * MIB, 4096, 8192, source="cgroup")
    v2 = tmp_path / "v2"
    (v2 / "wfc" / "wfc-r2").mkdir(parents=True)
    (v2 / "cgroup.controllers").write_text("cpu memory io\n")
    (v2 / "wfc" / "wfc-r2" / "cpu.stat").write_text("usage_usec 250000\nuser_usec 200000\n")
    (v2 / "wfc" / "wfc-r2" / "memory.peak").write_text(f"{3 * MIB}\n")
    (v2 / "wfc" / "wfc-r2" / "io.stat").write_text(
        "8:0 rbytes=100 wbytes=200 rios=1\n8:16 rbytes=1 wbytes=2\n"
    )
    monkeypatch.setattr(cgroup, "ROOT", v2)
    assert cgroup.collect("/wfc/wfc-r2", 1.0) == cgroup.Resources(
        1.0, 0.25, 3 * MIB, 101, 202, source="cgroup"
    )
    assert cgroup.collect("/wfc/wfc-absent", 1.0) is None  # made in another cgroup namespace
