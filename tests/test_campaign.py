"""campaign: design, power, outcomes, the review's statistics (checked against scipy / statsmodels), uplift."""

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.weightstats import DescrStatsW

from persona_kit import campaign, features
from persona_kit.errors import InputError

ROOT = Path(__file__).parents[1]


def three_arms(seed=3):
    rng = np.random.default_rng(seed)
    arm = np.repeat(["control", "coupon", "reminder"], [400, 450, 430])
    rate = np.select([arm == "coupon", arm == "reminder"], [0.22, 0.15], 0.12)
    converted = rng.random(len(arm)) < rate
    revenue = np.where(converted, rng.gamma(2.0, 60.0, len(arm)), 0.0)
    segment = rng.choice(["a", "b", "c", "tiny"], len(arm), p=[0.4, 0.35, 0.24, 0.01])
    cost = np.select([arm == "coupon", arm == "reminder"], [3.0, 0.5], 0.0)
    return pl.DataFrame({"arm": arm, "converted": converted, "revenue": revenue, "segment": segment, "cost": cost})


def test_binary_lift_matches_statsmodels_for_each_of_two_treatment_arms():
    df = three_arms()
    out = campaign.lift(df, control="control", outcomes=["converted"], n_boot=0)
    assert out["arm"].to_list() == ["coupon", "reminder"]
    c = df.filter(pl.col("arm") == "control")["converted"]
    for row in out.iter_rows(named=True):
        t = df.filter(pl.col("arm") == row["arm"])["converted"]
        x1, n1, x0, n0 = t.sum(), t.len(), c.sum(), c.len()
        _, p = proportions_ztest([x1, x0], [n1, n0])
        assert row["p_value"] == pytest.approx(p, rel=1e-9)
        low, high = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-9)
        low, high = confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
        assert (row["wald_low"], row["wald_high"]) == pytest.approx((low, high), rel=1e-9)
        low, high = confint_proportions_2indep(x1, n1, x0, n0, method="log", compare="ratio")
        assert (row["rel_ci_low"], row["rel_ci_high"]) == pytest.approx((low - 1, high - 1), rel=1e-9)
        assert row["lift"] == pytest.approx(x1 / n1 - x0 / n0)


def test_revenue_lift_matches_welch_and_the_bootstrap_agrees():
    df = three_arms()
    out = campaign.lift(df, control="control", outcomes=["revenue"], n_boot=3000, seed=1)
    c = df.filter(pl.col("arm") == "control")["revenue"].to_numpy()
    for row in out.iter_rows(named=True):
        t = df.filter(pl.col("arm") == row["arm"])["revenue"].to_numpy()
        ref = stats.ttest_ind(t, c, equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-9)
        width = ci.high - ci.low
        assert abs(row["boot_low"] - ci.low) < 0.1 * width and abs(row["boot_high"] - ci.high) < 0.1 * width
        assert row["rel_ci_low"] < row["rel_lift"] < row["rel_ci_high"]


def test_arm_summary_matches_wilson_and_t_intervals():
    df = three_arms()
    out = campaign.arm_summary(df, outcomes=["converted", "revenue"])
    for row in out.iter_rows(named=True):
        y = df.filter(pl.col("arm") == row["arm"])[row["outcome"]].cast(pl.Float64).to_numpy()
        if row["outcome"] == "converted":
            ref = proportion_confint(y.sum(), len(y), method="wilson")
        else:
            ref = DescrStatsW(y).tconfint_mean()
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(ref, rel=1e-9)


def test_srm_check_matches_scipy_and_flags_a_broken_split():
    fine = campaign.srm_check({"control": 400, "coupon": 450, "reminder": 430}, {"control": 0.3, "coupon": 0.35,
                                                                              "reminder": 0.35})
    ref = stats.chisquare([400, 450, 430], np.array([0.3, 0.35, 0.35]) * 1280)
    assert fine["p_value"] == pytest.approx(ref.pvalue) and not fine["mismatch"]
    broken = campaign.srm_check({"control": 300, "treat": 700}, {"control": 0.5, "treat": 0.5})
    assert broken["mismatch"] and broken["dof"] == 1
    with pytest.raises(InputError, match=r"planned shares lack arms \['treat'\]"):
        campaign.srm_check({"control": 3, "treat": 4}, {"control": 1.0})


def test_segment_effects_use_benjamini_hochberg_and_suppress_small_cells():
    df = three_arms()
    out = campaign.segment_effects(df, control="control", outcomes=["converted"], segment_cols=["segment"])
    tiny = out.filter(pl.col("segment_value") == "tiny")
    assert tiny["suppressed"].all() and tiny["lift"].is_null().all() and tiny["q_value"].is_null().all()
    tested = out.filter(~pl.col("suppressed"))
    assert tested.height == 6
    _, q, _, _ = multipletests(tested["p_value"].to_numpy(), method="fdr_bh")
    assert tested["q_value"].to_numpy() == pytest.approx(q)


