"""House rules for the committed step notebooks (they are executed for real in test_reports.py)."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PARAMETER = re.compile(r"^[a-z_][a-z0-9_]*: (str|int|float|bool|list|dict) = .+  # \S.*$")


def test_there_are_step_notebooks():
    assert NOTEBOOKS, "no notebooks/NN_name.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "outputs not stripped"
    tagged = [i for i, c in enumerate(nb["cells"]) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{len(tagged)} cells tagged 'parameters'"
    params = "".join(nb["cells"][tagged[0]]["source"]).splitlines()
    bad = [line for line in params if not PARAMETER.match(line)]
    assert not bad, f"parameter lines need `name: type = default  # help`: {bad}"
    following = "".join(nb["cells"][tagged[0] + 1]["source"])
    assert f'pk.start_step("{path.stem}"' in following, "the cell after the parameters must validate them"
    assert "".join(code[-1]["source"]).strip().endswith("ctx.finish()"), "last cell records lineage"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
