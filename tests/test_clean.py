"""Step 02 — cleaning: every rule on hand-built frames with known answers, the row accounting as a
property, idempotence, the Online Retail reference numbers and the sample's planted dirty rows."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_kit import clean
from persona_kit.errors import InputError
from persona_kit.schema import QUARANTINE_COLUMNS

ROOT = Path(__file__).parents[1]


def _pl(out):
    return out if isinstance(out, pl.DataFrame) else pl.from_pandas(out)


def _phone(values, **kwargs):
    return pl.DataFrame({"p": values}, schema={"p": pl.String}).select(
        clean.normalize_phone(pl.col("p"), **kwargs))["p"].to_list()


@pytest.mark.parametrize("raw", [
    "13800138000", "+86 138 0013 8000", "+86-13800138000", "0086 13800138000", "008613800138000",
    "8613800138000", "86 138 0013 8000", "138-0013-8000", "138.0013.8000", "(+86) 138 0013 8000",
    "１３８００１３８０００", "+８６ １３８－００１３－８０００", "\u3000138 0013 8000 ", "13800138000.0",
    "+8613800138000", "0138 0013 8000",
])
def test_normalize_phone_reaches_e164_from_every_mainland_format(raw):
    assert _phone([raw]) == ["+8613800138000"]


@pytest.mark.parametrize("raw, expected", [
    ("+1 415 555 0132", "+14155550132"),      # another country with a + prefix: kept
    ("0044 20 7946 0958", "+442079460958"),   # ... or with the 00 international prefix
    ("+123", None),                           # too short for any country
    ("010-12345678", None),                   # a mainland landline is not a mobile
    ("+86 10 1234 5678", None),
    ("12800138000", None),                    # 1[3-9] only
    ("1380013800", None),                     # 10 digits
    ("138 0013 8000 ext 1", None),
    ("abc", None), ("", None), ("   ", None), (None, None),
])
def test_normalize_phone_nulls_what_is_not_plausible(raw, expected):
    assert _phone([raw]) == [expected]


def test_normalize_phone_other_country_code_and_integers():
    assert _phone(["020 7946 0958", "+44 (0)20 7946 0958", "12"], country_code="44") == \
        ["+442079460958", "+442079460958", None]
    out = pl.DataFrame({"p": [13800138000, None]}).select(clean.normalize_phone(pl.col("p")))
    assert out.columns == ["p"] and out["p"].to_list() == ["+8613800138000", None]
    with pytest.raises(InputError, match=r"^country_code must be digits only \(e.g. '86'\), got '\+86'$"):
        clean.normalize_phone(pl.col("p"), country_code="+86")


def test_normalize_phone_is_idempotent():
    once = _phone(["0086 13800138000", "+1 415 555 0132", "x"])
    assert _phone(once) == once


@pytest.mark.parametrize("raw, expected", [
    ("  Ada@Example.COM ", "ada@example.com"),
    ("WANG901280@OUTLOOK.COM", "wang901280@outlook.com"),
    ("ｂｏｂ＠ｍａｉｌ．ｃｎ", "bob@mail.cn"),
    ("\u3000a.b+tag@mail.qq.com\u3000", "a.b+tag@mail.qq.com"),
    ("x@y", None), ("x@@y.com", None), ("a b@c.com", None), ("no-at.example.com", None),
    ("  ", None), (None, None),
])
def test_normalize_email(raw, expected):
    out = pl.DataFrame({"e": [raw]}, schema={"e": pl.String}).select(clean.normalize_email(pl.col("e")))
    assert out.columns == ["e"] and out["e"].to_list() == [expected]
    again = out.select(clean.normalize_email(pl.col("e")))["e"].to_list()
    assert again == [expected]


# --- dates: every format to one timezone-aware type (schema.py parses; `dayfirst:` is a map key) ---------

DATES = {"iso": "2024-01-05", "slashed": "2024/1/5", "compact": "20240105", "ambiguous": "05/01/2024",
         "excel": "45296", "naive_time": "2024-01-05 09:30:00", "zoned": "2024-01-05T02:30:00+01:00"}


def _map(tmp_path, extra: str) -> object:
    from persona_kit import schema
    rows = "\n".join(f"{k},{v}" for k, v in DATES.items())
    (tmp_path / "c.csv").write_text(f"id,when\n{rows}\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text(
        "source: s\ntable: customers\nfile: c.csv\ncolumns: {id: source_customer_id, when: register_ts}\n"
        'formats:\n  register_ts: ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "excel", "%Y-%m-%d %H:%M:%S",'
        ' "%Y-%m-%dT%H:%M:%S%z"]\n' + extra, encoding="utf-8")
    return schema.load_sources([tmp_path / "m.yaml"])


@pytest.mark.parametrize("dayfirst, month", [("true", 1), ("false", 5)])
def test_mixed_date_formats_become_one_zoned_type(tmp_path, dayfirst, month):
    import datetime as dt
    loaded = _map(tmp_path, f"dayfirst: {dayfirst}\n")
    out = dict(loaded.tables["customers"].select("source_customer_id", "register_ts").rows())
    assert loaded.tables["customers"].schema["register_ts"] == pl.Datetime("us", "Asia/Shanghai")
    midnight = {k: out[k].replace(tzinfo=None) for k in ("iso", "slashed", "compact", "excel")}
    assert set(midnight.values()) == {dt.datetime(2024, 1, 5)}
    assert out["ambiguous"].replace(tzinfo=None) == dt.datetime(2024, month, 1 if month == 5 else 5)
    assert out["naive_time"].replace(tzinfo=None) == dt.datetime(2024, 1, 5, 9, 30)
    assert out["zoned"].replace(tzinfo=None) == dt.datetime(2024, 1, 5, 9, 30)  # 01:30 UTC = 09:30 +08
    assert loaded.quarantine.is_empty() and loaded.maps[0].dayfirst is (dayfirst == "true")


def test_without_dayfirst_an_ambiguous_date_is_quarantined(tmp_path):
    loaded = _map(tmp_path, "")
    assert loaded.quarantine.select("row", "reason").rows() == [(5, "unparseable_datetime")]
    with pytest.raises(InputError, match=r"^m.yaml: `dayfirst:` must be true or false, got 'yes please'$"):
        _map(tmp_path, "dayfirst: yes please\n")


# --- hand-built order lines ------------------------------------------------------------------------------

def _ts(day: int, minute: int = 0):
    import datetime as dt
    return dt.datetime(2011, 1, day, 10, minute, tzinfo=dt.UTC)


def _orders(**columns):
    n = len(next(iter(columns.values())))
    base = {"source": ["uk"] * n, "order_id": [f"o{i}" for i in range(n)], "line_no": [1] * n,
            "source_customer_id": ["c1"] * n, "product_id": ["p"] * n, "order_ts": [_ts(1, i) for i in range(n)],
            "status": ["paid"] * n, "quantity": [1.0] * n, "unit_price": [2.0] * n}
    base.update(columns)
    base.setdefault("amount", [q * p for q, p in zip(base["quantity"], base["unit_price"], strict=True)])
    return base


def test_mark_duplicates_tells_exact_from_near_and_keeps_the_first(frame):
    data = frame({"order_id": ["A", "A", "A ", "A", "B"], "product_id": ["p1", "p1", "p1", "p1 ", "p1"],
                  "amount": [199.0, 199.0, 199.00, 199.0, 199.0], "line_no": [1, 2, 3, 4, 1],
                  "source_file": ["f.csv"] * 5, "source_row": [2, 3, 4, 5, 6]})
    out = clean.mark_duplicates(data)
    assert type(out) is type(data)
    out = _pl(out)
    assert out["duplicate"].to_list() == [None, "exact_duplicate", "near_duplicate", "near_duplicate", None]
    assert out["duplicate_of"].to_list() == [None, 2, 2, 2, None]
    kept = clean.dedupe_orders(data)
    assert type(kept) is type(data) and list(kept["source_row"]) == [2, 6]
    # a source's own line numbers count when they are not ignored: two real lines of one item stay
    own = _pl(clean.mark_duplicates(data, ignore=("source_file", "source_row")))
    assert own["duplicate"].to_list()[:2] == [None, None]
    with pytest.raises(InputError, match=r"^no columns left to compare after ignoring \['a'\]$"):
        clean.mark_duplicates(pl.DataFrame({"a": [1]}), ignore=["a"])
    with pytest.raises(InputError, match=r"^frame: expected a pandas or polars DataFrame, got list$"):
        clean.mark_duplicates([1, 2])


def test_void_lines_net_to_zero_and_reversals_cancel_the_latest_earlier_purchase(frame):
    data = frame(_orders(
        status=["paid", "paid", "cancelled", "paid", "refunded", "cancelled", "paid"],
        quantity=[10.0, 5.0, -7.0, 3.0, 2.0, -4.0, 6.0],
        product_id=["p", "p", "p", "q", "q", "q", "r"],
        source_customer_id=["c1", "c1", "c1", "c1", "c1", "c1", "c2"]))
    out = clean.net_cancellations(data)
    assert type(out) is type(data)
    # p: -7 takes the 5 bought last, then 2 of the 10 (a partial cancellation); q: the refunded line is void
    # (nets to 0); -4 finds 3 earlier units, 1 unit stays unmatched on the reversal line; r: untouched
    assert list(out["net_quantity"]) == [8.0, 0.0, 0.0, 0.0, 0.0, -1.0, 6.0]
    assert list(out["net_amount"]) == [16.0, 0.0, 0.0, 0.0, 0.0, -2.0, 12.0]
    assert list(out["netted"]) == [True, True, True, True, True, True, False]
    assert list(out["quantity"]) == list(data["quantity"]), "recorded values are kept"


def test_a_cancellation_does_not_reach_later_purchases_or_other_customers():
    data = pl.DataFrame(_orders(status=["cancelled", "paid", "paid"], quantity=[-2.0, 2.0, 2.0],
                                source_customer_id=["c1", "c1", "c2"],
                                order_ts=[_ts(1), _ts(2), _ts(1)]))
    assert clean.net_cancellations(data)["net_quantity"].to_list() == [-2.0, 2.0, 2.0]
    with pytest.raises(InputError, match=r"^orders: missing columns \['order_ts'\]; available: .*did you "
                                         r"mean 'order_id' for 'order_ts'\?$"):
        clean.net_cancellations(data.drop("order_ts"))


def test_flag_outliers_uses_the_mad_of_log_amounts_per_group(frame):
    amounts = [10.0, 11.0, 9.0, 10.5, 9.5, 1000.0, 0.0, 50.0, 52.0, 48.0, 51.0, 49.0]
    data = frame({"category": ["a"] * 7 + ["b"] * 5, "amount": amounts})
    out = clean.flag_outliers(data, min_group=5)
    assert type(out) is type(data)
    assert list(out["outlier"]) == [False] * 5 + [True] + [False] * 6
    assert pd.isna(list(out["outlier_score"])[6]), "an amount of 0 is not scored"
    logs = sorted(math.log(a) for a in amounts[:6])
    median = (logs[2] + logs[3]) / 2
    deviations = sorted(abs(v - median) for v in logs)
    mad = (deviations[2] + deviations[3]) / 2
    assert list(out["outlier_score"])[5] == round(0.6745 * (math.log(1000) - median) / mad, 4)
    assert not any(clean.flag_outliers(data, min_group=6)["outlier"][7:]), "group b is too small to score"
    # pooled, the two categories' spread hides the outlier: why the rule works per group
    assert not any(clean.flag_outliers(data, by=None, min_group=5)["outlier"])


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, r"^k must be a positive number of MADs, got 0$"),
    ({"min_group": 2}, r"^min_group must be a whole number >= 3, got 2$"),
    ({"by": "categroy"}, r"^orders: missing columns \['categroy'\]; .*did you mean 'category' for 'categroy'\?$"),
])
def test_flag_outliers_errors(kwargs, message):
    with pytest.raises(InputError, match=message):
        clean.flag_outliers(pl.DataFrame({"category": ["a"], "amount": [1.0]}), **kwargs)


def test_split_non_product_with_the_default_and_a_custom_code_list(frame):
    data = frame(_orders(product_id=["85123A", "POST", " post", "BANK CHARGES", "22139", "22139"],
                         quantity=[6.0, 1.0, 1.0, 1.0, -12.0, -2.0], unit_price=[2.55, 18.0, 18.0, 15.0, 0.0, 0.0],
                         status=["paid"] * 5 + ["cancelled"]))
    goods, fees = clean.split_non_product(data)
    assert type(goods) is type(data) and list(goods["product_id"]) == ["85123A", "22139"]
    assert list(fees["reason"]) == ["fee_code", "fee_code", "fee_code", "stock_adjustment"]
    assert list(fees["message"])[0] == "a fee, postage or adjustment code, not a product"
    goods, fees = clean.split_non_product(data, codes=["85123a"])
    assert list(fees["product_id"]) == ["85123A", "22139"]
    with pytest.raises(InputError, match=r"^codes must be a list of product codes, got the string 'POST'$"):
        clean.split_non_product(data, codes="POST")


def test_reference_and_netted_purchases_are_two_views_of_the_same_lines(frame):
    data = frame(_orders(status=["paid", "cancelled", "paid", "paid", "paid"],
                         quantity=[100.0, -100.0, 3.0, 2.0, 1.0], unit_price=[2.0, 2.0, 5.0, 0.0, 4.0],
                         product_id=["big", "big", "p", "gift", "p"],
                         source_customer_id=["c1", "c1", "c1", "c1", None]))
    reference = clean.reference_purchases(data)
    assert list(reference["product_id"]) == ["big", "p"] and sum(reference["amount"]) == 215.0
    netted = clean.netted_purchases(clean.net_cancellations(data))
    assert type(netted) is type(data)
    assert list(netted["product_id"]) == ["p"] and list(netted["amount"]) == [15.0]
    assert "net_amount" not in netted.columns
    with pytest.raises(InputError, match=r"^netted_purchases needs net_quantity and net_amount; run "
                                         r"net_cancellations\(orders\) first, or use the orders of clean\(\)$"):
        clean.netted_purchases(data)


def test_standardize_text_money_and_its_errors(frame):
    data = frame({"source": ["pos", "app"], "city": [" 上海 ", "  "], "email": ["A@B.CN ", "bad"],
                  "unit_price": [19900.0, 0.1 + 0.2]})
    out = clean.standardize(data, money_factors={"pos": 0.01})
    assert type(out) is type(data)
    assert list(out["city"])[0] == "上海" and pd.isna(list(out["city"])[1])
    assert list(out["unit_price"]) == [199.0, 0.3]
    with pytest.raises(InputError, match=r"^money_factors must be positive numbers per source, got \{'pos': 0\}$"):
        clean.standardize(data, money_factors={"pos": 0})
    with pytest.raises(InputError, match=r"^money_decimals must be a whole number >= 0, got -1$"):
        clean.standardize(data, money_decimals=-1)
    before = _pl(data)
    changes = clean.standardization_changes(before, clean.standardize(before, money_factors={"pos": 0.01}),
                                            table="customers")
    assert changes.select("column", "rule", "rows").rows() == [
        ("city", "text_trimmed", 1), ("email", "email_normalized", 1), ("email", "email_invalid", 1),
        ("unit_price", "money_standardized", 1)]


# --- the step: routing, row accounting (property), idempotence ---------------------------------------------

def _loaded(parts: dict[tuple[str, str, str], dict]) -> object:
    """LoadedSources from canonical text frames, validated as step 01 does: {(source, table, file): columns}."""
    from persona_kit import schema
    tables, quarantine, accounting = {}, [], []
    for (source, table, file), columns in parts.items():
        raw = pl.DataFrame(columns).with_columns(source=pl.lit(source))
        out = schema.validate(raw, table, file=file)
        tables.setdefault(table, []).append(out.valid)
        quarantine.append(out.quarantine.with_columns(source=pl.lit(source)).select(schema.QUARANTINE_COLUMNS))
        accounting.append({"source": source, "table": table, "file": file, "map": "-", "rows_in": raw.height,
                           "rows_valid": out.valid.height, "rows_quarantined": out.quarantine.height})
    return schema.LoadedSources({t: pl.concat(f, how="diagonal_relaxed") for t, f in tables.items()},
                                pl.concat(quarantine, how="vertical_relaxed"), pl.DataFrame(accounting), [])


def _where(result) -> dict[tuple[str, str, int], str]:
    """Every row's destination, keyed by (table, file, row); a row seen twice raises."""
    seen: dict[tuple[str, str, int], str] = {}

    def put(table, file, row, where):
        assert (table, file, row) not in seen, f"{(table, file, row)} in {seen.get((table, file, row))} and {where}"
        seen[(table, file, row)] = where
    for table, frame in result.tables.items():
        if table != "identifiers":
            for file, row in frame.select("source_file", "source_row").iter_rows():
                put(table, file, row, "clean")
    for table, file, row, reason in result.quarantine.select("table", "file", "row", "reason").iter_rows():
        put(table, file, row, reason)
    for file, row, reason in result.non_product.select("source_file", "source_row", "reason").iter_rows():
        put("orders", file, row, reason)
    return seen


