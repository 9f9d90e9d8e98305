"""Step 01 profiling: hand-built frames with known answers, and the Online Retail reference counts."""

import datetime as dt
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from persona_kit import quality
from persona_kit.schema import load_sources

ROOT = Path(__file__).parents[1]
ONLINE_RETAIL_MAPS = ROOT / "notebooks/params/maps/online_retail"


@pytest.fixture
def orders() -> pl.DataFrame:
    ts = dt.datetime(2024, 1, 5, 10, tzinfo=dt.UTC)
    return pl.DataFrame({
        "source": ["a", "a", "a", "a", "b"],
        "order_id": ["1", "1", "2", "3", "9"],
        "line_no": [1, 2, 1, 1, 1],
        "order_ts": [ts, ts, ts + dt.timedelta(days=9), None, ts],
        "amount": [5.0, 5.0, -1.0, 0.0, None],
        "quantity": [1.0, 1.0, -1.0, 1.0, 2.0],
        "source_file": ["f", "f", "f", "f", "g"],
        "source_row": [2, 3, 4, 5, 2],
    })


def test_missing_values_counts_per_source_and_column(orders):
    missing = quality.missing_values({"orders": orders})
    got = {(r["source"], r["column"]): (r["missing"], r["rows"]) for r in missing.iter_rows(named=True)}
    assert got[("a", "order_ts")] == (1, 4)
    assert got[("b", "amount")] == (1, 1)
    assert got[("a", "amount")] == (0, 4)
    assert "source_file" not in missing["column"].to_list()


def test_duplicates_ignore_file_position_and_loader_line_numbers(orders):
    dupes = quality.duplicates({"orders": orders}).filter(pl.col("source") == "a").row(0, named=True)
    assert dupes["exact_duplicates"] == 1  # rows 2 and 3 differ only in line_no and source_row
    assert dupes["duplicate_keys"] == 0


def test_value_checks_flag_negative_zero_and_future(orders):
    checks = quality.value_checks({"orders": orders}, today=dt.date(2024, 1, 10))
    got = {(r["check"], r["source"]): r["flagged"] for r in checks.iter_rows(named=True)}
    assert got == {("amount_negative", "a"): 1, ("amount_zero", "a"): 1,
                   ("quantity_not_positive", "a"): 1, ("date_in_future", "a"): 1}


def test_date_ranges_and_days_covered(orders):
    ranges = quality.date_ranges({"orders": orders}).filter(pl.col("source") == "a").row(0, named=True)
    assert (ranges["first"], ranges["last"], ranges["days"], ranges["rows"]) == (
        dt.date(2024, 1, 5), dt.date(2024, 1, 14), 10, 3)


def test_quarantine_by_reason_groups_with_first_example():
    q = pl.DataFrame({"source": ["s"] * 3, "table": ["orders"] * 3, "file": ["f.csv"] * 3, "row": [9, 4, 5],
                      "column": ["order_ts"] * 2 + ["status"], "reason": ["unparseable_datetime"] * 2
                      + ["invalid_choice"], "message": ["m9", "m4", "m5"], "record": ["{}"] * 3})
    out = quality.quarantine_by_reason(q)
    assert out.select("reason", "rows", "example_row", "example").rows() == [
        ("unparseable_datetime", 2, 4, "m4"), ("invalid_choice", 1, 5, "m5")]
    assert quality.quarantine_by_reason(q.clear()).height == 0


def test_profiles_accept_pandas_converted_tables(orders):
    frame = pl.from_pandas(pd.DataFrame(orders.to_dicts()))
    assert quality.duplicates({"orders": frame})["exact_duplicates"].sum() == 1


@pytest.fixture(scope="module")
def online_retail():
    if not ONLINE_RETAIL_MAPS.is_dir() or not (ROOT.parent / "shared/datasets/online_retail").is_dir():
        pytest.skip("../shared/datasets/online_retail is not here")
    return load_sources(ONLINE_RETAIL_MAPS, timezone="Europe/London")


def test_online_retail_reference_counts(online_retail):
    overview = quality.source_overview(online_retail).row(0, named=True)
    assert (overview["rows_in"], overview["rows_valid"], overview["rows_quarantined"]) == (541_909, 541_907, 2)
    assert quality.duplicates(online_retail.tables)["exact_duplicates"].item() == 5_268
    checks = {r["check"]: r["flagged"] for r in quality.value_checks(online_retail.tables).iter_rows(named=True)}
    assert checks["quantity_not_positive"] == 10_624
    assert checks["unit_price_zero"] == 2_515
    missing = quality.missing_values(online_retail.tables)
    by_column = {r["column"]: r["missing"] for r in missing.iter_rows(named=True)}
    # 135,080 lines have no CustomerID; the 2 quarantined bad-debt lines are among them.
    assert by_column["source_customer_id"] == 135_078
    assert by_column["product_name"] == 1_454
    ranges = quality.date_ranges(online_retail.tables).row(0, named=True)
    assert (ranges["first"], ranges["last"]) == (dt.date(2010, 12, 1), dt.date(2011, 12, 9))


def test_findings_rank_largest_first(online_retail):
    found = quality.findings(online_retail)
    assert [f["kind"] for f in found] == ["quarantined", "duplicates", "mostly_missing"]
    assert found[1]["rows"] == 5_268 and found[2]["column"] == "source_customer_id"


def test_missing_values_only_count_columns_a_source_provides():
    tables = {"customers": pl.DataFrame({"source": ["pos", "app"], "source_customer_id": ["1", "2"],
                                         "email": [None, None], "city": ["x", None]})}
    everything = quality.missing_values(tables)
    assert everything.filter(pl.col("missing") > 0).height == 3
    provided = {("pos", "customers"): {"source_customer_id", "email", "city"},
                ("app", "customers"): {"source_customer_id", "email"}}
    limited = quality.missing_values(tables, provided=provided)
    assert limited.filter(pl.col("missing") > 0).select("source", "column").sort("source").rows() == [
        ("app", "email"), ("pos", "email")]


def test_explicit_line_numbers_count_in_exact_duplicates(orders):
    # the same item twice on one receipt, as two numbered lines, is not a duplicate export
    dupes = quality.duplicates({"orders": orders}, numbered_by_loader=set())
    assert dupes.filter(pl.col("source") == "a")["exact_duplicates"].item() == 0
    dupes = quality.duplicates({"orders": orders}, numbered_by_loader={"a"})
    assert dupes.filter(pl.col("source") == "a")["exact_duplicates"].item() == 1


def test_sample_duplicates_match_the_planted_ones():
    import csv
    loaded = load_sources(ROOT / "data/sample/maps")
    dupes = quality.duplicates(loaded.tables, numbered_by_loader=loaded.numbered_by_loader)
    found = {r["source"]: r["exact_duplicates"] for r in dupes.filter(pl.col("table") == "orders").iter_rows(named=True)}
    with open(ROOT / "data/sample/truth/dirty_rows.csv", encoding="utf-8") as fh:
        planted = [r for r in csv.DictReader(fh) if r["kind"] == "exact_duplicate"]
    by_file = {}
    for r in planted:
        by_file[r["file"]] = by_file.get(r["file"], 0) + 1
    assert found["pos"] == by_file["pos_orders.csv"] == 8
