"""Tests for persona_kit.datasets: hand-built files with known answers, then the real public datasets
checked against the golden numbers in ../shared/datasets/README.md."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import polars as pl
import pytest

from persona_kit.datasets import load_cdnow, load_online_retail
from persona_kit.errors import InputError
from persona_kit.schema import load_map, load_sources

DATASETS = Path(__file__).parents[1].parent / "shared" / "datasets"
LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
RETAIL_HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
                 "Country"]
RETAIL_ROWS = [
    ["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, "2010-12-01 08:26:00", 2.55, 17850.0,
     "United Kingdom"],
    ["536365", "71053", "WHITE METAL LANTERN", 6, "2010-12-01 08:26:00", 3.39, 17850.0, "United Kingdom"],
    ["C536379", "D", "Discount", -1, "2010-12-01 09:41:00", 27.5, 14527.0, "United Kingdom"],
    ["536414", "22139", None, 56, "2010-12-01 11:52:00", 0.0, None, "United Kingdom"],
    ["A563186", "B", "Adjust bad debt", 1, "2011-08-12 14:51:00", -11062.06, None, "United Kingdom"],
    ["536370", "22728", "ALARM CLOCK BAKELIKE PINK ", 24, "2010-12-01 08:45:00", 3.75, 12583.0, "France"],
]


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


def _dataset(relative: str) -> Path:
    path = DATASETS / relative
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"public dataset missing in CI: {path}")
        pytest.skip(f"public dataset not available: {path} (see ../shared/datasets/README.md)")
    return path


def _retail_frame() -> pl.DataFrame:
    return pl.DataFrame(RETAIL_ROWS, schema={"InvoiceNo": pl.String, "StockCode": pl.String,
                                             "Description": pl.String, "Quantity": pl.Int64,
                                             "InvoiceDate": pl.String, "UnitPrice": pl.Float64,
                                             "CustomerID": pl.Float64, "Country": pl.String}, orient="row")


# --- Online Retail, hand-built ---------------------------------------------------------------------------

@pytest.fixture(params=["parquet", "csv", "xlsx"])
def retail_file(request, tmp_path):
    frame = _retail_frame()
    path = tmp_path / f"retail.{request.param}"
    if request.param == "parquet":
        frame.write_parquet(path)
    elif request.param == "csv":  # a pandas-style export: the float ids are written '17850.0'
        frame.to_pandas().to_csv(path, index=False)
    else:
        book = openpyxl.Workbook()
        book.active.title = "Online Retail"
        book.active.append(RETAIL_HEADER)
        for row in RETAIL_ROWS:
            book.active.append(row[:4] + [dt.datetime.fromisoformat(row[4])] + row[5:])
        book.save(path)
    return path


def test_online_retail_small_file_every_format(retail_file):
    loaded = load_online_retail(retail_file)
    orders = loaded.tables["orders"]
    assert orders.select("order_id", "line_no", "status", "product_id", "source_customer_id", "quantity",
                         "unit_price", "country").rows() == [
        ("536365", 1, "paid", "85123A", "17850", 6.0, 2.55, "United Kingdom"),
        ("536365", 2, "paid", "71053", "17850", 6.0, 3.39, "United Kingdom"),
        ("C536379", 1, "cancelled", "D", "14527", -1.0, 27.5, "United Kingdom"),
        ("536414", 1, "paid", "22139", None, 56.0, 0.0, "United Kingdom"),
        ("536370", 1, "paid", "22728", "12583", 24.0, 3.75, "France")]
    assert orders.get_column("product_name").to_list()[-1] == "ALARM CLOCK BAKELIKE PINK "  # kept as is
    assert orders.get_column("order_ts").to_list()[0] == dt.datetime(2010, 12, 1, 8, 26, tzinfo=LONDON)
    assert orders.get_column("amount").round(2).to_list() == [15.3, 20.34, -27.5, 0.0, 90.0]
    assert set(orders.get_column("source").to_list()) == {"online_retail"}
    assert set(orders.get_column("channel").to_list()) == {"online"}
    assert loaded.accounting.select("source", "table", "file", "map", "rows_in", "rows_valid",
                                    "rows_quarantined").row(0) == (
        "online_retail", "orders", retail_file.name, "online_retail.yaml", 6, 5, 1)
    q = loaded.quarantine
    assert q.select("source", "table", "file", "row", "column", "reason").rows() == [
        ("online_retail", "orders", retail_file.name, 5 if retail_file.suffix == ".parquet" else 6,
         "unit_price", "out_of_range")]
    record = json.loads(q.get_column("record")[0])  # the raw row, under the file's own column names
    assert record["InvoiceNo"] == "A563186" and record["CustomerID"] is None
    assert set(record) == set(RETAIL_HEADER)


def test_online_retail_output_timezone(tmp_path):
    path = tmp_path / "retail.parquet"
    _retail_frame().head(1).write_parquet(path)
    ts = load_online_retail(path, timezone="Asia/Shanghai").tables["orders"].get_column("order_ts")
    assert ts.dtype == pl.Datetime("us", "Asia/Shanghai")
    assert ts.to_list() == [dt.datetime(2010, 12, 1, 16, 26, tzinfo=ZoneInfo("Asia/Shanghai"))]


def test_online_retail_matches_load_sources(tmp_path):
    # the loader's own validation path must give what load_sources gives for the same map and file
    path = tmp_path / "retail.parquet"
    _retail_frame().write_parquet(path)
    maps = Path(__file__).parents[1] / "persona_kit" / "resources" / "maps"
    cmap = dataclasses.replace(load_map(maps / "online_retail.yaml"), file=path)
    expected = load_sources([cmap], timezone="Europe/London")
    loaded = load_online_retail(path)
    assert loaded.tables["orders"].equals(expected.tables["orders"])
    assert loaded.quarantine.equals(expected.quarantine)
    assert loaded.accounting.equals(expected.accounting)


def test_online_retail_missing_columns_are_named(tmp_path):
    path = tmp_path / "retail.csv"
    path.write_text("Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n", "utf-8")
    with pytest.raises(InputError, match=exact(
            "retail.csv: missing columns ['InvoiceNo', 'UnitPrice', 'CustomerID']; available: ['Invoice', "
            "'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'Price', 'Customer ID', 'Country']; "
            "did you mean 'Invoice' for 'InvoiceNo', 'Price' for 'UnitPrice', 'Customer ID' for 'CustomerID'?")):
        load_online_retail(path)


def test_online_retail_bad_paths(tmp_path):
    with pytest.raises(InputError, match=exact(
            f"{tmp_path / 'nope.parquet'}: file not found; pass the path of the UCI Online Retail file "
            "(online_retail.parquet or Online Retail.xlsx)")):
        load_online_retail(tmp_path / "nope.parquet")
    with pytest.raises(InputError, match=exact(
            f"{tmp_path}: is a folder; pass the path of the UCI Online Retail file (online_retail.parquet or "
            "Online Retail.xlsx)")):
        load_online_retail(tmp_path)
    (tmp_path / "retail.json").write_text("{}")
    with pytest.raises(InputError, match=exact("retail.json: unsupported file type '.json'; use .csv, .tsv, "
                                               ".xlsx or .parquet")):
        load_online_retail(tmp_path / "retail.json")


# --- CDNOW, hand-built -----------------------------------------------------------------------------------

MASTER = (" customer_id  date number_of_cds  dollar_value\r\n"
          " 00001 19970101  1   11.77\r\n"
          " 00002 19970112  1   12.00\r\n"
          " 00002 19970112  5   77.00\r\n"
          " 00003 19970102  0    0.00\r\n"
          " 00004 19971340  2   20.00\r\n"
          " 00005 19970103  2   abc\r\n"
          "\r\n")


def test_cdnow_master_small(tmp_path):
    path = tmp_path / "CDNOW_master.txt"
    path.write_bytes(MASTER.encode("ascii"))
    loaded = load_cdnow(path)
    orders = loaded.tables["orders"]
    assert orders.select("order_id", "line_no", "source_customer_id", "quantity", "amount", "unit_price",
                         "status", "source", "source_row").rows() == [
        ("cdnow-00001-19970101-1", 1, "00001", 1.0, 11.77, 11.77, "paid", "cdnow", 2),
        ("cdnow-00002-19970112-1", 1, "00002", 1.0, 12.0, 12.0, "paid", "cdnow", 3),
        ("cdnow-00002-19970112-2", 1, "00002", 5.0, 77.0, 15.4, "paid", "cdnow", 4),
        ("cdnow-00003-19970102-1", 1, "00003", 0.0, 0.0, None, "paid", "cdnow", 5)]
    assert orders.get_column("order_ts").to_list()[0] == dt.datetime(1997, 1, 1, tzinfo=NEW_YORK)
    assert "sample_customer_id" not in orders.columns
    assert loaded.quarantine.select("source", "file", "row", "reason", "message").rows() == [
        ("cdnow", "CDNOW_master.txt", 6, "unparseable_datetime",
         "order_ts: '19971340' is not a date-time in any accepted format (formats tried: ['%Y%m%d'])"),
        ("cdnow", "CDNOW_master.txt", 7, "unparseable_float", "amount: 'abc' is not a number")]
    assert json.loads(loaded.quarantine.get_column("record")[1]) == {
        "customer_id": "00005", "date": "19970103", "number_of_cds": "2", "dollar_value": "abc"}
    assert loaded.accounting.select("rows_in", "rows_valid", "rows_quarantined").row(0) == (6, 4, 2)


def test_cdnow_sample_small_and_timezone(tmp_path):
    path = tmp_path / "CDNOW_sample.txt"
    path.write_text(" 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n", encoding="ascii")
    orders = load_cdnow(path, timezone="UTC").tables["orders"]
    assert orders.select("order_id", "source_customer_id", "sample_customer_id", "source_row").rows() == [
        ("cdnow-00004-19970101-1", "00004", "0001", 1), ("cdnow-00004-19970118-1", "00004", "0001", 2)]
    assert orders.get_column("order_ts").to_list()[0] == dt.datetime(1997, 1, 1, 5, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize("name, content, message", [
    ("c.txt", " customer date cds dollars\n 1 19970101 1 1.0\n",
     "c.txt: missing columns ['customer_id', 'number_of_cds', 'dollar_value']; available: ['customer', "
     "'date', 'cds', 'dollars']; did you mean 'customer' for 'customer_id', 'dollars' for 'dollar_value'?"),
    ("c.txt", "customer_id date number_of_cds dollar_value\n1 19970101 1 1.0\n2 19970101 1\n",
     "c.txt, row 3: has 3 fields where 4 are expected (customer_id date number_of_cds dollar_value); fix or "
     "remove that line"),
    ("c.txt", "1 19970101 1\n",
     "c.txt, row 1: first line has 3 fields; expected the header customer_id date number_of_cds dollar_value "
     "(CDNOW_master.txt) or 5 unlabelled columns ['customer_id', 'sample_customer_id', 'date', "
     "'number_of_cds', 'dollar_value'] (CDNOW_sample.txt)"),
    ("c.txt", "\n  \n", "c.txt: no data lines; expected CDNOW_master.txt or CDNOW_sample.txt"),
    ("c.parquet", "PAR1", "c.parquet: expected the CDNOW whitespace-separated text file, got a '.parquet' file"),
], ids=["header", "ragged", "first-line", "blank", "parquet"])
def test_cdnow_not_the_expected_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=exact(message)):
        load_cdnow(path)


def test_cdnow_binary_and_missing(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"\x81\x30\xff\xfe\x00\x00")
    with pytest.raises(InputError, match=r"^c\.txt: "):
        load_cdnow(path)
    with pytest.raises(InputError, match=exact(f"{tmp_path / 'x.txt'}: file not found; pass the path of a CDNOW "
                                               "text file (CDNOW_master.txt or CDNOW_sample.txt)")):
        load_cdnow(tmp_path / "x.txt")


# --- Online Retail, the real file (golden numbers from ../shared/datasets/README.md) --------------------

@pytest.fixture(scope="module")
def retail():
    loaded = load_online_retail(_dataset("online_retail/online_retail.parquet"))
    raw_schema = pl.Struct({name: pl.String for name in RETAIL_HEADER})
    quarantined = (loaded.quarantine.select(pl.col("record").str.json_decode(raw_schema)).unnest("record")
                   .select(order_id="InvoiceNo", product_id="StockCode", source_customer_id="CustomerID",
                           country="Country"))
    return loaded, quarantined


def _all_lines(retail, column: str) -> pl.Series:
    loaded, quarantined = retail
    return pl.concat([loaded.tables["orders"].get_column(column), quarantined.get_column(column)])


def test_retail_row_accounting(retail):
    loaded, _ = retail
    assert loaded.accounting.select("rows_in", "rows_valid", "rows_quarantined").row(0) == (541_909, 541_907, 2)
    assert loaded.tables["orders"].height + loaded.quarantine.height == 541_909
    rows = pl.concat([loaded.tables["orders"].get_column("source_row"), loaded.quarantine.get_column("row")])
    assert rows.n_unique() == 541_909 and rows.min() == 1 and rows.max() == 541_909


def test_retail_quarantine_is_the_two_negative_bad_debt_adjustments(retail):
    loaded, quarantined = retail
    assert quarantined.get_column("order_id").to_list() == ["A563186", "A563187"]
    assert loaded.quarantine.get_column("message").to_list() == ["unit_price: '-11062.06' is below the minimum 0"] * 2
    orders = loaded.tables["orders"]
    assert orders.filter(pl.col("order_id").str.starts_with("A")).height == 1  # 3 "A" lines in all


def test_retail_counts(retail):
    orders = retail[0].tables["orders"]
    assert orders.filter(pl.col("status") == "cancelled").height == 9_288
    assert orders.filter(pl.col("status") == "cancelled").get_column("order_id").n_unique() == 3_836
    assert orders.filter(pl.col("status") == "cancelled").get_column("order_id").str.starts_with("C").all()
    assert _all_lines(retail, "source_customer_id").null_count() == 135_080
    assert _all_lines(retail, "source_customer_id").drop_nulls().n_unique() == 4_372
    assert _all_lines(retail, "order_id").n_unique() == 25_900
    assert _all_lines(retail, "product_id").n_unique() == 4_070
    assert _all_lines(retail, "country").n_unique() == 38
    assert orders.get_column("product_name").null_count() == 1_454
    assert orders.filter(pl.col("quantity") < 0).height == 10_624
    assert orders.filter(pl.col("unit_price") == 0).height == 2_515
    multi_country = orders.drop_nulls("source_customer_id").group_by("source_customer_id").agg(
        pl.col("country").n_unique()).filter(pl.col("country") > 1)
    assert multi_country.height == 8


def test_retail_time_range(retail):
    ts = retail[0].tables["orders"].get_column("order_ts")
    assert ts.dtype == pl.Datetime("us", "Europe/London")
    assert (ts.min(), ts.max()) == (dt.datetime(2010, 12, 1, 8, 26, tzinfo=LONDON),
                                    dt.datetime(2011, 12, 9, 12, 50, tzinfo=LONDON))


def test_retail_clean_purchases(retail):
    clean = retail[0].tables["orders"].filter(
        pl.col("source_customer_id").is_not_null() & (pl.col("status") == "paid")
        & (pl.col("quantity") > 0) & (pl.col("unit_price") > 0))
    assert clean.height == 397_884
    assert clean.get_column("source_customer_id").n_unique() == 4_338
    assert clean.get_column("order_id").n_unique() == 18_532
    revenue_pence = clean.select((pl.col("quantity") * pl.col("unit_price") * 100).round().cast(pl.Int64).sum()).item()
    assert revenue_pence == 891_140_790  # £8,911,407.90 to the penny
    assert round(clean.get_column("amount").sum(), 2) == 8_911_407.90
    line = ["order_id", "product_id", "product_name", "quantity", "order_ts", "unit_price", "source_customer_id",
            "country"]
    assert clean.unique(subset=line).height == 392_692


def test_retail_exact_duplicates(retail):
    line = ["order_id", "product_id", "product_name", "quantity", "order_ts", "unit_price", "source_customer_id",
            "country"]
    orders = retail[0].tables["orders"]
    assert orders.height - orders.unique(subset=line).height == 5_268
    with_id = orders.drop_nulls("source_customer_id")
    assert with_id.height - with_id.unique(subset=line).height == 5_225


# --- CDNOW, the real files -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cdnow_master():
    return load_cdnow(_dataset("cdnow/CDNOW_master.txt"))


def test_cdnow_master(cdnow_master):
    orders = cdnow_master.tables["orders"]
    assert cdnow_master.accounting.select("rows_in", "rows_valid", "rows_quarantined").row(0) == (69_659, 69_659, 0)
    assert orders.get_column("source_customer_id").n_unique() == 23_570
    assert orders.get_column("order_id").n_unique() == 69_659
    days = orders.get_column("order_ts").dt.date()
    assert (days.min(), days.max()) == (dt.date(1997, 1, 1), dt.date(1998, 6, 30))
    assert orders.filter(pl.col("amount") == 0).height == 80
    assert orders.height - orders.unique(subset=["source_customer_id", "order_ts", "quantity", "amount"]).height == 255
    assert orders.filter(~pl.col("order_id").str.ends_with("-1")).height == 2_068  # repeats of a customer-day
    first = orders.group_by("source_customer_id").agg(pl.col("order_ts").min().dt.date())
    assert first.get_column("order_ts").max() <= dt.date(1997, 3, 31)  # the cohort's first purchases: Q1 1997
    expected_price = pl.when(pl.col("quantity") > 0).then(pl.col("amount") / pl.col("quantity"))
    assert orders.select((pl.col("unit_price") == expected_price).all()).item()


def test_cdnow_sample_matches_published_calibration_summary():
    orders = load_cdnow(_dataset("cdnow/CDNOW_sample.txt")).tables["orders"]
    assert orders.height == 6_919
    assert orders.get_column("source_customer_id").n_unique() == 2_357
    assert orders.get_column("sample_customer_id").n_unique() == 2_357
    # the 39-week calibration summary (frequency = repeat purchase days, recency and T in weeks)
    end = dt.date(1997, 9, 30)
    days = (orders.select(ID=pl.col("sample_customer_id").cast(pl.Int64), day=pl.col("order_ts").dt.date())
            .unique().group_by("ID").agg(
                frequency=(pl.col("day") <= end).sum() - 1,
                recency=(pl.col("day").filter(pl.col("day") <= end).max() - pl.col("day").min()).dt.total_days() / 7,
                T=(pl.lit(end) - pl.col("day").min()).dt.total_days() / 7))
    summary = pl.read_csv(_dataset("cdnow/cdnow_customers_summary.csv"))
    both = summary.join(days, on="ID", how="full", suffix="_ours")
    assert both.height == 2_357 and both.null_count().sum_horizontal().item() == 0
    assert (both["frequency"] == both["frequency_ours"]).all()
    assert ((both["recency"] - both["recency_ours"]).abs() <= 0.005 + 1e-9).all()
    assert ((both["T"] - both["T_ours"]).abs() <= 0.005 + 1e-9).all()