def test_clean_routes_every_row_and_accounts_for_it():
    orders = {"order_id": ["A", "A", "A", "B", "C", "D", None], "line_no": ["1", "2", "2", "1", "1", "1", "1"],
              "source_customer_id": ["c1"] * 7, "product_id": ["p", "p", "p ", "POST", "q", "q", "p"],
              "order_ts": ["2024-01-05 10:00:00"] * 6 + ["2024-01-05"], "quantity": ["1", "1", "1.0", "1", "2", "1", "1"],
              "unit_price": ["5", "5", "5.00", "8", "3", "3", "5"], "amount": ["5", "5", "5", "8", "6", "-3", "5"],
              "status": ["paid", "paid", "paid", "paid", "paid", "paid", "paid"]}
    customers = {"source_customer_id": ["c1", "c1", "c1", "c2"],
                 "phone": ["138 0013 8000", "+86 13800138000", "139-0013-9000", "bad"],
                 "email": [" A@B.CN", "a@b.cn", None, "x@y.com"], "name": ["甲", "乙", "甲", "丙"]}
    result = clean.clean(_loaded({("pos", "orders", "o.csv"): orders, ("pos", "customers", "c.csv"): customers}))
    assert _where(result) == {
        ("orders", "o.csv", 1): "clean", ("orders", "o.csv", 2): "clean",  # own line numbers: two real lines
        ("orders", "o.csv", 3): "near_duplicate", ("orders", "o.csv", 4): "fee_code",
        ("orders", "o.csv", 5): "clean", ("orders", "o.csv", 6): "negative_amount",
        ("orders", "o.csv", 7): "missing_required",  # step 01's quarantine is carried along
        ("customers", "c.csv", 1): "clean", ("customers", "c.csv", 2): "repeated_record",
        ("customers", "c.csv", 3): "clean", ("customers", "c.csv", 4): "clean"}
    quarantined = result.quarantine.filter(pl.col("reason") == "near_duplicate").row(0, named=True)
    assert quarantined["message"] == ("a copy of an earlier row once text is trimmed and numbers are standardized "
                                      "(row 2, kept)")
    assert '"product_id":"p "' in quarantined["record"], "the record is the row as loaded"
    assert tuple(result.quarantine.columns) == QUARANTINE_COLUMNS
    assert result.tables["identifiers"].sort("id_type", "id_value").select("source_customer_id", "id_type",
                                                                             "id_value").rows() == [
        ("c1", "email", "a@b.cn"), ("c2", "email", "x@y.com"),
        ("c1", "phone", "+8613800138000"), ("c1", "phone", "+8613900139000")]
    summary = clean.accounting_summary(result.accounting)
    assert summary.select("table", "rows_in", "rows_clean", "rows_quarantined", "rows_separated").sort("table").rows() \
        == [("customers", 4, 3, 1, 0), ("orders", 7, 3, 3, 1)]
    assert summary["balanced"].all()
    assert result.summary()["duplicates"] == 1 and result.summary()["repeated_records"] == 1


