"""Tag health: coverage, distribution, PSI drift, value churn and Cramér's V, against hand computations."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy.stats.contingency import association

from persona_kit.errors import InputError
from persona_kit.tags.catalog import load_catalog
from persona_kit.tags.health import coverage, cramers_v, distribution, drift, psi, redundancy, value_churn

D1, D2 = dt.date(2024, 5, 31), dt.date(2024, 6, 30)


def long(tag_values: dict, day) -> pl.DataFrame:
    """``{tag_id: [value per person p0, p1, ...]}`` → long frame (None = no row)."""
    rows = [(f"p{i}", tag, v) for tag, vals in tag_values.items() for i, v in enumerate(vals) if v is not None]
    return pl.DataFrame(rows, schema={"person_id": pl.String, "tag_id": pl.String, "value": pl.String},
                        orient="row").with_columns(pl.lit(day).alias("as_of"))


def test_coverage_counts_true_for_bools_and_any_value_otherwise():
    tags = long({"vip": ["true", "false", "false", "true"], "city": ["上海", None, "北京", None]}, D1)
    out = coverage(tags, min_coverage=0.6)
    assert out.rows() == [("city", 2, 0.5, True), ("vip", 2, 0.5, True)]
    out = coverage(tags, persons=8, min_coverage=0.2)
    assert out["coverage"].to_list() == [0.25, 0.25] and out["flag"].to_list() == [False, False]
    catalog = load_catalog().select(["city", "is_member"])
    assert coverage(tags, catalog=catalog).rows() == [("city", 2, 0.5, False), ("is_member", 0, 0.0, True)]


def test_distribution_flags_small_groups():
    tags = long({"city": ["上海"] * 12 + ["北京"] * 3}, D1)
    assert distribution(tags).rows() == [("city", "上海", 12, 0.8, False), ("city", "北京", 3, 0.2, True)]


def test_psi_matches_a_hand_computation():
    old, new = [0.2, 0.3, 0.5], [0.25, 0.25, 0.5]
    hand = (0.25 - 0.2) * math.log(0.25 / 0.2) + (0.25 - 0.3) * math.log(0.25 / 0.3)
    assert psi(old, new) == pytest.approx(hand, rel=1e-12)
    assert psi([10, 0], [5, 5]) == pytest.approx((0.5 - 1) * math.log(0.5 / 1) + (0.5 - 1e-4) * math.log(0.5 / 1e-4))
    with pytest.raises(InputError, match="psi needs two equal-length lists of shares, got \\(2,\\) and \\(3,\\)"):
        psi([1, 2], [1, 2, 3])


def test_drift_of_a_category_tag_including_missing():
    old = long({"tier": ["高", "高", "低", "低"]}, D1)
    new = long({"tier": ["高", "低", "低", None]}, D2).vstack(long({"other": ["x", "x", "x", "x"]}, D2))
    out = drift(old, new).filter(pl.col("tag_id") == "tier").row(0, named=True)
    # bins 高 / 低 / missing: old 0.5, 0.5, 0; new 0.25, 0.5, 0.25
    hand = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.25 - 1e-4) * math.log(0.25 / 1e-4)
    assert out["bins"] == 3 and out["psi"] == pytest.approx(hand) and out["flag"] is True
    same = drift(old, old)
    assert same["psi"].to_list() == [0.0] and same["flag"].to_list() == [False]


def test_drift_of_a_number_tag_uses_the_old_quantile_bins():
    catalog = load_catalog().select(["age"])
    old = long({"age": [str(a) for a in range(20, 60)]}, D1)  # 40 ages, even spread
    new = long({"age": [str(a) for a in range(40, 80)]}, D2)  # shifted by 20 years
    out = drift(old, new, catalog=catalog, bins=4).row(0, named=True)
    # edges at the old quartiles 29.75, 39.5, 49.25 (old: 10 per bin); new ages counted against the same edges
    edges = np.quantile(np.arange(20, 60), [0.25, 0.5, 0.75])
    new_counts = np.bincount(np.searchsorted(edges, np.arange(40, 80), side="left"), minlength=4)
    assert out["psi"] == pytest.approx(psi([10, 10, 10, 10], new_counts))
    assert out["flag"] is True


def test_value_churn_counts_changes_among_common_persons():
    old = long({"tier": ["高", "高", "低", "低", "低"]}, D1)
    new = long({"tier": ["高", "低", "低", None]}, D2)  # p1 changed, p3 lost its value, p4 is gone
    out = value_churn(old, new, max_churn=0.4).row(0, named=True)
    assert out == {"tag_id": "tier", "persons": 3, "changed": 1, "churn": 1 / 3, "flag": False}
    # p3 is in new only through other tags: give it one so it counts as common
    new = new.vstack(long({"x": [None, None, None, "y"]}, D2))
    out = value_churn(old, new).filter(pl.col("tag_id") == "tier").row(0, named=True)
    assert (out["persons"], out["changed"], out["flag"]) == (4, 2, True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cramers_v_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.choice(["a", "b", "c"], size=200)
    y = np.where(rng.random(200) < 0.6, x, rng.choice(["a", "b", "c", "d"], size=200))
    table = np.zeros((3, 4), dtype=np.int64)
    for i, j in zip(np.unique(x, return_inverse=True)[1], np.unique(y, return_inverse=True)[1], strict=True):
        table[i, j] += 1
    assert cramers_v(x.tolist(), y.tolist()) == pytest.approx(association(table, method="cramer"), rel=1e-12)


def test_cramers_v_edge_cases():
    assert cramers_v(["a", "a"], ["x", "y"]) is None
    assert cramers_v([None, "a", "b"], ["x", None, "y"]) is None  # one complete pair left
    assert cramers_v(["a", "b", "a", "b"], ["x", "y", "y", "x"]) == pytest.approx(0.0)


def test_redundancy_flags_near_duplicate_tags():
    tags = long({"buyer": ["true", "true", "false", "false", "true", "false"],
                 "stage": ["活跃", "活跃", "潜在", "潜在", "活跃", "潜在"],
                 "city": ["上海", "北京", "上海", "北京", "上海", "北京"],
                 "age": ["20", "30", "40", "50", "60", "70"]}, D1)
    out = redundancy(tags)
    pairs = {(r["tag_a"], r["tag_b"]): r for r in out.iter_rows(named=True)}
    assert pairs[("buyer", "stage")]["cramers_v"] == pytest.approx(1.0) and pairs[("buyer", "stage")]["flag"]
    assert not pairs[("buyer", "city")]["flag"]
    expected = association(np.array([[2, 1], [1, 2]]), method="cramer")
    assert pairs[("buyer", "city")]["cramers_v"] == pytest.approx(expected)
    assert out.columns == ["tag_a", "tag_b", "persons", "cramers_v", "flag"]
    assert ("age", "buyer") in pairs or ("buyer", "age") in pairs  # without a catalog, age looks categorical
    typed = redundancy(tags, catalog=load_catalog().select(["age", "city"]))  # age is a number tag: skipped
    assert typed.is_empty()


@pytest.mark.parametrize("measure", [
    lambda old, new: coverage(new), lambda old, new: distribution(new), lambda old, new: drift(old, new),
    lambda old, new: value_churn(old, new), lambda old, new: redundancy(new)])
def test_pandas_in_pandas_out_with_the_same_numbers(measure):
    old = long({"tier": ["高", "高", "低", "低"], "vip": ["true", "false", "true", "false"]}, D1)
    new = long({"tier": ["高", "低", "低", None], "vip": ["true", "true", "false", "false"]}, D2)
    from_polars = measure(old, new)
    from_pandas = measure(old.to_pandas(), new.to_pandas())
    assert isinstance(from_polars, pl.DataFrame) and isinstance(from_pandas, pd.DataFrame)
    pd.testing.assert_frame_equal(from_pandas, from_polars.to_pandas())


def test_redundancy_counts_only_the_levels_of_persons_holding_both_tags():
    # levels held only by persons without the other tag ("b", "y") are no row or column of the pair's table
    rng = np.random.default_rng(3)
    x = rng.choice(["a", "b", "c", None], size=300).tolist()
    y = [None if v == "b" else "y" if v is None else rng.choice(["x", "z"]) for v in x]
    tags = long({"x": x, "y": y}, D1)
    out = redundancy(tags).row(0, named=True)
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if a is not None and b is not None]
    levels_a, levels_b = sorted({a for a, _ in pairs}), sorted({b for _, b in pairs})
    table = np.zeros((len(levels_a), len(levels_b)), dtype=np.int64)
    for a, b in pairs:
        table[levels_a.index(a), levels_b.index(b)] += 1
    assert (levels_a, levels_b) == (["a", "c"], ["x", "z"])
    assert out["persons"] == len(pairs)
    assert out["cramers_v"] == pytest.approx(association(table, method="cramer"), rel=1e-12)
