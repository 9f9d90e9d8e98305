"""Tests for persona_kit.schema: column maps, apply_map, validate into a quarantine, load_sources."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_kit import schema
from persona_kit.errors import InputError
from persona_kit.io import ROW, read_raw
from persona_kit.schema import (
    DEFAULT_FORMATS,
    REASONS,
    TABLES,
    Column,
    apply_map,
    identifiers_from,
    load_map,
    load_maps,
    load_sources,
    validate,
)

SH, UTC = ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC")


def exact(message: str) -> str:
    """A ``match=`` pattern for exactly this message."""
    return "^" + re.escape(message) + "$"


def text_frame(columns: dict[str, list]) -> pl.DataFrame:
    return pl.DataFrame(columns, schema={name: pl.String for name in columns})


def orders(**overrides: list) -> pl.DataFrame:
    """A text orders frame with valid defaults; pass columns to override."""
    n = len(next(iter(overrides.values()))) if overrides else 1
    base = {"order_id": ["o1"] * n, "line_no": [str(i + 1) for i in range(n)], "source": ["pos"] * n,
            "order_ts": ["2024-06-30 12:00:00"] * n, "status": ["paid"] * n}
    return text_frame(base | overrides)


def one_reason(frame: pl.DataFrame, table: str, **kw) -> tuple[str, str, str]:
    out = validate(frame, table, **kw)
    assert out.valid.height == 0 and out.quarantine.height == 1
    return out.quarantine.select("column", "reason", "message").row(0)


# --- load_map --------------------------------------------------------------------------------------------

MAP = """\
source: tmall
table: orders
file: raw/tmall.csv
timezone: Asia/Shanghai
columns:
  订单编号: [order_id, status]
  买家会员名: source_customer_id
  付款时间: order_ts
  数量: quantity
  单价: unit_price
values:
  status: {"re:^C": cancelled, 交易关闭: cancelled, "re:.": paid}
constants:
  channel: tmall
formats:
  order_ts: "%Y/%m/%d %H:%M"