ROWS = st.fixed_dictionaries({
    "order_id": st.sampled_from(["A", "A ", "B", "C", ""]), "line_no": st.sampled_from(["1", "2", "x"]),
    "source_customer_id": st.sampled_from(["c1", "c2", None]), "product_id": st.sampled_from(["p", "q", "POST", "m"]),
    "order_ts": st.sampled_from(["2024-01-05 10:00:00", "2024-01-06 10:00:00", "2024-02-30 10:00:00"]),
    "quantity": st.sampled_from(["1", "2", "-1", "-2", "1.0"]), "unit_price": st.sampled_from(["0", "2", "2.00", "x"]),
    "amount": st.sampled_from(["2", "-2", "0", None]),
    "status": st.sampled_from(["paid", "cancelled", "refunded", "lost"]),
})
PEOPLE = st.fixed_dictionaries({
    "source_customer_id": st.sampled_from(["c1", "c2", " c1", None]),
    "phone": st.sampled_from(["13800138000", "+86 138 0013 8000", "bad", None]),
    "email": st.sampled_from(["a@b.cn", " A@B.CN ", None]),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=st.lists(ROWS, min_size=1, max_size=25), people=st.lists(PEOPLE, min_size=1, max_size=12))
def test_every_row_is_clean_quarantined_or_separated_exactly_once(orders, people):
    def columns(rows):
        return {k: [r[k] for r in rows] for k in rows[0]}
    result = clean.clean(_loaded({("s", "orders", "o.csv"): columns(orders),
                                  ("s", "customers", "c.csv"): columns(people)}))
    where = _where(result)
    assert sorted(where) == sorted([("orders", "o.csv", i + 1) for i in range(len(orders))]
                                   + [("customers", "c.csv", i + 1) for i in range(len(people))])
    summary = clean.accounting_summary(result.accounting)
    assert summary["balanced"].all() and summary["rows_in"].sum() == len(orders) + len(people)
    assert result.quarantine.filter(pl.col("message").is_null() | pl.col("reason").is_null()).is_empty()


def _again(result):
    from persona_kit import schema
    tables = {t: f for t, f in result.tables.items() if t != "identifiers"}
    accounting = pl.concat([f.group_by("source", pl.col("source_file").alias("file")).agg(rows_in=pl.len())
                            .with_columns(table=pl.lit(t)) for t, f in tables.items()])
    empty = result.quarantine.clear()
    return clean.clean(schema.LoadedSources(tables, empty, accounting, []), dates=False)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=st.lists(ROWS, min_size=1, max_size=25), people=st.lists(PEOPLE, min_size=1, max_size=12))