def test_review_three_arms_end_to_end_and_pandas_stays_pandas():
    df = three_arms().to_pandas()
    rev = campaign.review(df, control="control", outcomes=["converted", "revenue"], segment_cols=["segment"],
                          cost_col="cost", shares={"control": 0.3, "coupon": 0.35, "reminder": 0.35}, n_boot=200)
    assert isinstance(rev.effects, pd.DataFrame) and isinstance(rev.roi, pd.DataFrame)
    assert set(rev.effects["arm"]) == {"coupon", "reminder"} and len(rev.effects) == 4
    assert len(rev.arms) == 6
    coupon = rev.roi.set_index("arm").loc["coupon"]
    c = df[df.arm == "control"].revenue.mean()
    t = df[df.arm == "coupon"]
    assert coupon.incremental_revenue == pytest.approx((t.revenue.mean() - c) * len(t))
    assert coupon.roi == pytest.approx((coupon.incremental_revenue - t.cost.sum()) / t.cost.sum())
    assert coupon.roi_low < coupon.roi < coupon.roi_high


def test_review_errors_name_the_problem():
    df = three_arms()
    with pytest.raises(InputError, match=r"missing columns \['revnue'\].*did you mean 'revenue'"):
        campaign.review(df, control="control", outcomes=["revnue"])
    with pytest.raises(InputError, match=r"control must be one of \['control', 'coupon', 'reminder'\], got 'holdout'"):
        campaign.review(df, control="holdout", outcomes=["converted"])
    with pytest.raises(InputError, match="only the control arm"):
        campaign.review(df.filter(pl.col("arm") == "control"), control="control", outcomes=["converted"])


def test_power_matches_statsmodels():
    ref = NormalIndPower().solve_power(effect_size=proportion_effectsize(0.12, 0.10), alpha=0.05, power=0.8,
                                       ratio=1.0)
    assert campaign.power_proportions(0.10, 0.02)["n_per_arm"] == int(np.ceil(ref))
    ref = NormalIndPower().solve_power(effect_size=proportion_effectsize(0.15, 0.10), alpha=0.05, power=0.9,
                                       ratio=3.0)
    assert campaign.power_proportions(0.10, 0.05, power=0.9, ratio=3.0)["n_per_arm"] == int(np.ceil(ref))
    mde = campaign.power_proportions(0.10, n_per_arm=2000)["mde"]
    achieved = NormalIndPower().power(effect_size=proportion_effectsize(0.10 + mde, 0.10), nobs1=2000, alpha=0.05)
    assert achieved == pytest.approx(0.8, abs=1e-4)
    ref = NormalIndPower().solve_power(effect_size=10 / 80, alpha=0.05, power=0.8, ratio=1.0)
    assert campaign.power_means(80.0, 10.0)["n_per_arm"] == int(np.ceil(ref))
    assert campaign.power_means(80.0, n_per_arm=int(np.ceil(ref)))["mde"] == pytest.approx(10, rel=1e-3)
    with pytest.raises(InputError, match="baseline must be a rate"):
        campaign.power_proportions(1.5, 0.1)


def test_assignment_is_deterministic_stratified_and_order_free():
    people = pl.DataFrame({"person_id": [f"p{i:04d}" for i in range(2000)],
                           "segment": np.repeat(["at_risk", "champions", "new"], [1000, 700, 300])})
    arms = {"control": 0.1, "coupon": 0.45, "reminder": 0.45}
    first = campaign.assign_arms(people, arms=arms, seed="CRM_2026Q3", strata=["segment"])
    again = campaign.assign_arms(people.reverse(), arms=arms, seed="CRM_2026Q3", strata=["segment"])
    assert dict(first.select("person_id", "arm").iter_rows()) == dict(again.select("person_id", "arm").iter_rows())
    counts = first.group_by("segment", "arm").len()
    expected = {("at_risk", "control"): 100, ("champions", "control"): 70, ("new", "control"): 30,
                ("new", "coupon"): 135}
    got = {(s, a): n for s, a, n in counts.iter_rows()}
    assert all(got[k] == v for k, v in expected.items())
    other = campaign.assign_arms(people, arms=arms, seed="another", strata=["segment"])
    assert (other["arm"] != first["arm"]).mean() > 0.3
    with pytest.raises(InputError, match="must sum to 1"):
        campaign.assign_arms(people, arms={"a": 0.5, "b": 0.6}, seed="x")


