"""Tests for persona_kit.personas: the pipeline, choice of k, stability, TGI profiles, cards, and the planted
personas of the synthetic sample recovered with ARI >= 0.8."""


import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from persona_kit import personas
from persona_kit.errors import InputError
from persona_kit.i18n import labels


def _blobs(sizes=(60, 60, 60), seed=0):
    """Three well-separated groups: low spenders, big frequent spenders (VIP), middle."""
    rng = np.random.default_rng(seed)
    a, b, c = sizes
    spend = np.exp(np.r_[rng.normal(np.log(30), 0.3, a), rng.normal(np.log(3000), 0.3, b),
                         rng.normal(np.log(300), 0.3, c)])
    orders = np.r_[1 + rng.poisson(0.3, a), 12 + rng.poisson(1, b), 4 + rng.poisson(0.5, c)]
    truth = np.repeat([0, 1, 2], sizes)
    return pl.DataFrame({"person_id": [f"p{i:03d}" for i in range(sum(sizes))], "spend": spend,
                         "orders": orders, "vip": truth == 1}), truth


@parametrize_with_checks([personas.SkewLog()])
def test_skewlog_is_a_scikit_learn_estimator(estimator, check):
    check(estimator)


def test_skewlog_logs_only_skewed_non_negative_columns():
    X = np.array([[0.0, -1.0, 1.0], [1.0, 5.0, 2.0], [2.0, 0.0, 3.0], [500.0, 900.0, 4.0]])
    fitted = personas.SkewLog().fit(X)
    assert fitted.columns_.tolist() == [0]  # column 1 is skewed but negative, column 2 symmetric
    assert np.allclose(fitted.transform(X)[:, 0], np.log1p(X[:, 0])) and np.allclose(fitted.transform(X)[:, 1:], X[:, 1:])


@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_fit_personas_recovers_blobs_and_numbers_by_size(kind):
    data, truth = _blobs((40, 30, 80))
    frame = data.to_pandas() if kind == "pandas" else data
    out = personas.fit_personas(frame, ["spend", "orders", "vip"], k=3)
    assert type(out) is type(frame)
    got = pl.from_pandas(out) if kind == "pandas" else out
    assert adjusted_rand_score(truth, got["persona_id"]) == 1.0
    assert got.group_by("persona_id").len().sort("persona_id")["len"].to_list() == [80, 40, 30]
    assert got["persona_id"][0] == 2 and got["persona_id"][-1] == 1


@pytest.mark.parametrize("method", ["minibatch", "gmm"])
def test_other_methods(method):
    data, truth = _blobs()
    out = personas.fit_personas(data, ["spend", "orders"], k=3, method=method, scaling="standard")
    assert adjusted_rand_score(truth, out["persona_id"]) > 0.9


def test_choose_k_inertia_matches_kmeans_on_the_transformed_data():
    data, _ = _blobs()
    out = personas.choose_k(data, ["spend", "orders"], k_values=[2, 3, 4, 5])
    assert out.filter(pl.col("best"))["k"].to_list() == [3]
    Z = personas.persona_pipeline(3)[:-1].fit_transform(personas.cluster_matrix(data, ["spend", "orders"]))
    expected = KMeans(3, n_init=10, random_state=0).fit(Z).inertia_
    assert out.filter(pl.col("k") == 3)["inertia"][0] == pytest.approx(expected)
    assert out["inertia"].is_sorted(descending=True)


def test_bootstrap_stability_is_high_for_real_clusters_and_low_for_noise():
    data, _ = _blobs()
    good = personas.bootstrap_stability(data, ["spend", "orders"], k=3, n_boot=5)
    assert good.height == 5 and good["ari"].min() > 0.95
    noise = pl.DataFrame({"x": np.random.default_rng(5).uniform(size=300),
                          "y": np.random.default_rng(6).uniform(size=300)})
    assert personas.bootstrap_stability(noise, ["x", "y"], k=6, n_boot=5)["ari"].mean() < 0.9