def test_cleaning_clean_data_changes_nothing(orders, people):
    from polars.testing import assert_frame_equal
    first = clean.clean(_loaded({("s", "orders", "o.csv"): {k: [r[k] for r in orders] for k in orders[0]},
                                 ("s", "customers", "c.csv"): {k: [r[k] for r in people] for k in people[0]}}))
    second = _again(first)
    for table, frame in first.tables.items():
        assert_frame_equal(second.tables[table], frame)
    assert second.quarantine.is_empty() and second.non_product.is_empty()
    assert second.changes.is_empty(), second.changes


# --- UCI Online Retail: the README's reference numbers ------------------------------------------------------

RETAIL = ROOT / "../shared/datasets/online_retail/online_retail.parquet"


@pytest.fixture(scope="module")
def retail():
    if not RETAIL.is_file():
        pytest.skip("../shared/datasets/online_retail is not here")
    from persona_kit import datasets
    loaded = datasets.load_online_retail(RETAIL)
    return loaded, clean.clean(loaded, dates=False)


@pytest.mark.slow
def test_online_retail_reference_rule_and_exact_duplicates(retail):
    loaded, result = retail
    reference = clean.reference_purchases(loaded.tables["orders"])
    assert reference.height == 397_884
    assert reference["source_customer_id"].n_unique() == 4_338
    assert round(reference["amount"].sum(), 2) == 8_911_407.90
    assert clean.dedupe_orders(reference).height == 392_692
    assert result.quarantine.filter(pl.col("reason") == "exact_duplicate").height == 5_268
    assert result.summary()["duplicates"] == 5_268, "no near duplicates beyond the exact ones"


