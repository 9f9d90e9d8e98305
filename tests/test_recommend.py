"""Tests of persona_kit.recommend: rules equal mlxtend's on Online Retail invoices; CF beats popularity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from persona_kit import recommend
from persona_kit.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
RETAIL = ROOT.parent / "shared" / "datasets" / "online_retail" / "online_retail.parquet"


@pytest.fixture(scope="module")
def invoices() -> pl.DataFrame:
    if not RETAIL.is_file():
        pytest.skip("shared Online Retail dataset not available")
    raw = pl.read_parquet(RETAIL, columns=["InvoiceNo", "StockCode", "Quantity", "CustomerID", "InvoiceDate"])
    return raw.filter(~pl.col("InvoiceNo").str.starts_with("C") & (pl.col("Quantity") > 0)
                      & pl.col("CustomerID").is_not_null())


def _mlxtend_rules(lines: pd.DataFrame, min_support: float) -> pd.DataFrame:
    """mlxtend on the same baskets: every invoice is a row; columns for the items that can be frequent."""
    mlxtend = pytest.importorskip("mlxtend.frequent_patterns")
    lines = lines.drop_duplicates()
    baskets = lines["InvoiceNo"].unique()
    counts = lines["StockCode"].value_counts()
    items = np.sort(counts[counts / len(baskets) >= min_support].index.to_numpy())
    kept = lines[lines["StockCode"].isin(items)]
    onehot = np.zeros((len(baskets), len(items)), dtype=bool)
    onehot[np.searchsorted(np.sort(baskets), kept["InvoiceNo"]), np.searchsorted(items, kept["StockCode"])] = True
    frequent = mlxtend.fpgrowth(pd.DataFrame(onehot, columns=items), min_support=min_support, use_colnames=True,
                                max_len=2)
    rules = mlxtend.association_rules(frequent, num_itemsets=len(baskets), metric="support", min_threshold=min_support)
    return pd.DataFrame({"antecedent": rules["antecedents"].map(lambda s: next(iter(s))),
                         "consequent": rules["consequents"].map(lambda s: next(iter(s))),
                         **{c.replace(" ", "_"): rules[c] for c in ("antecedent support", "consequent support",
                                                                    "support", "confidence", "lift", "leverage",
                                                                    "conviction")}})


@pytest.mark.parametrize("min_support", [0.01])
def test_rules_equal_mlxtend_on_online_retail_invoices(invoices, min_support):
    lines = invoices.select("InvoiceNo", "StockCode")
    ours = recommend.association_rules(lines, basket_col="InvoiceNo", item_col="StockCode", min_support=min_support)
    ref = _mlxtend_rules(lines.to_pandas(), min_support)
    assert ours.height == len(ref) > 50
    merged = ours.to_pandas().merge(ref, on=["antecedent", "consequent"], suffixes=("", "_ref"))
    assert len(merged) == len(ref)
    for col in recommend.RULE_COLUMNS[2:]:
        np.testing.assert_allclose(merged[col], merged[f"{col}_ref"], rtol=1e-12, err_msg=col)


def test_rule_measures_by_hand(frame):
    # 4 baskets: {a, b}, {a, b}, {a, c}, {c}: a→b support 2/4, confidence 2/3, lift (2/3)/(2/4), conviction (1/2)/(1/3)
    lines = frame({"order_id": [1, 1, 2, 2, 3, 3, 4, 4], "product_id": ["a", "b", "a", "b", "a", "c", "c", "c"]})
    rules = recommend.association_rules(lines, min_support=0.25, min_confidence=0.6)
    got = {(r["antecedent"], r["consequent"]): r for r in (rules.to_dict("records") if hasattr(rules, "iloc")
                                                           else rules.to_dicts())}
    ab = got[("a", "b")]
    assert (ab["support"], ab["confidence"]) == pytest.approx((0.5, 2 / 3))
    assert (ab["lift"], ab["leverage"], ab["conviction"]) == pytest.approx((4 / 3, 0.5 - 0.75 * 0.5, 1.5))
    assert got[("b", "a")]["conviction"] == float("inf")
    assert ("a", "c") not in got  # confidence 1/3 < 0.6
    assert type(rules) is type(lines)


def test_item_cf_beats_popularity_on_a_time_based_holdout(invoices):
    """The last month of Online Retail is held out: who bought which new products after 2011-11-09."""
    bought = invoices.select(pl.col("CustomerID").cast(pl.Int64).cast(pl.String).alias("person_id"),
                             pl.col("StockCode").alias("item"), pl.col("InvoiceDate"))
    before = bought.filter(pl.col("InvoiceDate") < "2011-11-09")
    after = bought.filter(pl.col("InvoiceDate") >= "2011-11-09")
    truth = recommend.holdout_items(before, after)
    persons = truth["person_id"].unique().sort()
    cf = recommend.ItemCF(min_buyers=5).fit(before).recommend(persons, n=10)
    pop = recommend.popularity(before, persons, n=10)
    got_cf = recommend.evaluate_top_n(cf, truth, k=10)
    got_pop = recommend.evaluate_top_n(pop, truth, k=10)
    assert got_cf["persons"] == got_pop["persons"] == len(persons) > 1000
    assert got_cf["hit_rate"] > got_pop["hit_rate"] * 1.2 and got_cf["recall"] > got_pop["recall"]
    # nobody is recommended what she already bought, ranks run 1..n
    seen = before.select("person_id", "item").unique()
    assert cf.join(seen, on=["person_id", "item"]).height == 0
    assert cf.group_by("person_id").agg(pl.col("rank").max())["rank"].max() == 10


def test_item_cf_by_hand():
    bought = pl.DataFrame({"person_id": ["u1", "u1", "u2", "u2", "u3", "u3", "u4"],
                           "item": ["a", "b", "a", "b", "a", "c", "a"]})
    model = recommend.ItemCF().fit(bought)
    # cos(a, b) = 2 / sqrt(4 * 2), cos(a, c) = 1 / sqrt(4 * 1): u4 (bought a) gets b first
    recs = model.recommend(["u4", "nobody"], n=2)
    assert recs.select("person_id", "rank", "item").rows() == [("u4", 1, "b"), ("u4", 2, "c")]
    assert recs["score"].to_list() == pytest.approx([2 / np.sqrt(8), 1 / 2])


def test_top_by_group_suppresses_small_groups():
    lines = pl.DataFrame({"person_id": [f"p{i}" for i in range(12)] + ["q1"], "category": ["tea"] * 8 + ["cup"] * 5})
    groups = pl.DataFrame({"person_id": [f"p{i}" for i in range(12)] + ["q1"], "segment": ["big"] * 12 + ["small"]})
    out = recommend.top_by_group(lines, groups, group_col="segment", n=2)
    assert out.rows() == [("big", 1, "tea", 8, 8 / 12), ("big", 2, "cup", 4, 4 / 12)]


def test_bad_inputs_say_what_is_wrong(frame):
    lines = frame({"order_id": [1], "product_id": ["a"]})
    with pytest.raises(InputError, match=r"lines: missing columns \['sku'\]"):
        recommend.association_rules(lines, item_col="sku")
    with pytest.raises(InputError, match=r"min_support must be in \(0, 1\], got 0"):
        recommend.association_rules(lines, min_support=0)
    with pytest.raises(InputError, match=r"min_lift must be a number >= 0, got -1"):
        recommend.association_rules(lines, min_lift=-1)
    with pytest.raises(InputError, match=r"interactions: no item has 3\+ buyers"):
        recommend.ItemCF(min_buyers=3).fit(frame({"person_id": ["u"], "item": ["a"]}))
    with pytest.raises(InputError, match=r"n must be a whole number >= 1, got 0"):
        recommend.ItemCF().fit(frame({"person_id": ["u"], "item": ["a"]})).recommend(n=0)
    with pytest.raises(InputError, match=r"holdout: no held-out items"):
        recommend.evaluate_top_n(pl.DataFrame({"person_id": ["u"], "rank": [1], "item": ["a"]}),
                                 pl.DataFrame(schema={"person_id": pl.String, "item": pl.String}))


def test_every_frame_function_returns_the_kind_it_was_given(frame):
    before = frame({"person_id": ["u1", "u1", "u2", "u2", "u3"], "item": ["a", "b", "a", "b", "a"]})
    after = frame({"person_id": ["u3"], "item": ["b"]})
    recs = recommend.ItemCF().fit(before).recommend(n=1)
    truth = recommend.holdout_items(before, after)
    pop = recommend.popularity(before, ["u3"], n=1)
    groups = frame({"person_id": ["u1", "u2", "u3"], "segment": ["x", "x", "x"]})
    top = recommend.top_by_group(before, groups, group_col="segment", item_col="item", min_group_size=1)
    assert all(type(out) is type(before) for out in (recs, truth, pop, top))
    assert recommend.evaluate_top_n(recs, truth, k=1) == {"persons": 1, "hit_rate": 1.0, "recall": 1.0}
    assert recommend.evaluate_top_n(pop, truth, k=1)["hit_rate"] == 1.0
