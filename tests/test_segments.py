"""Tests for persona_kit.segments: RFM against the Online Retail reference, lifecycle, AIPL and stage flows."""

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy import stats

from persona_kit import features, segments
from persona_kit.errors import InputError
from persona_kit.i18n import labels

D = dt.datetime


def _native(frame_kind, out):
    return out if isinstance(out, pl.DataFrame) else pl.from_pandas(out)


# --- RFM ----------------------------------------------------------------------------------------------------

ORDERS = {"person_id": ["a", "a", "a", "b", "c"], "order_id": ["1", "1", "2", "3", "4"],
          "order_ts": [D(2024, 6, 1, 10), D(2024, 6, 1, 10), D(2024, 6, 29, 23, 59), D(2024, 1, 1), D(2024, 7, 1)],
          "amount": [10.0, 2.5, 7.5, 40.0, 99.0]}


def test_rfm_table_known_answer_on_pandas_and_polars(frame):
    out = segments.rfm_table(frame(ORDERS), as_of="2024-06-30")
    assert type(out) is type(frame(ORDERS))
    rows = _native(frame, out).rows()
    # a: last purchase 2024-06-29 23:59 is 1 day and 1 minute before the midnight after as_of → 1 day
    assert rows == [("a", 1, 2, 20.0), ("b", 182, 1, 40.0)]  # c bought after as_of: not there


def test_rfm_table_lazy_in_lazy_out_and_local_time():
    tz = pl.DataFrame(ORDERS).with_columns(pl.col("order_ts").dt.replace_time_zone("Asia/Shanghai"))
    out = segments.rfm_table(tz.lazy(), as_of="2024-06-30")
    assert isinstance(out, pl.LazyFrame)
    assert out.collect()["recency_days"].to_list() == [1, 182]


def test_rfm_scores_match_an_independent_rank_computation():
    rng = np.random.default_rng(3)
    rfm = pl.DataFrame({"person_id": [str(i) for i in range(500)], "recency_days": rng.integers(0, 400, 500),
                        "frequency": rng.geometric(0.45, 500), "monetary": rng.lognormal(5, 1, 500).round(0)})
    scored = segments.rfm_scores(rfm)
    for column, score, sign in (("recency_days", "r_score", -1), ("frequency", "f_score", 1), ("monetary", "m_score", 1)):
        values = sign * rfm[column].to_numpy()
        strictly_worse = np.array([stats.percentileofscore(values, v, kind="strict") for v in values]) / 100
        expected = np.floor(5 * strictly_worse + 1e-9).astype(int) + 1
        assert scored[score].to_list() == expected.tolist(), column
    # equal values share a score
    assert scored.group_by("frequency").agg(pl.col("f_score").n_unique())["f_score"].max() == 1


def test_rfm_segments_grid_and_classes(frame):
    grid = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    data = {"recency_days": [10] * len(grid), "frequency": [1] * len(grid), "monetary": [1.0] * len(grid),
            "r_score": [g[0] for g in grid], "f_score": [g[1] for g in grid], "m_score": [g[2] for g in grid]}
    out = _native(frame, segments.rfm_segments(frame(data)))
    assert set(out["rfm_segment"]) == set(segments.RFM_SEGMENTS)
    cell = dict(zip(grid, out["rfm_segment"], strict=True))
    assert cell[(5, 5, 5)] == "champions" and cell[(1, 5, 4)] == "cant_lose_them" and cell[(1, 1, 1)] == "lost"
    assert cell[(5, 1, 1)] == "new" and cell[(4, 1, 2)] == "promising" and cell[(2, 4, 5)] == "at_risk"
    # the 8 classes against a hand computation: R high below the mean recency, F / M high above the mean
    raw = {"recency_days": [1, 300, 5, 200, 10, 250, 2, 400], "frequency": [9, 9, 1, 1, 8, 8, 1, 1],
           "monetary": [900.0, 800.0, 700.0, 600.0, 5.0, 6.0, 7.0, 8.0]}
    scored = segments.rfm_scores(frame(raw))
    out = _native(frame, segments.rfm_segments(scored))
    assert out["rfm_class"].to_list() == ["important_value", "important_retention", "important_development",
                                          "important_winback", "general_value", "general_retention",
                                          "general_development", "general_winback"]
    median = _native(frame, segments.rfm_segments(scored, split="median"))
    assert median["rfm_class"].to_list() == out["rfm_class"].to_list()


