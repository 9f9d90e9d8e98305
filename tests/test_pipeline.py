"""The runner: parameter checking, failing steps, run records, and the CLI's exit codes."""

import json
from pathlib import Path

import nbformat
import pytest

from persona_kit import cli, pipeline
from persona_kit.errors import InputError


def _notebook(path: Path, params: str, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _notebook(notebooks / "01_first.ipynb",
              'run_dir: str = "runs/x"  # run folder\nlang: str = "zh"  # language\nas_of: str = "2024-01-01"  # date',
              "import json, pathlib\np = pathlib.Path(run_dir) / '01_first'\np.mkdir(parents=True, exist_ok=True)\n"
              "(p / 'summary.json').write_text(json.dumps({'rows_in': 3, 'as_of': as_of}))")
    _notebook(notebooks / "02_second.ipynb", 'limit: int = 3  # a number\nlang: str = "zh"  # language',
              "assert limit < 10, 'limit too large'")
    _notebook(notebooks / "03_third.ipynb", 'lang: str = "zh"  # language', "pass")
    (notebooks / "README.ipynb").write_text("{}")  # not a step: no NN_ prefix
    return tmp_path


def test_steps_are_discovered_in_order_with_their_parameters(project):
    steps = pipeline.discover_steps(project / "notebooks")
    assert [s.name for s in steps] == ["01_first", "02_second", "03_third"]
    assert steps[1].parameters["limit"]["inferred_type_name"] == "int"


def test_unknown_parameter_is_rejected_with_the_valid_names(project):
    steps = pipeline.discover_steps(project / "notebooks")
    with pytest.raises(InputError, match=r"unknown parameter 'limt' in the params file; did you mean 'limit'\? "
                                         r"valid parameters: \['as_of', 'lang', 'limit', 'run', 'show_code', 'steps'\]$"):
        pipeline.plan_run({"limt": 3}, steps)
    with pytest.raises(InputError, match=r"unknown parameter 'as_of' for step 02_second"):
        pipeline.plan_run({"steps": {"02_second": {"as_of": "x"}}}, steps)
    with pytest.raises(InputError, match=r"run_dir is set by the runner \(runs/<run>\); set `run:`"):
        pipeline.plan_run({"run_dir": "elsewhere"}, steps)
    with pytest.raises(InputError, match=r"unknown parameter '04' in --steps"):
        pipeline.plan_run({}, steps, only=["04"])


def test_mistyped_parameter_is_rejected(project):
    steps = pipeline.discover_steps(project / "notebooks")
    with pytest.raises(InputError, match=r"parameter 'limit' of step 02_second expects int, got str '3'"):
        pipeline.plan_run({"limit": "3"}, steps)
    with pytest.raises(InputError, match=r"expects int, got bool True"):
        pipeline.plan_run({"limit": True}, steps)


def test_each_step_gets_only_its_parameters_and_yaml_dates_become_text(project, tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("run: demo\nas_of: 2024-06-30\nlimit: 4\nsteps:\n  02_second: {limit: 5}\n")
    values = pipeline.load_params(params)
    assert values["as_of"] == "2024-06-30"
    name, plan = pipeline.plan_run(values, pipeline.discover_steps(project / "notebooks"), only=["01", "02"])
    assert name == "demo"
    assert [(s.name, p) for s, p in plan] == [("01_first", {"as_of": "2024-06-30", "run_dir": "runs/demo"}),
                                              ("02_second", {"limit": 5})]


def test_a_failing_step_is_kept_marked_and_stops_the_run(project):
    record = pipeline.run(params={"run": "t", "limit": 11}, root=project, progress=False)
    status = {s["step"]: s["status"] for s in record["steps"]}
    assert status == {"01_first": "ok", "02_second": "failed", "03_third": "skipped"}
    assert record["status"] == "failed"
    failed = record["steps"][1]
    assert failed["error"].startswith("AssertionError: limit too large")
    executed = nbformat.read(project / "reports/t/notebooks/02_second.ipynb", 4)
    assert executed.metadata.papermill.exception is True
    assert (project / "reports/t" / failed["html"]).is_file()
    assert record["steps"][0]["summary"] == {"rows_in": 3, "as_of": "2024-01-01"}
    saved = json.loads((project / "reports/t/run.json").read_text())
    assert saved["steps"][1]["status"] == "failed" and saved["lineage"]["python"]
    index = (project / "reports/t/index.html").read_text()
    assert "02_second.html" in index


def test_cli_exit_codes(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    assert cli.main(["run", "--quiet", "--steps", "01,03", "--run", "ok"]) == 0
    assert cli.main(["run", "--quiet", "--run", "bad"]) == 0  # limit defaults to 3
    params = project / "p.yaml"
    params.write_text("limit: 12\n")
    assert cli.main(["run", "--quiet", "--params", str(params), "--run", "bad"]) == 1
    params.write_text("limitt: 12\n")
    assert cli.main(["run", "--quiet", "--params", str(params)]) == 2
    err = capsys.readouterr().err
    assert "persona-kit: error: unknown parameter 'limitt'" in err and "Traceback" not in err


def test_cli_generate_then_validate(tmp_path, capsys):
    out = tmp_path / "sample"
    assert cli.main(["generate", "--people", "60", "--seed", "3", "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "maps").glob("*.yaml"))
    assert cli.main(["validate", "--sources", str(out / "maps")]) == 0
    printed = capsys.readouterr().out
    assert "rows_in" in printed and "tmall_orders.csv" in printed
    assert cli.main(["generate", "--people", "5", "--out", str(tmp_path / "tiny")]) == 2
    assert "persona-kit: error:" in capsys.readouterr().err


def test_headline_written_at_the_end_shows_under_the_title(tmp_path):
    """ctx.headline fills the empty display start_step leaves under the title, in the executed notebook."""
    import papermill

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import persona_kit as pk\n"
                                  f"ctx = pk.start_step('01_data_quality', run_dir={str(tmp_path)!r}, lang='en')"),
        nbformat.v4.new_code_cell("print('details')"),
        nbformat.v4.new_code_cell("ctx.headline('lang.name')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False,
                               cwd=str(Path(__file__).parents[1]))
    cells = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
    first = [o.get("data", {}).get("text/markdown") for o in cells[0].outputs]
    assert "English" in first, first  # the findings sit under the title, before the details
    assert not any("English" in str(o) for o in cells[2].outputs)
