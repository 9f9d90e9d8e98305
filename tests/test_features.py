"""Tests for persona_kit.features: known answers on hand-built frames, no leakage, pandas and polars."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from persona_kit import features
from persona_kit.errors import InputError

D = dt.datetime
AS_OF = "2024-06-30"


def _pl(out) -> pl.DataFrame:
    return out if isinstance(out, pl.DataFrame) else pl.from_pandas(out)


def _row(out, person="a") -> dict:
    return _pl(out).filter(pl.col("person_id") == person).row(0, named=True)


def test_feature_columns_contract():
    cols = features.FEATURE_COLUMNS
    for name in ["views_30d", "orders_90d", "spend_365d", "aov_365d", "active_days_30d",
                 "days_since_last_active", "days_since_last_purchase", "first_purchase_date", "top_category",
                 "price_band", "preferred_channel", "peak_hour", "peak_weekday", "discount_share_365d",
                 "reviews_365d", "avg_rating_365d", "avg_sentiment_365d", "gender", "age", "city",
                 "province", "member_level", "consent_marketing"]:
        assert name in cols and cols[name]
    assert list(features.feature_columns((7,))).count("views_7d") == 1


# --- events -------------------------------------------------------------------------------------------------

EVENTS = {
    "person_id": ["a"] * 7 + ["b"],
    "event_type": ["view", "view", "click", "cart", "view", "search", "view", "fav"],
    # as_of 2024-06-30: the 7-day window is 06-24 00:00 (inclusive) … 07-01 00:00 (exclusive)
    "event_ts": [D(2024, 6, 30, 23, 59), D(2024, 6, 24, 0, 0), D(2024, 6, 24, 0, 1), D(2024, 6, 23, 23, 59),
                 D(2024, 6, 1, 10), D(2024, 5, 1, 10), D(2024, 7, 1, 0, 0), D(2024, 6, 20, 8)],
    "session_id": ["s1", "s2", "s2", "s3", "s4", None, "s5", "s6"],
    "dwell_s": [10.0, 20.0, 5.0, None, 7.0, 1.0, 99.0, 3.0],
}


def test_event_features_known_answers_and_window_boundaries(frame):
    out = features.event_features(frame(EVENTS), as_of=AS_OF, windows=(7, 30, 90))
    a = _row(out)
    assert (a["views_7d"], a["views_30d"], a["views_90d"]) == (2, 3, 3)  # 06-30 23:59 and 06-24 00:00 are in
    assert (a["clicks_7d"], a["carts_7d"], a["carts_30d"], a["searches_90d"], a["searches_30d"]) == (1, 0, 1, 1, 0)
    assert (a["sessions_7d"], a["sessions_30d"]) == (2, 4)  # the 07-01 event and session s5 are after as_of
    assert (a["bounce_rate_7d"], a["bounce_rate_30d"]) == (0.5, 0.75)  # s1 single; s2 two events; s3, s4 single
    assert (a["dwell_s_7d"], a["dwell_s_30d"]) == (35.0, 42.0)
    assert (a["active_days_7d"], a["active_days_30d"], a["active_days_90d"]) == (2, 4, 5)
    assert a["days_since_last_active"] == 0
    assert a["peak_hour"] == 0 and a["peak_weekday"] == 1  # two events at 00:xx on Monday 06-24
    b = _row(out, "b")
    assert (b["favs_7d"], b["favs_30d"], b["days_since_last_active"], b["bounce_rate_7d"]) == (0, 1, 10, None)
    assert type(out) is type(frame({"x": [1]}))


def test_event_features_keep_lazy_frames_lazy():
    out = features.event_features(pl.LazyFrame(EVENTS), as_of=AS_OF, windows=(7,))
    assert isinstance(out, pl.LazyFrame)
    assert out.collect().filter(pl.col("person_id") == "a")["views_7d"].item() == 2


def test_time_zones_are_read_in_local_time():
    ev = pl.DataFrame(EVENTS).with_columns(pl.col("event_ts").dt.replace_time_zone("Asia/Shanghai"))
    out = features.event_features(ev, as_of=AS_OF, windows=(7,))
    assert out.filter(pl.col("person_id") == "a")["views_7d"].item() == 2


# --- orders -------------------------------------------------------------------------------------------------

ORDERS = {
    "person_id": ["a", "a", "a", "a", "b", "c", "a"],
    "order_id": ["1", "1", "2", "3", "4", "5", "9"],
    "order_ts": [D(2024, 6, 1, 9), D(2024, 6, 1, 9), D(2024, 6, 21, 20), D(2024, 6, 29, 8), D(2024, 1, 5),
                 D(2024, 6, 30, 12), D(2024, 7, 1, 1)],
    "amount": [60.0, 40.0, 50.0, 30.0, 900.0, 10.0, 5000.0],
    "quantity": [1.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0],
    "category": ["护肤", "彩妆", "护肤", "香水", "香水", None, "香水"],
    "brand": ["X", "Y", "X", "Z", "Z", "Y", "Z"],
    "discount": [0.0, 0.0, 50.0, None, 100.0, 0.0, 0.0],
    "channel": ["tmall", "tmall", "app", "app", "offline", "app", "tmall"],
}


def test_order_features_known_answers(frame):
    out = features.order_features(frame(ORDERS), as_of=AS_OF, windows=(7, 30, 365))
    a = _row(out)
    assert (a["orders_7d"], a["orders_30d"], a["items_30d"], a["spend_30d"]) == (1, 3, 6.0, 180.0)
    assert (a["aov_7d"], a["aov_30d"]) == (30.0, 60.0)
    assert (a["categories_7d"], a["categories_30d"]) == (1, 3)
    assert a["discount_share_30d"] == pytest.approx(50 / 230)
    assert str(a["first_purchase_date"])[:10] == "2024-06-01" and str(a["last_purchase_date"])[:10] == "2024-06-29"
    assert a["days_since_last_purchase"] == 1
    assert a["purchase_interval_days"] == 14.0  # days 06-01, 06-21, 06-29: gaps 20 and 8
    assert (a["top_category"], a["top_brand"], a["preferred_channel"]) == ("护肤", "X", "app")  # app 2 orders
    b = _row(out, "b")
    assert (b["orders_30d"], b["aov_30d"], b["orders_365d"], b["purchase_interval_days"]) == (0, None, 1, None)
    assert b["days_since_last_purchase"] == 177
    # mean unit price: a 30, b 900, c 10 → terciles of {10, 30, 900}: c low, a mid, b high
    assert [_row(out, p)["price_band"] for p in "cab"] == ["low", "mid", "high"]
    assert _row(out, "c")["top_category"] is None


def test_orders_without_brand_have_no_top_brand(frame):
    data = {k: v for k, v in ORDERS.items() if k != "brand"}
    out = features.order_features(frame(data), as_of=AS_OF, windows=(30,))
    assert "top_brand" not in _pl(out).columns


# --- reviews and demographics -------------------------------------------------------------------------------

def test_review_features_known_answers(frame):
    data = {"person_id": ["a", "a", "a", "b"], "rating": [5, 2, None, 4], "sentiment": [0.9, 0.1, 0.5, None],
            "review_ts": [D(2024, 6, 29), D(2024, 1, 1), D(2024, 6, 30, 23), D(2024, 7, 2)]}
    out = features.review_features(frame(data), as_of=AS_OF, windows=(7, 365))
    a = _row(out)
    assert (a["reviews_7d"], a["reviews_365d"], a["avg_rating_7d"], a["avg_rating_365d"]) == (2, 3, 5.0, 3.5)
    assert a["avg_sentiment_7d"] == pytest.approx(0.7) and a["avg_sentiment_365d"] == pytest.approx(0.5)
    assert _pl(out)["person_id"].to_list() == ["a"]  # b's only review is after as_of


CUSTOMERS = {
    "person_id": ["a", "a", "a", "b", "b", "c"],
    "gender": ["female", "unknown", "female", "unknown", None, "male"],
    "city": ["上海", "杭州", "杭州", None, None, "北京"],
    "province": ["上海", "浙江", "浙江", None, None, "北京"],
    "member_level": ["gold", None, "silver", None, None, None],
    "birth_date": [D(1990, 6, 30), None, D(1990, 6, 30), D(2000, 7, 1), None, None],
    "consent_marketing": [True, None, False, True, True, None],
}


def test_demographics_combine_several_records_per_person(frame):
    out = features.demographics(frame(CUSTOMERS), as_of=AS_OF)
    a, b, c = (_row(out, p) for p in "abc")
    assert (a["gender"], a["city"], a["province"], a["member_level"]) == ("female", "杭州", "浙江", "gold")
    assert (a["age"], b["age"]) == (34, 23)  # a's birthday is on as_of; b's is the day after
    assert (a["consent_marketing"], b["consent_marketing"], c["consent_marketing"]) == (False, True, None)
    assert (b["gender"], c["gender"]) == ("unknown", "male")
    assert _pl(out).height == 3


# --- everything together; leakage -----------------------------------------------------------------------------

def _tables(frame, future: bool = False):
    ev, od = dict(EVENTS), dict(ORDERS)
    od = {**od, "net_quantity": od["quantity"], "net_amount": od["amount"], "status": ["paid"] * 7,
          "unit_price": [1.0] * 7, "source_key": ["k"] * 7, "product_id": ["p"] * 7}
    if future:  # events and orders after as_of, for old and new persons
        ev = {k: v + {"person_id": ["a", "z"], "event_type": ["view", "view"], "session_id": ["x", "y"],
                      "event_ts": [D(2024, 7, 1), D(2025, 1, 1)], "dwell_s": [1.0, 1.0]}[k] for k, v in ev.items()}
        extra = {"person_id": ["a", "z"], "order_id": ["f1", "f2"], "order_ts": [D(2024, 7, 1), D(2024, 8, 1)],
                 "amount": [1e6, 1e6], "quantity": [9.0, 9.0], "category": ["香水"] * 2, "brand": ["Q"] * 2,
                 "discount": [0.0, 0.0], "channel": ["wechat"] * 2, "net_quantity": [9.0, 9.0],
                 "net_amount": [1e6, 1e6], "status": ["paid"] * 2, "unit_price": [1.0] * 2,
                 "source_key": ["k"] * 2, "product_id": ["p"] * 2}
        od = {k: v + extra[k] for k, v in od.items()}
    return frame(ev), frame(od)


def test_nothing_after_as_of_changes_a_feature(frame):
    before = _pl(features.build_features(*_tables(frame), as_of=AS_OF))
    after = _pl(features.build_features(*_tables(frame, future=True), as_of=AS_OF))
    assert after.equals(before)
    assert before["person_id"].to_list() == ["a", "b", "c"]


def test_build_features_fills_counts_with_zero_and_nets_orders(frame):
    ev, od = _tables(frame)
    out = _pl(features.build_features(ev, od, as_of=AS_OF, windows=(30,)))
    c = out.filter(pl.col("person_id") == "c").row(0, named=True)
    assert (c["views_30d"], c["sessions_30d"], c["bounce_rate_30d"], c["orders_30d"]) == (0, 0, None, 1)
    with pytest.raises(InputError, match=r"netted_purchases needs net_quantity and net_amount; run "):
        features.build_features(orders=frame(ORDERS), as_of=AS_OF)


# --- errors -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("as_of", "match"), [
    (D(2024, 6, 30, 12), r"as_of must be a date \(the last day observed\), got the datetime datetime\.datetime"
                         r"\(2024, 6, 30, 12, 0\); pass as_of\.date\(\) or 'YYYY-MM-DD'"),
    ("30/06/2024", r"as_of must be a date 'YYYY-MM-DD', got '30/06/2024'"),
    (20240630, r"as_of must be a date 'YYYY-MM-DD', got 20240630"),
])
def test_bad_as_of(frame, as_of, match):
    with pytest.raises(InputError, match=match):
        features.event_features(frame(EVENTS), as_of=as_of)


@pytest.mark.parametrize(("windows", "match"), [
    ((7, 0), r"windows must be positive whole days, got \[7, 0\]; bad: \[0\]"),
    ((7.5,), r"windows must be positive whole days, got \[7\.5\]; bad: \[7\.5\]"),
    ((), r"windows must be a non-empty sequence of positive whole days, got \(\)"),
    (30, r"windows must be a non-empty sequence of positive whole days, got 30"),
])
def test_bad_windows(frame, windows, match):
    with pytest.raises(InputError, match=match):
        features.order_features(frame(ORDERS), as_of=AS_OF, windows=windows)


def test_missing_columns_are_named(frame):
    data = {k: v for k, v in EVENTS.items() if k != "dwell_s"}
    with pytest.raises(InputError, match=r"^events: missing columns \['dwell_s'\]; available: "):
        features.event_features(frame(data), as_of=AS_OF)
    with pytest.raises(InputError, match=r"^reviews: missing columns \['sentiment'\]; available: "
                                         r"\['person_id', 'rating', 'review_ts'\]"):
        features.review_features(frame({"person_id": ["a"], "rating": [1], "review_ts": [D(2024, 1, 1)]}),
                                 as_of=AS_OF)
    with pytest.raises(InputError, match=r"build_features needs at least one of events, orders, reviews, customers"):
        features.build_features(as_of=AS_OF)
    with pytest.raises(InputError, match=r"events: expected a pandas or polars DataFrame, got list"):
        features.event_features([1, 2], as_of=AS_OF)


# --- the synthetic sample ------------------------------------------------------------------------------------

def test_sample_features_for_every_person_and_planted_personas_differ(sample_identity):
    tables, result, persona = sample_identity
    reviews = tables["reviews"].with_columns(sentiment=(pl.col("rating") - 1) / 4)
    f = features.build_features(tables["events"], tables["orders"], reviews, tables["customers"],
                                as_of="2026-06-30", products=tables.get("products"))
    persons = result.record_map["person_id"].unique()
    assert f["person_id"].n_unique() == f.height and set(persons) <= set(f["person_id"])
    assert set(features.FEATURE_COLUMNS) <= set(f.columns)
    by = (f.join(persona, on="person_id").group_by("persona")
          .agg(pl.col("aov_365d").median(), views_per_order=(pl.col("views_365d").sum() / pl.col("orders_365d").sum()),
               days=pl.col("days_since_last_purchase").median()).sort("persona"))
    top = {c: by.sort(c, descending=True, nulls_last=True)["persona"][0] for c in ("aov_365d", "views_per_order", "days")}
    assert top == {"aov_365d": "luxury_fragrance", "views_per_order": "browser", "days": "lapsed"}


def test_a_sql_lazy_backend_gives_the_same_features():
    """duckdb: the same narwhals code on a lazy SQL engine."""
    duckdb = pytest.importorskip("duckdb")
    reviews = pl.DataFrame({"person_id": ["a"], "rating": [5], "sentiment": [0.9], "review_ts": [D(2024, 6, 29)]})
    cases = [(features.event_features, pl.DataFrame(EVENTS)), (features.order_features, pl.DataFrame(ORDERS)),
             (features.review_features, reviews), (features.demographics, pl.DataFrame(CUSTOMERS))]
    for fn, df in cases:
        expected = fn(df, as_of=AS_OF)
        got = fn(duckdb.from_arrow(df.to_arrow()), as_of=AS_OF).pl()
        assert got.select(expected.columns).cast(expected.schema, strict=False).equals(expected), fn.__name__


def _from_spark(frame, like: pl.DataFrame) -> pl.DataFrame:
    return pl.from_pandas(frame.toPandas()).select(like.columns).cast(like.schema, strict=False).sort("person_id")


def _assert_same(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Equal to the last bit: money, quantities and seconds come back from fixed point through
    ``features.from_fixed`` (polars divides by a constant through its reciprocal, Spark divides exactly)."""
    assert got.equals(expected), [c for c in expected.columns if not got[c].equals(expected[c])]


