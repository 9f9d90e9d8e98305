"""Tests of persona_kit.models.churn: future-window labels, no leakage, evaluation against sklearn."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from persona_kit import features
from persona_kit.errors import InputError
from persona_kit.models import churn

D = dt.datetime
CUTOFF = "2024-03-31"


def _orders(n: int = 400, seed: int = 0) -> pl.DataFrame:
    """Persons buy at a personal rate; slow buyers (long gaps) tend not to come back after the cut-off."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        gap = rng.choice([7, 20, 60, 120])
        day = D(2023, 4, 1) + dt.timedelta(days=int(rng.integers(0, gap)))
        while day < D(2024, 7, 1):
            rows.append((f"p{i:03d}", day, float(rng.integers(10, 100))))
            day += dt.timedelta(days=int(rng.exponential(gap)) + 1)
    return pl.DataFrame(rows, schema=["person_id", "order_ts", "amount"], orient="row").with_columns(
        order_id=pl.format("o{}", pl.int_range(pl.len())), line_no=1, quantity=1.0, unit_price=pl.col("amount"),
        net_quantity=1.0, net_amount=pl.col("amount"), status=pl.lit("paid"), source_key=pl.col("person_id"))


def _features(orders: pl.DataFrame, as_of: str) -> pl.DataFrame:
    return features.build_features(orders=orders, as_of=as_of, windows=(30, 90, 365))


def test_labels_come_from_the_window_after_the_cutoff(frame):
    orders = frame({"person_id": ["a", "a", "b", "c", "d"],
                    "order_ts": [D(2024, 3, 1), D(2024, 4, 15), D(2024, 3, 31, 23), D(2023, 1, 1), D(2024, 6, 30)]})
    out = churn.churn_labels(orders, cutoff=CUTOFF, horizon_days=90)
    rows = pl.from_pandas(out).rows() if hasattr(out, "iloc") else out.rows()
    # a bought again within 90 days; b did not; c is out of the 365-day lookback; d is only after the cut-off
    day = dt.date(2024, 3, 31)
    assert [r[:2] for r in rows] == [("a", False), ("b", True)]
    assert {str(r[2])[:10] for r in rows} == {str(day)}
    # a's next order, 2024-04-15, is day 15 of the future window
    assert list(churn.churn_labels(orders, cutoff=CUTOFF, horizon_days=14)["churned"]) == [True, True]
    assert list(churn.churn_labels(orders, cutoff=CUTOFF, horizon_days=15)["churned"]) == [False, True]


def test_post_cutoff_data_cannot_enter_the_features_or_the_model():
    orders = _orders()
    labels = churn.churn_labels(orders, cutoff=CUTOFF)
    feats = _features(orders, CUTOFF)
    model = churn.ChurnModel(max_iter=30, min_samples_leaf=10).fit(feats, labels)
    # 1. poison everything after the cut-off: every person buys a fortune the next day
    poison = orders.group_by("person_id").agg(pl.all().first()).with_columns(
        order_ts=pl.lit(D(2024, 4, 1, 12)), amount=1e6, net_amount=1e6, order_id=pl.format("x{}", "person_id"))
    poisoned = pl.concat([orders, poison.select(orders.columns)])
    same = _features(poisoned, CUTOFF)
    assert same.equals(feats)
    refit = churn.ChurnModel(max_iter=30, min_samples_leaf=10).fit(same, labels)
    assert np.array_equal(refit.predict_proba(same), model.predict_proba(feats))
    # 2. features computed after the cut-off are refused, by name of the dates
    with pytest.raises(InputError, match=r"features are as of \['2024-04-30'\] but the labels' cut-off is 2024-03-31; "
                                         r"compute the features as of the cut-off"):
        churn.ChurnModel().fit(_features(orders, "2024-04-30"), labels)


def test_model_beats_random_and_evaluation_matches_sklearn():
    orders = _orders(600, seed=1)
    cutoffs = ["2023-12-31", "2024-01-31", "2024-02-29"]
    feats = pl.concat([_features(orders, c) for c in cutoffs], how="diagonal_relaxed")
    labels = pl.concat([churn.churn_labels(orders, cutoff=c) for c in cutoffs])
    model = churn.ChurnModel(max_iter=50, min_samples_leaf=20).fit(feats, labels)
    assert model.cutoffs_ == [dt.date(2023, 12, 31), dt.date(2024, 1, 31), dt.date(2024, 2, 29)]
    val_f, val_l = _features(orders, CUTOFF), churn.churn_labels(orders, cutoff=CUTOFF)
    data = val_l.join(val_f.drop("as_of"), on="person_id")
    p = model.predict_proba(data)[:, 1]
    metrics = churn.evaluate(data["churned"], p)
    assert metrics["auc"] == pytest.approx(roc_auc_score(data["churned"], p))
    assert metrics["auc"] > 0.7  # slow buyers churn: the planted signal is strong
    g = churn.gains(data["churned"], p, points=10)
    assert g["share_of_churners"][-1] == 1.0 and g["share_of_churners"].is_sorted()
    tiers = churn.risk_tiers(p)
    assert tiers["persons"].sum() == len(p) and tiers["expected_churners"].sum() == pytest.approx(p.sum())
    top = churn.drivers(model, val_f, val_l, n_repeats=2)
    assert top["feature"][0] in {"days_since_last_purchase", "purchase_interval_days", "orders_365d", "orders_90d",
                                 "items_365d", "items_90d", "spend_365d", "spend_90d"}  # all say "buys often"
    assert top["importance"][0] > 0


def test_hand_checked_metrics():
    y, s = [1, 0, 1, 0, 0], [0.9, 0.8, 0.7, 0.2, 0.1]
    assert churn.evaluate(y, s, top=0.2) == {"auc": pytest.approx(5 / 6), "pr_auc": pytest.approx((1 + 2 / 3) / 2),
                                             "base_rate": 0.4, "lift_top": 2.5}
    assert churn.tier_of([0.0, 0.3, 0.7, 0.71]) == ["低", "低", "中", "高"]
    assert churn.recency_baseline(pl.DataFrame({"days_since_last_purchase": [5, None]})).tolist() == [5.0, np.inf]


def test_bad_inputs_say_what_is_wrong(frame):
    orders = frame({"person_id": ["a"], "order_ts": [D(2024, 3, 1)]})
    with pytest.raises(InputError, match=r"orders: missing columns \['ts'\]"):
        churn.churn_labels(orders, cutoff=CUTOFF, ts_col="ts")
    with pytest.raises(InputError, match=r"horizon_days must be a whole number >= 1, got 0"):
        churn.churn_labels(orders, cutoff=CUTOFF, horizon_days=0)
    with pytest.raises(InputError, match=r"cutoff must be a date like"):
        churn.churn_labels(orders, cutoff="later")
    feats = pl.DataFrame({"person_id": ["a", "b"], "x": [1, 2], "as_of": [dt.date(2024, 3, 31)] * 2})
    labels = pl.DataFrame({"person_id": ["a", "b"], "churned": [True, True], "as_of": [dt.date(2024, 3, 31)] * 2})
    with pytest.raises(InputError, match=r"every person has churned = True; a model needs both"):
        churn.ChurnModel().fit(feats, labels)
    with pytest.raises(InputError, match=r"method must be one of \['isotonic', 'sigmoid'\], got 'beta'"):
        churn.ChurnModel(method="beta").fit(feats, labels)
    with pytest.raises(InputError, match=r"risk tiers need increasing bins"):
        churn.tier_of([0.5], bins=(0.7, 0.3))