@pytest.mark.slow
def test_online_retail_cancellations_are_netted_not_just_dropped(retail):
    loaded, result = retail
    assert loaded.tables["orders"].filter(pl.col("status") == "cancelled").height == 9_288
    orders, fees = result.tables["orders"], result.non_product
    copies = result.quarantine.filter(pl.col("record").str.contains('"status":"cancelled"'))
    assert (orders.filter(pl.col("status") == "cancelled").height + fees.filter(pl.col("status") == "cancelled")
            .height + copies.height) == 9_288
    huge = orders.filter(pl.col("quantity").abs().is_in([80_995.0, 74_215.0]))
    assert sorted(huge.select("source_customer_id", "quantity").rows()) == [
        ("12346", -74_215.0), ("12346", 74_215.0), ("16446", -80_995.0), ("16446", 80_995.0)]
    assert huge["net_quantity"].to_list() == [0.0] * 4 and huge["net_amount"].to_list() == [0.0] * 4
    netted = clean.netted_purchases(orders)
    reference = clean.reference_purchases(loaded.tables["orders"])
    assert "12346" not in netted["source_customer_id"].to_list()  # their only order was cancelled in full
    assert round(reference.filter(pl.col("source_customer_id") == "12346")["amount"].sum(), 2) == 77_183.60
    spent = reference.filter((pl.col("source_customer_id") == "16446") & (pl.col("quantity") < 80_995))
    assert netted.filter(pl.col("source_customer_id") == "16446")["amount"].sum() == pytest.approx(
        spent["amount"].sum())
    assert huge.filter(pl.col("quantity") > 0)["outlier"].to_list() == [True, True]