def test_pyspark_gives_the_same_features_and_stays_spark(spark):
    reviews = pl.DataFrame({"person_id": ["a"], "rating": [5], "sentiment": [0.9], "review_ts": [D(2024, 6, 29)]})
    cases = [(features.event_features, pl.DataFrame(EVENTS)), (features.order_features, pl.DataFrame(ORDERS)),
             (features.review_features, reviews), (features.demographics, pl.DataFrame(CUSTOMERS))]
    for fn, df in cases:
        expected = fn(df, as_of=AS_OF).sort("person_id")
        got = fn(spark.createDataFrame(df.to_pandas()), as_of=AS_OF)
        assert type(got).__name__ == "DataFrame" and hasattr(got, "toPandas"), fn.__name__  # a Spark frame
        _assert_same(_from_spark(got, expected), expected)


def test_pyspark_and_polars_agree_on_the_sample(sample_identity, spark):
    """300 persons of the sample, every table, time-zone-aware timestamps, netting and brands included."""
    tables, _, _ = sample_identity
    persons = tables["customers"]["person_id"].unique().sort().head(300).implode()
    small = {name: tables[name].filter(pl.col("person_id").is_in(persons))
             for name in ("events", "orders", "reviews", "customers")}
    small["reviews"] = small["reviews"].with_columns(sentiment=(pl.col("rating") - 1) / 4)
    small["products"] = tables["products"]
    expected = features.build_features(small["events"], small["orders"], small["reviews"], small["customers"],
                                       as_of="2026-06-30", products=small["products"])
    on_spark = {name: spark.createDataFrame(frame.to_pandas()) for name, frame in small.items()}
    got = features.build_features(on_spark["events"], on_spark["orders"], on_spark["reviews"],
                                  on_spark["customers"], as_of="2026-06-30", products=on_spark["products"])
    assert expected.height == 300 and expected["orders_365d"].sum() > 0 and expected["views_365d"].sum() > 0
    _assert_same(_from_spark(got, expected), expected)