def test_tgi_profile_against_scipy_and_a_hand_z_test():
    rng = np.random.default_rng(4)
    f = pl.DataFrame({"person_id": [str(i) for i in range(200)], "spend": rng.gamma(2, 50, 200),
                      "channel": rng.choice(["app", "tmall", "pos"], 200).tolist()})
    p = pl.DataFrame({"person_id": f["person_id"], "persona_id": [1] * 120 + [2] * 80})
    prof = personas.tgi_profile(f, p, columns=["spend", "channel"])
    spend = prof.filter((pl.col("persona_id") == 2) & (pl.col("feature") == "spend")).row(0, named=True)
    mine, rest = f["spend"][120:].to_numpy(), f["spend"][:120].to_numpy()
    assert spend["tgi"] == pytest.approx(100 * mine.mean() / f["spend"].mean())
    assert spend["p_value"] == pytest.approx(stats.ttest_ind(mine, rest, equal_var=False).pvalue)
    assert spend["effect"] == pytest.approx((mine.mean() - f["spend"].mean()) / f["spend"].to_numpy().std())
    app = prof.filter((pl.col("persona_id") == 2) & (pl.col("value") == "app")).row(0, named=True)
    x1, x2 = (f["channel"][120:] == "app").sum(), (f["channel"][:120] == "app").sum()
    p1, p2, pooled = x1 / 80, x2 / 120, (x1 + x2) / 200
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 80 + 1 / 120))
    assert app["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert app["tgi"] == pytest.approx(100 * p1 / ((x1 + x2) / 200))
    # Benjamini–Hochberg over all rows
    ps = prof["p_value"].to_numpy()
    order = np.argsort(ps)
    bh = np.minimum.accumulate((ps[order] * len(ps) / np.arange(1, len(ps) + 1))[::-1])[::-1]
    assert np.allclose(prof["q_value"].to_numpy()[order], np.minimum(bh, 1))


def test_tgi_profile_suppresses_small_cells_and_keeps_pandas():
    f = pd.DataFrame({"person_id": [str(i) for i in range(30)], "spend": np.arange(30.0),
                      "aov": [None] * 25 + [1.0, 2.0, 3.0, 4.0, 5.0]})
    p = pd.DataFrame({"person_id": f["person_id"], "persona_id": [1] * 24 + [2] * 6})
    prof = personas.tgi_profile(f, p, columns=["spend", "aov"])
    assert isinstance(prof, pd.DataFrame)
    small = prof[prof["persona_id"] == 2]
    assert small["suppressed"].all() and small["tgi"].isna().all() and not small["significant"].any()
    aov = prof[(prof["persona_id"] == 1) & (prof["feature"] == "aov")]
    assert aov["persons"].tolist() == [0] and aov["suppressed"].all()  # no one in persona 1 has an AOV


def test_persona_cards_names_codes_and_actions():
    data, _ = _blobs()
    data = data.with_columns(spend_365d=pl.col("spend"), orders_365d=pl.col("orders"),
                             interest_skin=pl.Series(np.r_[np.full(60, 0.7), np.full(120, 0.1)]
                                                     + np.random.default_rng(1).uniform(0, 0.2, 180)),
                             top_category=pl.Series(["护肤"] * 60 + ["彩妆"] * 120),
                             preferred_channel=pl.Series(["app"] * 90 + ["tmall"] * 90))
    people = personas.fit_personas(data, ["spend", "orders"], k=3)
    prof = personas.tgi_profile(data, people, columns=["spend_365d", "orders_365d", "interest_skin"])
    words = {lang: {code: labels()[f"ps.trait.{code}"][lang] for code in [*personas.TRAITS, "general"]}
             for lang in ("zh", "en")}
    cards = personas.persona_cards(data, people, prof, lang_names=words, category_names={"skin": "Skin care"})
    assert cards["persona"].n_unique() == 3 and cards["persons"].sum() == 180
    by_code = {r["persona"]: r for r in cards.iter_rows(named=True)}
    low = next(r for r in by_code.values() if r["top_categories"] == "护肤")
    assert low["persona"].startswith("occasional") and low["persona"].endswith("_skin_care")
    assert low["name_en"] == f"{labels()['ps.trait.occasional']['en']} · Skin care"
    assert all(f"ps.action.{r['action']}" in labels() for r in by_code.values())
    assert cards["share"].sum() == pytest.approx(1.0)


def test_every_trait_has_words_and_an_action():
    table = labels()
    missing = [k for code in [*personas.TRAITS, "general"] for k in (f"ps.trait.{code}", f"ps.action.{code}")
               if k not in table]
    assert missing == []


def test_bad_input():
    data, _ = _blobs()
    with pytest.raises(InputError, match=r"^k must be a whole number >= 2, got 1$"):
        personas.fit_personas(data, ["spend"], k=1)
    with pytest.raises(InputError, match=r"^method must be one of \['kmeans', 'minibatch', 'gmm'\], got 'dbscan'"):
        personas.fit_personas(data, ["spend"], method="dbscan")
    with pytest.raises(InputError, match=r"^features: missing columns \['spnd'\]; .*did you mean 'spend' for 'spnd'"):
        personas.fit_personas(data, ["spnd"])
    with pytest.raises(InputError, match=r"^clustering needs numeric or boolean features; not numeric: \['person_id'\]$"):
        personas.cluster_matrix(data, ["person_id"])
    with pytest.raises(InputError, match=r"^columns must be a non-empty list of feature names, got 'spend'$"):
        personas.cluster_matrix(data, "spend")
    with pytest.raises(InputError, match=r"^n_boot must be a positive whole number, got 0$"):
        personas.bootstrap_stability(data, ["spend"], n_boot=0)


# --- the synthetic sample: the planted personas --------------------------------------------------------------

@pytest.mark.slow
def test_sample_personas_recover_the_planted_ones(sample_identity):
    tables, _, truth = sample_identity
    f = personas.persona_features(tables["events"], tables["orders"], tables["customers"], as_of="2026-06-30")
    columns = personas.usable_columns(f, personas.DEFAULT_FEATURES)
    assert len(columns) == 12  # 6 behaviour / value features + 6 category interest shares
    people = personas.fit_personas(f, columns, k=6)
    joined = people.join(truth, on="person_id")
    assert joined.height == people.height == 5_007
    ari = adjusted_rand_score(joined["persona"], joined["persona_id"])
    assert ari >= 0.8, ari


def test_persona_features_without_categories_has_no_interest_columns():
    import datetime as dt

    orders = pl.DataFrame({"person_id": ["a", "a", "b"], "source_key": "k", "order_id": ["1", "2", "3"],
                           "status": "paid", "quantity": 1.0, "unit_price": [5.0, 7.0, 9.0],
                           "amount": [5.0, 7.0, 9.0], "net_quantity": 1.0, "net_amount": [5.0, 7.0, 9.0],
                           "order_ts": [dt.datetime(2024, 1, 1), dt.datetime(2024, 5, 1), dt.datetime(2023, 3, 1)]})
    f = personas.persona_features(None, orders, as_of="2024-06-30")
    assert f.select("person_id", "orders_730d", "days_since_last_purchase").rows() == [("a", 2, 60), ("b", 1, 487)]
    assert not [c for c in f.columns if c.startswith("interest_")]
    assert personas.usable_columns(f, personas.DEFAULT_FEATURES) == ["orders_730d", "aov_730d",
                                                                      "days_since_last_purchase"]


def test_persona_cards_number_clashing_names_and_hide_small_personas():
    f = pl.DataFrame({"person_id": [str(i) for i in range(45)], "orders_365d": [1.0, 2.0] * 10 + [9.0, 8.0] * 12 + [1.0],
                      "spend_365d": [10.0] * 45, "preferred_channel": ["app"] * 45})
    p = pl.DataFrame({"person_id": f["person_id"], "persona_id": [1] * 20 + [2] * 12 + [3] * 12 + [4]})
    prof = personas.tgi_profile(f, p, columns=["orders_365d"], min_group_size=1)
    words = {"zh": {"frequent": "高频"}, "en": {"frequent": "Frequent"}}
    cards = personas.persona_cards(f, p, prof, lang_names=words)
    assert cards["persona"].n_unique() == 4
    assert cards.filter(pl.col("persona_id").is_in([2, 3]))["name_en"].to_list() == ["Frequent", "Frequent 3"]
    tiny = cards.filter(pl.col("persona_id") == 4).row(0, named=True)
    assert tiny["persons"] == 1 and tiny["top_channels"] is None and tiny["value_mean"] is None