@pytest.fixture(scope="module")
def sample_results(sample_identity):
    """The sample campaign's outcomes (steps 02-03 computed here, not read from a run folder a clean clone
    lacks) joined to its planted potential outcomes."""
    tables = sample_identity[0]
    res = campaign.campaign_outcomes(tables["campaigns"], tables["orders"], window_days=30)
    raw = (pl.read_csv(ROOT / "data/sample/raw/campaign_2026q1.csv").with_row_index("source_row", offset=2)
           .select(pl.col("source_row").cast(pl.Int64), "openid"))
    truth = pl.read_parquet(ROOT / "data/sample/truth/campaign.parquet").drop("arm")
    return res.join(raw, on="source_row").join(truth, left_on="openid", right_on="source_customer_id")


def test_sample_outcomes_match_the_planted_potential_outcomes(sample_results):
    res = sample_results
    assert res.height == 1873
    planted = pl.coalesce([pl.when(pl.col("arm") == a).then(pl.col(f"converted_if_{a}"))
                           for a in ("control", "coupon", "reminder")])
    assert res.select((pl.col("converted") == planted).all()).item()
    revenue = pl.coalesce([pl.when(pl.col("arm") == a).then(pl.col(f"revenue_if_{a}"))
                           for a in ("control", "coupon", "reminder")])
    assert res.select((pl.col("revenue") - revenue).abs().max()).item() < 1e-6
    rev = campaign.review(res, control="control", outcomes=["converted"], n_boot=0)
    lifts = dict(rev.effects.select("arm", "lift").iter_rows())
    assert lifts["coupon"] == pytest.approx(0.21, abs=0.001) and lifts["reminder"] == pytest.approx(0.0692, abs=0.001)
    assert not rev.srm["mismatch"]


def test_uplift_models_rank_the_planted_high_uplift_group_first(sample_results, sample_identity):
    res = sample_results.filter(pl.col("arm").is_in(["control", "coupon"]))
    tables = sample_identity[0]
    pre = features.build_features(tables["events"], tables["orders"], None, tables["customers"], as_of="2026-03-01")
    cols = [c for c, d in pre.schema.items() if d.is_numeric()]
    data = res.join(pre.select("person_id", *cols), on="person_id", how="left")
    X = data.select(cols).fill_null(-1).to_numpy()
    t, y = (data["arm"] == "coupon").cast(int).to_numpy(), data["converted"].cast(int).to_numpy()
    test = np.random.default_rng(1).random(len(data)) < 0.4
    for method in ("two_model", "class_transformation"):
        scores = campaign.UpliftModel(method).fit(X[~test], t[~test], y[~test]).predict(X[test])
        held = data.filter(pl.Series(test)).with_columns(score=pl.Series(scores))
        by_persona = held.group_by("persona").agg(pl.col("score").mean()).sort("score", descending=True)
        assert by_persona["persona"][0] == "bargain_hunter", method  # planted +0.455, the largest
        assert set(by_persona["persona"][:2]) == {"bargain_hunter", "lapsed"}, method
        areas = campaign.auuc(campaign.uplift_curves(scores, t[test], y[test]))
        assert areas["qini_coefficient"] > 0 and areas["auuc"] > areas["auuc_random"], method


def test_uplift_curves_by_hand():
    # ranked: (t=1, y=1), (t=0, y=1), (t=1, y=0), (t=0, y=0)
    cur = campaign.uplift_curves([4, 3, 2, 1], [1, 0, 1, 0], [1, 1, 0, 0], points=4)
    # k=2: Yt=1, Nt=1, Yc=1, Nc=1 -> qini 0, uplift (1-1)*2 = 0; k=3: Yt=1, Nt=2, Yc=1, Nc=1 -> 1 - 2 = -1
    assert cur["qini"].to_list() == [0.0, 1.0, 0.0, -1.0, 0.0]
    assert cur["uplift"].to_list() == pytest.approx([0.0, 0.0, 0.0, (0.5 - 1) * 3, 0.0])
    with pytest.raises(InputError, match="treatment must hold both"):
        campaign.UpliftModel().fit(np.zeros((4, 1)), [1, 1, 1, 1], [0, 1, 0, 1])