"""


@pytest.fixture
def map_file(tmp_path):
    def _write(text: str, name: str = "m.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return _write


def test_load_map_parses_every_part(map_file):
    path = map_file(MAP)
    cmap = load_map(path)
    assert (cmap.source, cmap.table, cmap.timezone, cmap.encoding) == ("tmall", "orders", "Asia/Shanghai", "auto")
    assert cmap.file == path.parent / "raw" / "tmall.csv"  # relative to the map file
    assert cmap.columns["订单编号"] == ("order_id", "status")
    assert cmap.columns["数量"] == ("quantity",)
    assert cmap.formats == {"order_ts": ("%Y/%m/%d %H:%M",)}
    assert cmap.constants == {"channel": "tmall"}
    assert cmap.targets == ["order_id", "status", "source_customer_id", "order_ts", "quantity", "unit_price"]
    assert {"source", "line_no", "amount", "channel"} <= cmap.provides


@pytest.mark.parametrize("text, message", [
    (MAP + "colums: {}\n", "m.yaml: unknown key 'colums'; did you mean 'columns'?"),
    (MAP + "zzz: 1\n", "m.yaml: unknown key 'zzz'; allowed keys: ['source', 'table', 'file', 'columns', "
                       "'encoding', 'timezone', 'values', 'constants', 'formats', 'sheet', 'separator', 'dayfirst']"),
    (MAP.replace("table: orders", "table: order"),
     "m.yaml: table must be one of ['customers', 'identifiers', 'orders', 'events', 'reviews', 'products', "
     "'campaigns'], got 'order'; did you mean 'orders'?"),
    (MAP.replace("单价: unit_price", "单价: unit_prise"),
     "m.yaml: 'unit_prise' is not a column of the canonical table 'orders'; did you mean 'unit_price'?"),
    (MAP.replace("channel: tmall", "chanel: tmall"),
     "m.yaml: 'chanel' is not a column of the canonical table 'orders'; did you mean 'channel'?"),
    (MAP.replace("数量: quantity", "数量: order_id"), "m.yaml: several source columns map to ['order_id']; keep one"),
    (MAP.replace("  channel: tmall", "  channel: tmall\n  quantity: 1"), "m.yaml: several source columns map to ['quantity']; keep one"),
    (MAP.replace("  付款时间: order_ts\n", ""),
     "m.yaml: no source column or constant fills the required ['order_ts'] of table 'orders'; add them under "
     "`columns:` or `constants:`"),
    ("- a\n- b\n", "m.yaml: a column map must be a YAML mapping with source, table, file, columns"),
    ("", "m.yaml: a column map must be a YAML mapping with source, table, file, columns"),
    ("source: s\ntable: orders\ncolumns: {}\n",
     "m.yaml: missing columns ['file']; available: ['source', 'table', 'columns']"),
    ("source: s\ntable: products\nfile: x.csv\ncolumns: [a, b]\n",
     "m.yaml: `columns:` must be a mapping (name: value, one per line), got a list"),
    (MAP.replace("encoding: auto", "") + "encoding: utf8\n",
     "m.yaml: encoding must be one of ['auto', 'utf-8', 'utf-8-sig', 'gb18030'], got 'utf8'; did you mean 'utf-8'?"),
    (MAP.replace("Asia/Shanghai", "Asia/Shangai"),
     "m.yaml: timezone 'Asia/Shangai' is not an IANA time zone; did you mean 'Asia/Shanghai'?"),
], ids=["unknown-key", "unknown-key-no-near", "unknown-table", "unknown-column", "unknown-constant",
        "repeated-target", "constant-shadows-column", "required-unfilled", "yaml-list", "yaml-empty", "missing-key", "columns-list",
        "bad-encoding", "bad-timezone"])
def test_load_map_errors(map_file, text, message):
    with pytest.raises(InputError, match=exact(message)):
        load_map(map_file(text))


def test_load_map_unreadable_yaml(map_file):
    with pytest.raises(InputError, match=exact("m.yaml: cannot read the column map at line 2, column 1: expected "
                                               "the node content, but found '<stream end>'")):
        load_map(map_file("a: [\n"))


def test_load_maps_folder(tmp_path, map_file):
    map_file(MAP, "b.yaml")
    map_file(MAP.replace("tmall", "jd"), "a.yaml")
    assert [m.source for m in load_maps(tmp_path)] == ["jd", "tmall"]  # sorted by file name
    with pytest.raises(InputError, match=exact(f"{tmp_path / 'nope'}: column-map folder not found")):
        load_maps(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=exact(f"{tmp_path / 'empty'}: no column maps (*.yaml) in this folder")):
        load_maps(tmp_path / "empty")


# --- apply_map -------------------------------------------------------------------------------------------

def _raw(rows: list[tuple]) -> pl.DataFrame:
    names = ["订单编号", "买家会员名", "付款时间", "数量", "单价", "备注"]
    return (pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), orient="row")
            .with_row_index(ROW, offset=2).select(pl.exclude(ROW), pl.col(ROW).cast(pl.Int64)))


def test_apply_map_renames_recodes_and_numbers_lines(map_file):
    cmap = load_map(map_file(MAP))
    raw = _raw([("A1", "u1", "2024/06/30 12:00", "2", "9.9", "x"),
                ("B2", "u2", "2024/06/30 13:00", "1", "5", None),
                ("A1", "u1", "2024/06/30 12:00", "1", "3", None),
                ("C3", "u3", "2024/06/30 14:00", "-1", "5", None),
                ("交易关闭", "u4", "2024/06/30 15:00", "1", "5", None)])
    out = apply_map(raw, cmap)
    assert set(out.columns) == {"order_id", "status", "source_customer_id", "order_ts", "quantity",
                                "unit_price", "channel", "source", "line_no", ROW}  # 备注 is dropped
    assert out.select("order_id", "status", "line_no", ROW).rows() == [
        ("A1", "paid", 1, 2), ("B2", "paid", 1, 3), ("A1", "paid", 2, 4), ("C3", "cancelled", 1, 5),
        ("交易关闭", "cancelled", 1, 6)]  # exact key wins; "re:^C" before "re:."; line_no within order
    assert out.get_column("channel").unique().to_list() == ["tmall"]
    assert out.get_column("source").unique().to_list() == ["tmall"]


def test_apply_map_unmatched_values_stay(map_file):
    cmap = load_map(map_file(MAP.replace(', "re:.": paid', "")))
    out = apply_map(_raw([("X9", "u", "2024/06/30 12:00", "1", "1", None)]), cmap)
    assert out.get_column("status").to_list() == ["X9"]  # then validate calls it invalid_choice


def test_apply_map_missing_source_column_names_file(map_file):
    cmap = load_map(map_file(MAP))
    raw = _raw([("A1", "u1", "2024/06/30 12:00", "2", "9.9", None)]).rename({"单价": "单 价"})
    with pytest.raises(InputError, match=exact(
            "tmall.csv: missing columns ['单价']; available: ['订单编号', '买家会员名', '付款时间', '数量', "
            "'单 价', '备注']; did you mean '单 价' for '单价'?")):
        apply_map(raw, cmap)


# --- validate: dtypes ------------------------------------------------------------------------------------

def test_str_from_float_ids():
    frame = pl.DataFrame({"order_id": ["o1"] * 6, "line_no": [1, 2, 3, 4, 5, 6], "source": "pos",
                          "order_ts": ["2024-06-30"] * 6, "status": "paid",
                          "source_customer_id": [17850.0, 12346.0, 12.5, float("nan"), None, -3.0]})
    out = validate(frame, "orders")
    assert out.quarantine.height == 0
    assert out.valid.get_column("source_customer_id").to_list() == ["17850", "12346", "12.5", None, None, "-3"]


def test_pandas_frame_through_from_pandas_nan_ids_stay_null():
    # validate takes polars only (see test_validate_accepts_pandas); pandas NaN arrives as null
    pdf = pd.DataFrame({"order_id": ["o1", "o2"], "line_no": [1, 1], "source": "pos",
                        "order_ts": ["2024-06-30", "2024-06-30"], "status": "paid",
                        "source_customer_id": [17850.0, float("nan")], "unit_price": [1.0, float("nan")]})
    out = validate(pl.from_pandas(pdf), "orders")
    assert out.valid.select("source_customer_id", "unit_price").rows() == [("17850", 1.0), (None, None)]


def test_int_values():
    out = validate(orders(line_no=["1", "2.0", " ３ ", "1.5", "x", "0"]), "orders")
    assert out.valid.get_column("line_no").to_list() == [1, 2, 3]
    assert out.quarantine.select("row", "reason", "message").rows() == [
        (4, "unparseable_int", "line_no: '1.5' is not a whole number"),
        (5, "unparseable_int", "line_no: 'x' is not a whole number"),
        (6, "out_of_range", "line_no: '0' is below the minimum 1")]


def test_float_values_with_currency_thousands_and_full_width():
    values = ["¥1,234.50", "１２３．５", "RMB 12", "¥ 8", "12元", "$-3", " 7 ", "1e3", "nan", "inf", "abc", ""]
    out = validate(orders(quantity=values), "orders")
    assert out.valid.get_column("quantity").to_list() == [1234.5, 123.5, 12.0, 8.0, 12.0, -3.0, 7.0, 1000.0, None]
    assert out.quarantine.select("row", "message").rows() == [
        (9, "quantity: 'nan' is not a number"), (10, "quantity: 'inf' is not a number"),
        (11, "quantity: 'abc' is not a number")]


def test_bool_values_zh_and_en():
    yes = ["是", "同意", "已同意", "Yes", "Y", "true", "T", "1"]
    no = ["否", "不同意", "未同意", "NO", "n", "False", "f", "0"]
    frame = text_frame({"source": ["pos"] * 18, "source_customer_id": [str(i) for i in range(18)],
                        "consent_marketing": yes + no + [None, "maybe"]})
    out = validate(frame, "customers")
    assert out.valid.get_column("consent_marketing").to_list() == [True] * 8 + [False] * 8 + [None]
    assert out.quarantine.select("row", "reason", "message").row(0) == (
        18, "unparseable_bool", "consent_marketing: 'maybe' is not a yes/no value")


def test_date_values():
    values = ["2024-06-30", "20240630", "2024/06/30", "2024/6/30", "2024-06-30 12:34:56", "2024-02-30", "x"]
    frame = text_frame({"source": ["pos"] * 7, "source_customer_id": list("abcdefg"), "birth_date": values})
    out = validate(frame, "customers")
    assert out.valid.schema["birth_date"] == pl.Date
    assert out.valid.get_column("birth_date").to_list() == [dt.date(2024, 6, 30)] * 5
    assert out.quarantine.get_column("reason").to_list() == ["unparseable_date"] * 2
    assert out.quarantine.get_column("message").to_list()[1] == (
        f"birth_date: 'x' is not a date in any accepted format (formats tried: {list(DEFAULT_FORMATS)})")


def test_datetime_default_formats_and_timezones():
    values = ["2024-06-30 12:00:00", "2024-06-30T12:00:00", "2024-06-30 12:00", "2024/06/30 12:00:00",
              "2024-06-30T12:00:00+0800", "2024-06-30 12:00:00+08:00", "2024-06-30 12:00:00.5",
              "2024-06-30 12:00:00.000000+08:00"]
    frame = text_frame({"source": ["pos"] * 8, "source_customer_id": list("abcdefgh"), "register_ts": values})
    out = validate(frame, "customers", timezone="Asia/Shanghai", source_timezone="Europe/London")
    assert out.quarantine.height == 0
    assert out.valid.schema["register_ts"] == pl.Datetime("us", "Asia/Shanghai")
    london_noon = dt.datetime(2024, 6, 30, 19, tzinfo=SH)  # BST = UTC+1, Shanghai = UTC+8
    assert out.valid.get_column("register_ts").to_list() == [
        london_noon, london_noon, london_noon, london_noon,
        dt.datetime(2024, 6, 30, 12, tzinfo=SH), dt.datetime(2024, 6, 30, 12, tzinfo=SH),
        london_noon + dt.timedelta(microseconds=500_000), dt.datetime(2024, 6, 30, 12, tzinfo=SH)]


def test_datetime_explicit_formats_with_excel_serials():
    frame = text_frame({"source": ["pos"] * 5, "source_customer_id": list("abcde"),
                        "register_ts": ["45473.5", "30/06/2024 12:00", "2024-06-30 12:00:00", "20240630", "0"]})
    out = validate(frame, "customers", timezone="UTC", source_timezone="UTC",
                   formats={"register_ts": ("excel", "%d/%m/%Y %H:%M")})
    assert out.valid.get_column("register_ts").to_list() == [dt.datetime(2024, 6, 30, 12, tzinfo=UTC)] * 2
    assert out.quarantine.get_column("message").to_list() == [
        f"register_ts: '{v}' is not a date-time in any accepted format (formats tried: ['excel', '%d/%m/%Y %H:%M'])"
        for v in ["2024-06-30 12:00:00", "20240630", "0"]]


def test_datetime_dst_edges_do_not_crash():
    # 2024-10-27 01:30 happens twice in London (earliest = BST); 2024-03-31 01:30 never happens.
    frame = text_frame({"source": ["pos"] * 4, "source_customer_id": list("abcd"),
                        "register_ts": ["45592.0625", "45382.0625", "2024-10-27 01:30:00", "2024-03-31 01:30:00"]})
    out = validate(frame, "customers", timezone="UTC", source_timezone="Europe/London",
                   formats={"register_ts": ("excel", "%Y-%m-%d %H:%M:%S")})
    assert out.valid.get_column("register_ts").to_list() == [dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC)] * 2
    assert out.quarantine.get_column("row").to_list() == [2, 4]


def test_typed_inputs():
    frame = pl.DataFrame({
        "source": ["pos", "pos"], "source_customer_id": ["a", "b"], "consent_marketing": [True, None],
        "birth_date": [dt.date(1990, 1, 2), None],
        "register_ts": [dt.datetime(2024, 6, 30, 12), dt.datetime(2024, 1, 1)],
    })
    out = validate(frame, "customers", timezone="Asia/Shanghai", source_timezone="Europe/London")
    assert out.valid.select("consent_marketing", "birth_date", "register_ts").rows() == [
        (True, dt.date(1990, 1, 2), dt.datetime(2024, 6, 30, 19, tzinfo=SH)),
        (None, None, dt.datetime(2024, 1, 1, 8, tzinfo=SH))]
    aware = frame.with_columns(pl.col("register_ts").dt.replace_time_zone("UTC"))
    assert validate(aware, "customers", timezone="Asia/Shanghai").valid.get_column("register_ts").to_list()[0] \
        == dt.datetime(2024, 6, 30, 20, tzinfo=SH)
    as_dates = frame.with_columns(pl.col("register_ts").dt.date())
    assert validate(as_dates, "customers", timezone="UTC", source_timezone="Asia/Shanghai").valid.get_column(
        "register_ts").to_list()[0] == dt.datetime(2024, 6, 29, 16, tzinfo=UTC)


def test_typed_date_at_a_missing_midnight_is_quarantined_not_a_crash():
    # São Paulo skipped 2018-11-04 00:00 (DST started at midnight)
    frame = pl.DataFrame({"source": ["pos"], "source_customer_id": ["a"], "register_ts": [dt.date(2018, 11, 4)]})
    out = validate(frame, "customers", source_timezone="America/Sao_Paulo")
    assert out.quarantine.get_column("reason").to_list() == ["unparseable_datetime"]


def test_all_null_columns():
    frame = pl.DataFrame({"product_id": ["p1", "p2"], "list_price": [None, None], "brand": [None, None]})
    out = validate(frame, "products")
    assert out.valid.schema["list_price"] == pl.Float64 and out.valid.schema["brand"] == pl.String
    assert validate(pl.DataFrame({"product_id": [None]}), "products").quarantine.get_column("reason").to_list() \
        == ["missing_required"]


def test_amount_is_derived_for_orders():
    out = validate(orders(quantity=["2", "3"], unit_price=["1.5", ""]), "orders")
    assert out.valid.get_column("amount").to_list() == [3.0, None]


# --- validate: the quarantine ----------------------------------------------------------------------------

@pytest.mark.parametrize("frame, table, expected", [
    (orders(order_ts=["bad"]), "orders",
     ("order_ts", "unparseable_datetime", "order_ts: 'bad' is not a date-time in any accepted format "
      f"(formats tried: {list(DEFAULT_FORMATS)})")),
    (text_frame({"source": ["s"], "source_customer_id": ["c"], "birth_date": ["1990-13-01"]}), "customers",
     ("birth_date", "unparseable_date", "birth_date: '1990-13-01' is not a date in any accepted format "
      f"(formats tried: {list(DEFAULT_FORMATS)})")),
    (orders(quantity=["two"]), "orders", ("quantity", "unparseable_float", "quantity: 'two' is not a number")),
    (text_frame({"source": ["s"], "source_customer_id": ["c"], "review_ts": ["2024-01-01"], "rating": ["4.5"]}),
     "reviews", ("rating", "unparseable_int", "rating: '4.5' is not a whole number")),
    (text_frame({"source": ["s"], "source_customer_id": ["c"], "consent_marketing": ["也许"]}), "customers",
     ("consent_marketing", "unparseable_bool", "consent_marketing: '也许' is not a yes/no value")),
    (orders(order_id=["  "]), "orders", ("order_id", "missing_required", "order_id is empty but required")),
    (orders(status=["PAID"]), "orders",
     ("status", "invalid_choice", "status: 'PAID' is not one of ['paid', 'cancelled', 'refunded']")),
    (orders(unit_price=["-0.5"]), "orders", ("unit_price", "out_of_range", "unit_price: '-0.5' is below the minimum 0")),
    (text_frame({"source": ["s"], "source_customer_id": ["c"], "review_ts": ["2024-01-01"], "rating": ["6"]}),
     "reviews", ("rating", "out_of_range", "rating: '6' is above the maximum 5")),
], ids=lambda v: v if isinstance(v, str) else None)
def test_each_reason_code(frame, table, expected):
    assert one_reason(frame, table) == expected


def test_every_reason_code_is_tested():
    assert set(REASONS) == {"unparseable_datetime", "unparseable_date", "unparseable_float", "unparseable_int",
                            "unparseable_bool", "missing_required", "invalid_choice", "out_of_range"}


def test_one_quarantine_row_per_bad_row_first_reason_by_priority():
    frame = orders(order_id=[None, "o2", "o3"], order_ts=["bad", "2024-01-01", "2024-01-01"],
                   status=["PAID", "paid", "lost"], unit_price=["-1", "x", "-1"])
    out = validate(frame, "orders", file="pos.csv")
    assert out.quarantine.columns == ["table", "file", "row", "column", "reason", "message", "record"]
    assert out.quarantine.select("table", "file", "row", "column", "reason").rows() == [
        ("orders", "pos.csv", 1, "order_ts", "unparseable_datetime"),
        ("orders", "pos.csv", 2, "unit_price", "unparseable_float"),
        ("orders", "pos.csv", 3, "status", "invalid_choice")]
    assert out.quarantine.get_column("message")[0] == "; ".join([
        f"order_ts: 'bad' is not a date-time in any accepted format (formats tried: {list(DEFAULT_FORMATS)})",
        "order_id is empty but required", "status: 'PAID' is not one of ['paid', 'cancelled', 'refunded']",
        "unit_price: '-1.0' is below the minimum 0"])
    assert json.loads(out.quarantine.get_column("record")[2]) == {
        "order_id": "o3", "line_no": "3", "source": "pos", "order_ts": "2024-01-01", "status": "lost",
        "unit_price": "-1"}


def test_pii_values_are_masked_in_messages(monkeypatch):
    customers = dict(TABLES["customers"])
    customers["birth_date"] = Column("birth_date", "date", pii=True)
    customers["gender"] = Column("gender", choices=("female", "male"), pii=True)
    monkeypatch.setitem(TABLES, "customers", customers)
    frame = text_frame({"source": ["s", "s"], "source_customer_id": ["a", "b"],
                        "birth_date": ["19900101x", None], "gender": [None, "Zhang San"]})
    messages = validate(frame, "customers").quarantine.get_column("message").to_list()
    assert messages == [
        f"birth_date: '<masked>' is not a date in any accepted format (formats tried: {list(DEFAULT_FORMATS)})",
        "gender: <masked> is not one of ['female', 'male']"]
    assert not any("19900101x" in m or "Zhang San" in m for m in messages)


def test_row_positions_come_from_the_raw_file(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("product_id,list_price\np1,1\np2,x\n", encoding="utf-8")
    out = validate(read_raw(path), "products", file=path.name)
    assert out.valid.select("source_row", "source_file").rows() == [(2, "products.csv")]
    assert out.quarantine.select("file", "row").rows() == [("products.csv", 3)]


def test_validate_rejects_unknown_table_and_timezone():
    with pytest.raises(InputError, match=exact("table must be one of ['customers', 'identifiers', 'orders', "
                                               "'events', 'reviews', 'products', 'campaigns'], got 'order'; "
                                               "did you mean 'orders'?")):
        validate(orders(), "order")
    with pytest.raises(InputError, match=exact("source_timezone 'Mars/Base' is not an IANA time zone (e.g. "
                                               "'Asia/Shanghai', 'Europe/London', 'UTC')")):
        validate(orders(), "orders", source_timezone="Mars/Base")


def test_validate_accepts_pandas_and_returns_pandas():
    out = validate(pd.DataFrame({"product_id": ["p1", None], "list_price": ["1", "2"]}), "products")
    assert isinstance(out.valid, pd.DataFrame) and isinstance(out.quarantine, pd.DataFrame)
    assert out.valid["list_price"].tolist() == [1.0] and out.quarantine["reason"].tolist() == ["missing_required"]


# --- validate: properties --------------------------------------------------------------------------------

_GOOD = {
    "str": ["a", "会员001", "007", " padded "], "int": ["1", "2", "5", "３"],
    "float": ["0", "1.5", "¥1,234.50", "12元", "-3"], "bool": ["是", "否", "yes", "0"],
    "date": ["2024-06-30", "20240101", "2024/02/29"],
    "datetime": ["2024-06-30 12:00:00", "2024-10-27 01:30:00", "2024-03-31 01:30:00", "2024-06-30T12:00:00+0800",
                 "2024-01-01 00:00:00.250000"],
}
_BLANK = [None, "", "  "]


@st.composite
def text_frames(draw):
    table = draw(st.sampled_from(sorted(TABLES)))
    columns = TABLES[table]
    names = draw(st.lists(st.sampled_from(sorted(columns)), min_size=1, unique=True))
    n = draw(st.integers(min_value=0, max_value=12))

    def cell(column: Column):
        good = list(column.choices) or _GOOD[column.dtype]
        return st.one_of(st.sampled_from(good), st.sampled_from(_BLANK), st.text(max_size=8))

    data = {name: draw(st.lists(cell(columns[name]), min_size=n, max_size=n)) for name in names}
    return table, text_frame(data)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_frames())
def test_row_accounting_and_idempotence(case):
    table, frame = case
    out = validate(frame, table, timezone="Asia/Shanghai", source_timezone="Europe/London", file="f.csv")
    # nothing lost, nothing twice
    assert out.valid.height + out.quarantine.height == frame.height
    valid_rows = out.valid.get_column("source_row").to_list()
    bad_rows = out.quarantine.get_column("row").to_list()
    assert len(set(bad_rows)) == len(bad_rows) and len(set(valid_rows)) == len(valid_rows)
    assert set(valid_rows).isdisjoint(bad_rows)
    assert set(valid_rows) | set(bad_rows) == set(range(1, frame.height + 1))
    assert set(out.quarantine.get_column("reason")) <= set(REASONS)
    # idempotent: the valid output validated again, typed or as text, keeps every row and value
    again = validate(out.valid, table, timezone="Asia/Shanghai", file="f.csv")
    assert again.quarantine.height == 0
    assert again.valid.equals(out.valid)
    as_text = out.valid.with_columns(pl.all().exclude("source_row").cast(pl.String))
    again = validate(as_text, table, timezone="Asia/Shanghai", file="f.csv")
    assert again.quarantine.height == 0
    assert again.valid.equals(out.valid)


# --- load_sources ----------------------------------------------------------------------------------------

POS = """\
会员号,手机,订单号,下单时间,金额,状态
M001,13800138000,A1,2024-06-01 10:00:00,99.5,成功
,13900139000,A2,2024-06-02 11:00:00,10,成功
M003,,A3,yesterday,5,关闭
M004,13700137000,A4,2024-06-04 09:30:00,-,成功
"""
CUSTOMERS_MAP = """\
source: pos
table: customers
file: pos.csv
columns: {会员号: source_customer_id, 手机: phone}
"""
ORDERS_MAP = """\
source: pos
table: orders
file: pos.csv
columns: {订单号: order_id, 会员号: source_customer_id, 下单时间: order_ts, 金额: amount, 状态: status}
values: {status: {成功: paid, 关闭: cancelled}}
"""


@pytest.fixture
def pos_folder(tmp_path):
    (tmp_path / "pos.csv").write_text(POS, encoding="gb18030")
    (tmp_path / "a_customers.yaml").write_text(CUSTOMERS_MAP, encoding="utf-8")
    (tmp_path / "b_orders.yaml").write_text(ORDERS_MAP, encoding="utf-8")
    return tmp_path


def test_load_sources_two_maps_over_one_file(pos_folder, monkeypatch):
    reads = []

    def counting_read_raw(path, **kw):
        reads.append(path.name)
        return read_raw(path, **kw)

    monkeypatch.setattr(schema.maps, "read_raw", counting_read_raw)  # ColumnMap.read_raw looks it up there
    loaded = load_sources(str(pos_folder), timezone="Asia/Shanghai")
    assert reads == ["pos.csv"]  # read once for both maps
    assert loaded.accounting.rows() == [
        ("pos", "customers", "pos.csv", "a_customers.yaml", 4, 3, 1),
        ("pos", "orders", "pos.csv", "b_orders.yaml", 4, 2, 2)]
    assert loaded.accounting.columns == ["source", "table", "file", "map", "rows_in", "rows_valid",
                                         "rows_quarantined"]
    assert (loaded.accounting["rows_valid"] + loaded.accounting["rows_quarantined"]
            == loaded.accounting["rows_in"]).all()
    assert loaded.tables["customers"].select("source_customer_id", "phone", "source_row").rows() == [
        ("M001", "13800138000", 2), ("M003", None, 4), ("M004", "13700137000", 5)]
    assert loaded.tables["orders"].select("order_id", "status", "amount", "line_no").rows() == [
        ("A1", "paid", 99.5, 1), ("A2", "paid", 10.0, 1)]
    q = loaded.quarantine
    assert q.columns == ["source", "table", "file", "row", "column", "reason", "message", "record"]
    assert q.select("table", "row", "column", "reason").rows() == [
        ("customers", 3, "source_customer_id", "missing_required"),
        ("orders", 4, "order_ts", "unparseable_datetime"),
        ("orders", 5, "amount", "unparseable_float")]
    assert json.loads(q.get_column("record")[1]) == {  # the raw row, with its own column names
        "会员号": "M003", "手机": None, "订单号": "A3", "下单时间": "yesterday", "金额": "5", "状态": "关闭"}


def test_load_sources_with_map_objects_and_a_missing_file(pos_folder):
    cmaps = load_maps([pos_folder / "b_orders.yaml"])
    assert load_sources(cmaps).accounting.get_column("rows_in").to_list() == [4]
    (pos_folder / "pos.csv").unlink()
    with pytest.raises(InputError, match=exact(f"{pos_folder / 'pos.csv'}: file not found; check the `file:` "
                                               "path in its column map")):
        load_sources(cmaps)


# --- identifiers_from ------------------------------------------------------------------------------------

def test_identifiers_from():
    customers = pl.DataFrame({
        "source": ["pos", "pos", "app"], "source_customer_id": ["c1", "c2", "u9"],
        "phone": ["13800138000", " ", "13800138000"], "email": [None, "b@x.cn", None],
        "member_id": ["M1", "M1", None], "city": ["上海", "北京", "上海"],
    })
    assert identifiers_from(customers).rows() == [
        ("pos", "c1", "phone", "13800138000"), ("app", "u9", "phone", "13800138000"),
        ("pos", "c2", "email", "b@x.cn"), ("pos", "c1", "member_id", "M1"), ("pos", "c2", "member_id", "M1")]
    assert identifiers_from(customers).columns == ["source", "source_customer_id", "id_type", "id_value"]
    validated = validate(identifiers_from(customers), "identifiers")
    assert validated.quarantine.height == 0  # the output is a valid canonical identifiers table


def test_identifiers_from_drops_duplicates():
    customers = pl.DataFrame({"source": ["pos", "pos"], "source_customer_id": ["c1", "c1"],
                              "phone": ["138", "138"]})
    assert identifiers_from(customers).rows() == [("pos", "c1", "phone", "138")]


def test_a_blank_vocabulary_value_is_missing_not_invalid():
    frame = pl.DataFrame({"source": ["s"] * 3, "source_customer_id": ["1", "2", "3"],
                          "gender": ["", "  ", "female"]})
    out = validate(frame, "customers")
    assert out.quarantine.height == 0
    assert out.valid["gender"].to_list() == [None, None, "female"]
    required = validate(frame.with_columns(source_customer_id=pl.lit(" ")), "customers")
    assert required.quarantine["reason"].to_list() == ["missing_required"] * 3


def test_importing_the_schema_prints_no_pyspark_warning_into_reports():
    """pandera imports pyspark.pandas when pyspark is installed; its pandas-3 FutureWarning ended up as red
    stderr at the top of every report."""
    import subprocess
    import sys

    pytest.importorskip("pyspark")
    done = subprocess.run([sys.executable, "-W", "default", "-c", "import persona_kit.schema"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "PySpark" not in done.stderr, done.stderr
