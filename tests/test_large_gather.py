"""A gather of thousands of samples: its input list does not fit in one environment variable
(Linux allows 128 KiB each), so the method reads it from ``WFC_INPUTS_FILE``; wfc_client does so by
itself. Process runtime: no Docker needed."""

from __future__ import annotations

import json

from tests.conftest import Proj
from wfc_client import contract

N = 1500
NAME = "sample-with-a-rather-long-name-as-real-sheets-have-{:05d}"  # 1,500 x ~110 bytes of paths


def test_a_gather_too_large_for_one_variable_reads_the_inputs_file(fake_env: Proj) -> None:
    method = fake_env.root / "methods" / "t" / "count"
    method.mkdir(parents=True)
    (method / "method.yaml").write_text(
        "env: python\ninputs:\n  data: {multiple: true}\noutputs:\n  out: {file: out.json}\n"
    )
    (method / "main.py").write_text(
        "import json, os\nimport wfc_client as wfc\n\n@wfc.method\ndef count(ctx):\n"
        "    paths = ctx.input('data')\n"
        "    seen = {k: k in os.environ for k in ('WFC_INPUT_PATHS', 'WFC_SAMPLES', 'WFC_INPUTS_FILE')}\n"
        "    text = ''.join(p.read_text() for p in paths)\n"
        "    doc = {'n': len(paths), 'samples': len(ctx.samples), 'bytes': len(text), 'env': seen}\n"
        "    ctx.output_path('out').write_text(json.dumps(doc))\n\n"
        "wfc.run()\n"
    )
    data = fake_env.root / "data"
    data.mkdir()
    rows = ["sample,path"]
    for i in range(N):
        (data / f"{i}.txt").write_text(f"{i}\n")
        rows.append(f"{NAME.format(i)},data/{i}.txt")
    (fake_env.root / "sheet.csv").write_text("\n".join(rows) + "\n")
    fake_env.wfc("sample", "import", "sheet.csv", check=True, timeout=300)
    names = [NAME.format(i) for i in range(N)]
    fake_env.write_pipeline(
        {
            "version": 1,
            "name": "large-gather",
            "nodes": [{"id": "data", "samples": names}, {"id": "count", "method": "t/count"}],
            "links": [{"from": "data", "to": "count.data", "gather": True}],
        }
    )
    assert len(json.dumps(names)) > contract.VARIABLE_LIMIT  # too long for WFC_SAMPLES too

    done = fake_env.run_step("count", "--runtime", "process")
    assert done.get("status") == "completed", done
    digest = done["outputs"]["out"]["hash"].split(":")[1]
    out = json.loads((fake_env.root / ".wfc" / "store" / "objects" / digest[:2] / digest[2:]).read_text())
    assert out["n"] == N and out["samples"] == N
    assert out["bytes"] == sum(len(f"{i}\n") for i in range(N))
    assert out["env"] == {"WFC_INPUT_PATHS": False, "WFC_SAMPLES": False, "WFC_INPUTS_FILE": True}