@pytest.mark.slow
def test_online_retail_rows_add_up_with_fees_separated(retail):
    _, result = retail
    summary = clean.accounting_summary(result.accounting).row(0, named=True)
    assert summary["rows_in"] == 541_909 and summary["balanced"]
    assert summary["rows_quarantined"] == 5_268 + 2  # duplicates + the two negative-price bad-debt lines
    reasons = dict(result.non_product.group_by("reason").len().iter_rows())
    assert reasons["stock_adjustment"] == 1_336  # the non-cancellation negative quantities, all at price 0
    assert set(result.non_product.filter(pl.col("reason") == "fee_code")["product_id"].str.to_uppercase()) <= \
        set(clean.NON_PRODUCT_CODES)


# --- the synthetic sample: every planted dirty row lands where its kind says --------------------------------

SAMPLE_TABLE = {"tmall_orders.csv": "orders", "pos_orders.csv": "orders", "wechat_orders.csv": "orders",
                "pos_members.csv": "customers", "wechat_members.csv": "customers", "app_events.parquet": "events"}


@pytest.fixture(scope="module")
def sample():
    from persona_kit import schema
    loaded = schema.load_sources(ROOT / "data/sample/maps")
    return loaded, clean.clean(loaded)


def test_every_planted_dirty_row_ends_up_where_its_kind_says(sample):
    _, result = sample
    where = _where(result)
    dirty = pl.read_csv(ROOT / "data/sample/truth/dirty_rows.csv")
    orders = result.tables["orders"]
    for row in dirty.iter_rows(named=True):
        table = SAMPLE_TABLE[row["file"]]
        got = where[(table, row["file"], row["row"])]
        line = orders.filter((pl.col("source_file") == row["file"]) & (pl.col("source_row") == row["row"]))
        kind = row["kind"]
        if kind in ("exact_duplicate", "near_duplicate", "negative_amount"):
            assert got == kind, row
        elif kind == "bad_date" and row["detail"] == "value (empty)" and table == "customers":
            assert got == "clean", row  # an empty register date is missing, not wrong
        elif kind in ("bad_date", "bad_event_type", "missing_id"):
            assert got in ("unparseable_datetime", "missing_required", "invalid_choice"), row
        elif kind == "cancelled_big_order":
            assert got == "clean" and line.select("net_amount", "netted").row(0) == (0.0, True), row
        elif kind == "zero_amount":
            assert got == "clean" and line["zero_amount"].item(), row
        else:
            raise AssertionError(f"unknown dirty kind {kind}")