def test_read_results_checks_and_casts_columns(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("group,bought,sales,tier\nholdout,false,0,a\nsms,TRUE,12.5,b\nsms,1,3,a\n")
    out = campaign.read_results(path, arm_col="group", outcomes=["bought", "sales"], segment_cols=["tier"])
    assert out["bought"].to_list() == [0.0, 1.0, 1.0] and out["sales"].dtype == pl.Float64
    with pytest.raises(InputError, match=r"results.csv: missing columns \['revenue'\]"):
        campaign.read_results(path, arm_col="group", outcomes=["bought", "revenue"])
    path.write_text("group,bought\nholdout,0\nsms,yes\n")
    with pytest.raises(InputError, match=r"results.csv, column 'bought', row 3: expected numbers, got 'yes'"):
        campaign.read_results(path, arm_col="group", outcomes=["bought"])
    with pytest.raises(InputError, match="results file not found"):
        campaign.read_results(tmp_path / "nope.csv", arm_col="group", outcomes=["bought"])


def test_the_committed_example_results_review_finds_its_planted_effect():
    res = campaign.read_results(ROOT / "data/campaign_results_example.csv", arm_col="group",
                                outcomes=["purchased", "sales"], segment_cols=["tier"], cost_col="contact_cost",
                                covariate_cols=["visits_90d"])
    rev = campaign.review(res, arm_col="group", control="holdout", outcomes=["purchased", "sales"],
                          segment_cols=["tier"], cost_col="contact_cost", n_boot=200)
    sms = rev.effects.filter((pl.col("arm") == "sms") & (pl.col("outcome") == "purchased")).row(0, named=True)
    assert sms["ci_low"] < 0.08 < sms["ci_high"] and rev.roi.height == 2
    out = campaign.evaluate_uplift(res, arm_col="group", control="holdout", treatment="sms", outcome="purchased",
                                   feature_cols=["visits_90d"], seed=1)
    assert set(out["areas"]["method"]) == {"two_model", "class_transformation"}
    assert out["scores"].height < res.height and "score_two_model" in out["scores"].columns
    as_pandas = campaign.evaluate_uplift(res.to_pandas(), arm_col="group", control="holdout", treatment="sms",
                                         outcome="purchased", feature_cols=["visits_90d"], seed=1)
    assert isinstance(as_pandas["areas"], pd.DataFrame)
    assert as_pandas["areas"]["auuc"].tolist() == pytest.approx(out["areas"]["auuc"].to_list())


def test_a_cell_of_zero_revenue_is_still_a_mean_not_a_rate():
    df = three_arms().with_columns(revenue=pl.when(pl.col("segment") == "c").then(0.0).otherwise(pl.col("revenue")))
    out = campaign.segment_effects(df, control="control", outcomes=["revenue"], segment_cols=["segment"])
    cell = out.filter(pl.col("segment_value") == "c")
    # Welch on all-zero groups: no lift and no p-value (a proportion test would say p = 1), kept out of BH
    assert cell["lift"].to_list() == [0.0, 0.0] and cell["p_value"].is_nan().all() and cell["q_value"].is_null().all()
    assert campaign.lift(df.filter(pl.col("segment") == "c"), control="control", outcomes=["revenue"],
                         binary=[], n_boot=0)["method"].to_list() == ["welch", "welch"]


def test_review_flags_a_sample_ratio_mismatch():
    df = pl.DataFrame({"arm": ["control"] * 300 + ["treat"] * 700, "y": [0, 1] * 500})
    rev = campaign.review(df, control="control", outcomes=["y"], shares={"control": 0.5, "treat": 0.5})
    assert rev.srm["mismatch"] and rev.srm["p_value"] < 1e-30


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=4),
       shares=st.lists(st.integers(1, 9), min_size=2, max_size=4), seed=st.text(min_size=1, max_size=8))
def test_every_stratum_is_split_within_one_person_of_the_shares(sizes, shares, seed):
    arms = {f"arm{i}": s / sum(shares) for i, s in enumerate(shares)}
    ids = [f"u{i}" for i in range(sum(sizes))]
    strata = [f"s{k}" for k, n in enumerate(sizes) for _ in range(n)]
    out = campaign.assign_arms(pl.DataFrame({"person_id": ids, "s": strata}), arms=arms, seed=seed, strata=["s"])
    counts = {(s, a): n for s, a, n in out.group_by("s", "arm").len().iter_rows()}
    for k, n in enumerate(sizes):
        for arm, share in arms.items():
            assert abs(counts.get((f"s{k}", arm), 0) - share * n) < 1 + 1e-9


def test_outcomes_keep_one_window_per_assignment():
    day = pd.Timestamp("2026-03-02").to_pydatetime()
    camps = pl.DataFrame({"person_id": ["a", "a", "b"], "campaign_id": ["spring", "summer", "spring"],
                          "arm": ["t", "c", "c"],
                          "assigned_ts": [day, day + pd.Timedelta(days=90).to_pytimedelta(), day]})
    orders = pl.DataFrame({"person_id": ["a", "a"], "amount": [10.0, 4.0],
                           "order_ts": [day + pd.Timedelta(days=3).to_pytimedelta(),
                                        day + pd.Timedelta(days=95).to_pytimedelta()]})
    out = campaign.campaign_outcomes(camps, orders)
    assert out.select("campaign_id", "converted", "revenue").rows() == [
        ("spring", True, 10.0), ("summer", True, 4.0), ("spring", False, 0.0)]