def test_every_segment_code_has_a_label():
    table = labels()
    codes = ([f"segment.rfm.{c}" for c in segments.RFM_SEGMENTS]
             + [f"segment.class.{c}" for c in segments.RFM_CLASSES.values()]
             + [f"segment.lifecycle.{c}" for c in segments.LIFECYCLE_STAGES]
             + [f"segment.aipl.{c}" for c in segments.AIPL_STAGES])
    assert [c for c in codes if c not in table] == []


def test_rfm_bad_input_is_named(frame):
    with pytest.raises(InputError, match=r"^orders: missing columns \['amount'\]"):
        segments.rfm_table(frame({"person_id": ["a"], "order_id": ["1"], "order_ts": [D(2024, 1, 1)]}),
                           as_of="2024-06-30")
    with pytest.raises(InputError, match=r"^as_of must be a date 'YYYY-MM-DD', got '30/06/2024'"):
        segments.rfm_table(frame(ORDERS), as_of="30/06/2024")
    rfm = frame({"recency_days": [1], "frequency": [1], "monetary": [1.0]})
    with pytest.raises(InputError, match=r"^bins must be a whole number >= 2, got 1$"):
        segments.rfm_scores(rfm, bins=1)
    with pytest.raises(InputError, match=r"^split must be one of \['mean', 'median'\], got 'avg'$"):
        segments.rfm_segments(segments.rfm_scores(rfm), split="avg")
    with pytest.raises(InputError, match=r"^rfm_segment needs scores from 1 to 5 \(rfm_scores with bins=5\); "
                                         r"5 rows are outside$"):
        segments.rfm_segments(segments.rfm_scores(frame({"recency_days": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                                                        "frequency": list(range(10)),
                                                        "monetary": [1.0] * 10}), bins=10))


# --- Online Retail: the README's RFM reference --------------------------------------------------------------

@pytest.fixture(scope="module")
def retail_rfm():
    from test_datasets import _dataset

    from persona_kit import clean, datasets

    loaded = datasets.load_online_retail(_dataset("online_retail/online_retail.parquet"))
    lines = clean.dedupe_orders(clean.reference_purchases(loaded.tables["orders"]))
    assert lines.height == 392_692
    # lazy over the order lines; as of 2011-12-09 = recency counted to 2011-12-10 00:00
    return segments.rfm_table(lines.lazy(), as_of="2011-12-09", person_col="source_customer_id").collect()