def test_order_features_without_category_discount_or_channel_are_null_not_zero():
    import datetime as dt

    orders = pl.DataFrame({"person_id": ["p1", "p1"], "order_id": ["o1", "o2"], "line_no": [1, 1],
                           "order_ts": [dt.datetime(2024, 6, 1, 10), dt.datetime(2024, 6, 20, 10)],
                           "amount": [10.0, 30.0], "quantity": [1.0, 3.0]})
    out = features.order_features(orders, as_of="2024-06-30", windows=(30,))
    row = out.row(0, named=True)
    assert (row["orders_30d"], row["spend_30d"], row["aov_30d"]) == (2, 40.0, 20.0)
    assert row["discount_share_30d"] is None and row["top_category"] is None
    assert row["preferred_channel"] is None and row["categories_30d"] is None


def test_features_do_not_depend_on_row_order():
    """Sums are exact (fixed point): reordering rows, as a parallel group-by does, changes no bit."""
    import datetime as dt

    import numpy as np

    rng = np.random.default_rng(3)
    n = 20_000
    orders = pl.DataFrame({
        "person_id": rng.integers(0, 300, n).astype(str), "order_id": np.arange(n).astype(str), "line_no": 1,
        "order_ts": [dt.datetime(2024, 6, 1) + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 40_000, n)],
        "amount": rng.random(n) * 300, "quantity": rng.integers(1, 4, n).astype(float),
        "discount": rng.random(n) * 10, "category": "护肤", "channel": "app"})
    events = pl.DataFrame({"person_id": orders["person_id"], "event_ts": orders["order_ts"], "event_type": "view",
                           "session_id": orders["order_id"], "dwell_s": rng.random(n) * 100})
    for build, frame in ((features.order_features, orders), (features.event_features, events)):
        first = build(frame, as_of="2024-06-30")
        assert first.equals(build(frame.sample(fraction=1.0, shuffle=True, seed=1), as_of="2024-06-30"))
