"""Every step on UCI Online Retail through its params file (its own module, so pytest-xdist runs it beside
the sample runs of tests/test_reports.py)."""

from pathlib import Path

import pytest

from persona_kit import pipeline

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow


def test_every_step_runs_on_online_retail_through_its_params_file():
    params = ROOT / "notebooks/params/online_retail.yaml"
    if not (ROOT.parent / "shared/datasets/online_retail/online_retail.parquet").is_file():
        pytest.skip("../shared/datasets/online_retail is not here")
    record = pipeline.run(params, run_name="pytest_online_retail", root=ROOT, progress=False)
    assert [s["status"] for s in record["steps"]] == ["ok"] * len(record["steps"]), \
        [s["error"] for s in record["steps"]]
    summary = {s["step"]: s["summary"] for s in record["steps"]}
    assert (summary["01_data_quality"]["rows_in"], summary["01_data_quality"]["rows_valid"]) == (541_909, 541_907)
    assert summary["01_data_quality"]["exact_duplicates"] == 5_268
    cleaned = summary["02_clean"]
    assert cleaned["rows_in"] == cleaned["rows_clean"] + cleaned["quarantined"] + cleaned["separated"] == 541_909
    assert cleaned["duplicates"] == 5_268
    assert (summary["03_identity"]["records"], summary["03_identity"]["persons"]) == (4_372, 4_372)