@pytest.mark.slow
def test_online_retail_rfm_reference(retail_rfm):
    r = retail_rfm
    assert r.height == 4_338
    assert round(r["recency_days"].mean(), 2) == 92.06 and r["recency_days"].median() == 50
    assert round(r["frequency"].mean(), 2) == 4.27 and r["frequency"].median() == 2 and r["frequency"].max() == 209
    assert round(r["monetary"].mean(), 2) == 2_048.69 and round(r["monetary"].median(), 2) == 668.57
    assert round(r["monetary"].max(), 2) == 280_206.02
    once = (r["frequency"] == 1).sum()
    assert once == 1_493 and round(once / r.height, 3) == 0.344
    top = r.sort("monetary", descending=True).head(4_338 // 5)["monetary"].sum() / r["monetary"].sum()
    assert round(top, 3) == 0.747


@pytest.mark.slow
def test_online_retail_segments_cover_everyone(retail_rfm):
    out = segments.rfm_segments(segments.rfm_scores(retail_rfm))
    assert out["rfm_segment"].null_count() == 0 and set(out["rfm_segment"]) == set(segments.RFM_SEGMENTS)
    assert set(out["rfm_class"]) == set(segments.RFM_CLASSES.values())
    # one-time buyers (34 %) all share the lowest F score
    assert out.filter(pl.col("frequency") == 1)["f_score"].unique().to_list() == [1]
    champions = out.filter(pl.col("rfm_segment") == "champions")
    assert champions["monetary"].median() > 4 * out["monetary"].median()


# --- lifecycle ----------------------------------------------------------------------------------------------

LIFE = {"person_id": ["new", "act", "act", "ret", "ret", "sil", "chu", "late"],
        "order_ts": [D(2024, 6, 25), D(2023, 12, 1), D(2024, 5, 1), D(2023, 9, 1), D(2024, 6, 10),
                     D(2024, 3, 1), D(2023, 10, 1), D(2024, 7, 2)]}


def test_lifecycle_stages_known_answer(frame):
    out = _native(frame, segments.lifecycle_stages(frame(LIFE), as_of="2024-06-30"))
    assert dict(out.rows()) == {"new": "new", "act": "active", "ret": "returned", "sil": "silent", "chu": "churned"}
    # a churned person who bought before the data starts and came back is "returned", later "active"
    wide = _native(frame, segments.lifecycle_stages(frame(LIFE), as_of="2024-06-30", churn_days=300))
    assert dict(wide.rows())["ret"] == "active" and dict(wide.rows())["chu"] == "silent"


def test_lifecycle_windows_are_checked(frame):
    with pytest.raises(InputError, match=r"^lifecycle windows must satisfy new_days <= active_days <= churn_days, "
                                         r"got 30, 200, 180$"):
        segments.lifecycle_stages(frame(LIFE), as_of="2024-06-30", active_days=200)
    with pytest.raises(InputError, match=r"^new_days must be a positive whole number of days, got 0$"):
        segments.lifecycle_stages(frame(LIFE), as_of="2024-06-30", new_days=0)


def test_lifecycle_transitions_between_two_dates(frame):
    before = segments.lifecycle_stages(frame(LIFE), as_of="2024-03-31")
    after = segments.lifecycle_stages(frame(LIFE), as_of="2024-06-30")
    flow = _native(frame, segments.stage_flow(before, after, stage_col="lifecycle_stage"))
    moves = {(a, b): n for a, b, n in flow.rows()}
    assert moves == {("none", "new"): 1, ("silent", "active"): 1, ("churned", "returned"): 1,
                     ("active", "silent"): 1, ("churned", "churned"): 1}  # "late" bought after both dates


# --- AIPL ---------------------------------------------------------------------------------------------------

def test_aipl_on_a_raw_pv_fav_cart_buy_log(frame):
    log = {"person_id": ["a", "b", "b", "c", "d", "d", "e"],
           "event_type": ["pv", "pv", "cart", "buy", "buy", "buy", "pv"],
           "event_ts": [D(2024, 6, 1), D(2024, 6, 2), D(2024, 6, 3), D(2024, 6, 4), D(2024, 5, 1), D(2024, 6, 5),
                        D(2024, 1, 1)]}
    out = _native(frame, segments.aipl_stages(frame(log), as_of="2024-06-30"))
    assert out.select("person_id", "aipl_stage").rows() == [("a", "awareness"), ("b", "interest"),
                                                            ("c", "purchase"), ("d", "loyalty")]
    assert out.filter(pl.col("person_id") == "c").row(0)[1:5] == (False, False, True, False)


def test_aipl_rules_with_orders_reviews_membership_dwell_and_scope(frame):
    events = {"person_id": ["a", "b", "c", "d"], "event_type": ["view", "view", "view", "exposure"],
              "event_ts": [D(2024, 6, 1)] * 4, "dwell_s": [5.0, 120.0, 1.0, None],
              "category": ["护肤", "护肤", "彩妆", "护肤"]}
    orders = {"person_id": ["c", "d", "e", "e"], "order_id": ["1", "2", "3", "4"],
              "order_ts": [D(2024, 6, 10), D(2024, 6, 10), D(2024, 1, 10), D(2024, 6, 10)],
              "category": ["护肤", "护肤", "彩妆", "彩妆"]}
    reviews = {"person_id": ["c"], "review_ts": [D(2024, 6, 12)], "rating": [5]}
    customers = {"person_id": ["d", "x"], "member_level": ["gold", "silver"]}
    out = _native(frame, segments.aipl_stages(frame(events), frame(orders), frame(reviews), frame(customers),
                                              as_of="2024-06-30"))
    assert dict(out.select("person_id", "aipl_stage").rows()) == {
        "a": "awareness", "b": "interest", "c": "loyalty", "d": "loyalty", "e": "loyalty"}
    skincare = _native(frame, segments.aipl_stages(frame(events), frame(orders), as_of="2024-06-30", scope="护肤"))
    assert dict(skincare.select("person_id", "aipl_stage").rows()) == {
        "a": "awareness", "b": "interest", "c": "purchase", "d": "purchase"}
    short = _native(frame, segments.aipl_stages(frame(events), frame(orders), as_of="2024-06-30", long_dwell_s=1e9,
                                                stage_events={"awareness": ("exposure",)}))
    assert dict(short.select("person_id", "aipl_stage").rows()) == {"c": "purchase", "d": "purchase", "e": "loyalty"}


def test_aipl_bad_input(frame):
    log = frame({"person_id": ["a"], "event_type": ["pv"], "event_ts": [D(2024, 6, 1)]})
    with pytest.raises(InputError, match=r"^aipl_stages needs events or orders$"):
        segments.aipl_stages(as_of="2024-06-30")
    with pytest.raises(InputError, match=r"^stage_events keys must be among \['awareness', 'interest', 'purchase'\], "
                                         r"got \['loyal'\]$"):
        segments.aipl_stages(log, as_of="2024-06-30", stage_events={"loyal": ("buy",)})
    with pytest.raises(InputError, match=r"^events: missing columns \['brand'\]"):
        segments.aipl_stages(log, as_of="2024-06-30", scope="X", scope_col="brand")


def test_stage_flow_counts_everyone_once(frame):
    before = frame({"person_id": ["a", "b", "c", "d"], "aipl_stage": ["awareness", "interest", "purchase", None]})
    after = frame({"person_id": ["a", "b", "e"], "aipl_stage": ["interest", "purchase", "awareness"]})
    flow = _native(frame, segments.stage_flow(before, after, stage_col="aipl_stage"))
    assert flow.rows() == [("awareness", "interest", 1), ("interest", "purchase", 1), ("none", "awareness", 1),
                           ("purchase", "none", 1)]


# --- the segment table on the sample ------------------------------------------------------------------------



@pytest.mark.slow
def test_segment_table_on_the_sample_has_one_row_per_person(sample_identity):
    from persona_kit import clean

    tables, result, _ = sample_identity
    persons = result.record_map.select("person_id").unique()
    kept = clean.netted_purchases(tables["orders"].rename({"source_key": "source_customer_id"}))
    seg = segments.segment_table(persons, tables["orders"], tables["events"], None, tables["customers"],
                                 as_of="2026-06-30")
    assert seg.height == persons.height and seg["person_id"].n_unique() == seg.height
    assert seg.columns == ["person_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                           "rfm_segment", "rfm_class", "lifecycle_stage", "aipl_stage"]
    buyers = kept.filter(pl.col("order_ts").dt.date() <= dt.date(2026, 6, 30))["person_id"].n_unique()
    assert seg["rfm_segment"].drop_nulls().len() == buyers == seg["lifecycle_stage"].drop_nulls().len()
    assert set(seg["aipl_stage"].drop_nulls()) == set(segments.AIPL_STAGES)
    # never-bought persons have null RFM columns, and no one is in "purchase" or above without buying
    never = seg.filter(pl.col("frequency").is_null())
    assert never.select(pl.col("recency_days", "monetary", "r_score", "rfm_class").null_count()).row(0) == (
        never.height,) * 4
    assert never.filter(pl.col("aipl_stage").is_in(["purchase", "loyalty"])).height == 0


def test_aipl_by_scope_is_aipl_stages_per_category(frame):
    events = {"person_id": ["a", "a", "b", "c", "c"], "event_type": ["view", "cart", "view", "view", "fav"],
              "category": ["护肤", "彩妆", "彩妆", "护肤", "护肤"], "event_ts": [D(2024, 6, 1)] * 5}
    orders = {"person_id": ["b"], "order_id": ["1"], "order_ts": [D(2024, 6, 2)], "category": ["彩妆"]}
    out = _native(frame, segments.aipl_by_scope(frame(events), frame(orders), as_of="2024-06-30",
                                                scopes=["彩妆", "护肤"]))
    assert out.rows() == [("彩妆", "interest", 1), ("彩妆", "purchase", 1), ("护肤", "awareness", 1),
                          ("护肤", "interest", 1)]
    for scope in ("彩妆", "护肤"):
        alone = _native(frame, segments.aipl_stages(frame(events), frame(orders), as_of="2024-06-30", scope=scope))
        assert alone["aipl_stage"].value_counts().sort("aipl_stage").rows() == out.filter(
            pl.col("scope") == scope).select("aipl_stage", "persons").sort("aipl_stage").rows()
    with pytest.raises(InputError, match=r"^scopes must be a non-empty list of category values, got '护肤'$"):
        segments.aipl_by_scope(frame(events), as_of="2024-06-30", scopes="护肤")


def test_purchases_keep_the_frame_kind_and_net(frame):
    orders = {"person_id": ["a", "a"], "source_key": ["k", "k"], "order_id": ["1", "2"],
              "status": ["paid", "paid"], "quantity": [2.0, 1.0], "unit_price": [5.0, 5.0], "amount": [10.0, 5.0],
              "net_quantity": [1.0, 0.0], "net_amount": [5.0, 0.0], "order_ts": [D(2024, 1, 1)] * 2}
    kept = features.purchases(frame(orders))
    assert type(kept) is type(frame(orders))
    assert _native(frame, kept).select("order_id", "quantity", "amount").rows() == [("1", 1.0, 5.0)]


def test_a_sql_lazy_backend_gives_the_same_rfm_lifecycle_and_aipl():
    """duckdb stands in for pyspark: the same narwhals code on a lazy SQL engine."""
    duckdb = pytest.importorskip("duckdb")
    orders = pl.DataFrame(ORDERS)
    log = pl.DataFrame({"person_id": ["a", "b", "b", "c"], "event_type": ["pv", "pv", "cart", "buy"],
                        "event_ts": [D(2024, 6, 1), D(2024, 6, 2), D(2024, 6, 3), D(2024, 6, 4)]})
    cases = [(segments.rfm_table, orders, {}), (segments.lifecycle_stages, pl.DataFrame(LIFE), {}),
             (segments.aipl_stages, log, {})]
    for fn, df, kw in cases:
        expected = fn(df, as_of="2024-06-30", **kw)
        got = fn(duckdb.from_arrow(df.to_arrow()), as_of="2024-06-30", **kw).pl().sort("person_id")
        assert got.select(expected.columns).cast(expected.schema, strict=False).equals(expected), fn.__name__


def test_segment_table_returns_the_kind_of_persons():
    import pandas as pd

    people = pd.DataFrame({"person_id": ["a", "b"]})
    orders = pd.DataFrame({"person_id": ["a"], "source_key": ["k"], "order_id": ["1"], "status": ["paid"],
                           "quantity": [1.0], "unit_price": [3.0], "amount": [3.0], "net_quantity": [1.0],
                           "net_amount": [3.0], "order_ts": [D(2024, 6, 1)]})
    out = segments.segment_table(people, orders, as_of="2024-06-30")
    assert isinstance(out, pd.DataFrame) and out["person_id"].tolist() == ["a", "b"]
    assert out["rfm_segment"].tolist()[0] in segments.RFM_SEGMENTS and pd.isna(out["rfm_segment"].tolist()[1])
    assert out["lifecycle_stage"].tolist()[0] == "new" and out["aipl_stage"].tolist()[0] == "purchase"


def test_pyspark_gives_the_same_rfm_scores_lifecycle_and_aipl(spark):
    orders = pl.DataFrame(ORDERS)
    log = pl.DataFrame({"person_id": ["a", "b", "b", "c"], "event_type": ["pv", "pv", "cart", "buy"],
                        "event_ts": [D(2024, 6, 1), D(2024, 6, 2), D(2024, 6, 3), D(2024, 6, 4)]})
    rfm = segments.rfm_table(orders, as_of="2024-06-30")
    cases = [(segments.rfm_table, orders), (segments.rfm_scores, rfm),
             (segments.lifecycle_stages, pl.DataFrame(LIFE)), (segments.aipl_stages, log)]
    for fn, df in cases:
        kw = {} if fn is segments.rfm_scores else {"as_of": "2024-06-30"}
        expected = fn(df, **kw).sort("person_id")
        got = fn(spark.createDataFrame(df.to_pandas()), **kw)
        assert hasattr(got, "toPandas"), fn.__name__  # a Spark DataFrame
        got = pl.from_pandas(got.toPandas()).select(expected.columns).cast(expected.schema, strict=False)
        assert got.sort("person_id").equals(expected), fn.__name__


def test_segment_table_runs_on_pyspark_with_the_same_result_on_the_sample(spark, sample_identity, tmp_path):
    """Step 05 on Spark (``spark_master``): every frame read from Parquet by Spark, the segments equal polars'."""
    tables, result, _ = sample_identity
    frames = {"persons": result.persons, **{n: tables[n] for n in ("orders", "events", "reviews", "customers")}}
    for name, frame in frames.items():
        frame.write_parquet(tmp_path / f"{name}.parquet")
    expected = segments.segment_table(*frames.values(), as_of="2026-06-30")
    got = segments.segment_table(*(spark.read.parquet(str(tmp_path / f"{n}.parquet")) for n in frames),
                                 as_of="2026-06-30")
    assert hasattr(got, "toPandas")  # stayed a Spark DataFrame
    got = pl.from_arrow(got.toArrow()).cast(expected.schema, strict=False)
    assert got.height == expected.height == result.persons.height
    assert got.equals(expected)