def test_sample_outputs_for_the_identity_step(sample):
    loaded, result = sample
    customers, identifiers = result.tables["customers"], result.tables["identifiers"]
    tmall = customers.filter(pl.col("source") == "tmall")
    assert tmall.height == tmall.select("source_customer_id", "phone", "taobao_nick").n_unique() < 3_000
    phones = identifiers.filter(pl.col("id_type") == "phone")["id_value"]
    assert phones.str.contains(r"^\+861[3-9]\d{9}$").all()
    emails = identifiers.filter(pl.col("id_type") == "email")["id_value"]
    assert (emails == emails.str.strip_chars().str.to_lowercase()).all()
    repeats = result.quarantine.filter((pl.col("source") == "tmall") & (pl.col("table") == "customers"))
    assert set(repeats["reason"]) == {"repeated_record"} and repeats.height == 20_386 - tmall.height
    assert clean.accounting_summary(result.accounting)["balanced"].all()
    assert result.accounting.filter(pl.col("outcome") == "in")["rows"].sum() == loaded.accounting["rows_in"].sum()
    rules = set(result.changes["rule"])
    assert {"phone_normalized", "email_normalized", "date_parsed", "text_trimmed"} <= rules
    shapes = result.changes.filter((pl.col("column") == "register_ts") & (pl.col("source") == "pos"))["before"]
    assert all(shapes.str.contains(p).any() for p in (r"^\d{8}$", r"^\d{5}$", r"^\d{4}/\d{1,2}/\d{1,2}$"))
