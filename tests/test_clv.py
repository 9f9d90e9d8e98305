"""Tests of persona_kit.models.clv against the published CDNOW results (../shared/datasets/README.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import special

from persona_kit.errors import InputError
from persona_kit.models import clv

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "datasets" / "cdnow"
pytestmark = pytest.mark.skipif(not CDNOW.is_dir(), reason="shared CDNOW dataset not available")


@pytest.fixture(scope="module")
def summary() -> pl.DataFrame:
    """The 39-week calibration / 39-week holdout summary of the 1/10 sample, built from the raw file."""
    from persona_kit.datasets import load_cdnow

    orders = load_cdnow(CDNOW / "CDNOW_sample.txt").tables["orders"]
    return clv.rfm_summary(orders, calibration_end="1997-09-30", observation_end="1998-06-30",
                           customer_col="sample_customer_id")


@pytest.fixture(scope="module")
def fitted(summary):
    return clv.BGNBDModel().fit(summary), clv.ParetoNBDModel().fit(summary), clv.GammaGammaModel().fit(summary)


def test_summary_equals_the_published_calibration_summary(summary):
    ref = pl.read_csv(CDNOW / "cdnow_customers_summary.csv")
    both = summary.with_columns(ID=pl.col("sample_customer_id").cast(pl.Int64)).join(ref, on="ID", suffix="_ref")
    assert both.height == ref.height == 2357
    assert (both["frequency"] == both["frequency_ref"]).all()
    # the published file rounds to 2 decimals
    assert np.abs(both["recency"] - both["recency_ref"]).max() <= 0.005
    assert np.abs(both["T"] - both["T_ref"]).max() <= 0.005


def test_holdout_means_by_calibration_frequency(summary):
    by = (summary.group_by(pl.col("frequency").clip(upper_bound=7)).agg(pl.len(), pl.col("frequency_holdout").mean())
          .sort("frequency"))
    assert by["len"].to_list() == [1411, 439, 214, 100, 62, 38, 29, 64]
    assert np.round(by["frequency_holdout"].to_numpy(), 3).tolist() == [0.237, 0.697, 1.393, 1.560, 2.532, 2.947,
                                                                         3.862, 6.359]


def test_bgnbd_reproduces_fader_hardie_lee_2005(fitted):
    bg = fitted[0]
    got = {k: round(v, 3) for k, v in bg.params_.items()}
    assert got == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert bg.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert bg.expected_purchases_unconditional(52) == pytest.approx(1.444004, abs=1e-4)
    assert bg.expected_purchases_unconditional([1, 3, 32, 78]) == pytest.approx([0.0532, 0.1506, 1.0437, 1.8576],
                                                                                 abs=1e-3)
    c1516 = pl.DataFrame({"frequency": [26], "recency": [30.857], "T": [31.0]})
    assert bg.expected_purchases(c1516, t=52)[0] == pytest.approx(25.75659, abs=2e-3)
    assert bg.p_alive(c1516)[0] == pytest.approx(0.9688523, abs=1e-4)
    assert all(0 < e < bg.params_[k] for k, e in bg.standard_errors_.items())


def test_pareto_nbd_reproduces_fader_hardie_lee_2005(fitted):
    pn = fitted[1]
    got = {k: round(v, 3) for k, v in pn.params_.items()}
    assert got == {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    assert pn.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)
    assert pn.expected_purchases_unconditional(52) == pytest.approx(1.473434, abs=1e-4)
    c1516 = pl.DataFrame({"frequency": [26], "recency": [30.857], "T": [31.0]})
    assert pn.expected_purchases(c1516, t=52)[0] == pytest.approx(25.45647, abs=2e-3)
    assert pn.p_alive(c1516)[0] == pytest.approx(0.997874, abs=1e-4)


def test_gamma_gamma_reproduces_fader_hardie_2013(fitted):
    gg = fitted[2]
    assert gg.n_customers_ == 946
    assert {k: round(v, 2) for k, v in gg.params_.items()} == {"p": 6.25, "q": 3.74, "gamma": 15.44}
    assert gg.log_likelihood_ == pytest.approx(-4055.9, abs=0.05)


def test_published_summary_gives_the_same_fit_to_three_decimals():
    ref = pl.read_csv(CDNOW / "cdnow_customers_summary.csv")
    bg = clv.BGNBDModel().fit(ref)
    assert {k: round(v, 3) for k, v in bg.params_.items()} == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert bg.expected_purchases_unconditional(52) == pytest.approx(1.444004, abs=1e-4)


def test_bgnbd_formulas_at_the_published_parameters():
    """The R BTYD walkthrough evaluates with the rounded published parameters."""
    bg = clv.BGNBDModel()
    bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert bg.probability_of_purchases(39, 0) == pytest.approx(0.5737864, abs=1e-6)
    # P(X(t) = n) is a distribution: it sums to 1 and its mean is E[X(t)]
    probs = np.array([bg.probability_of_purchases(39, n) for n in range(200)])
    assert probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert (probs * np.arange(200)).sum() == pytest.approx(bg.expected_purchases_unconditional(39), abs=1e-5)


def test_bgnbd_likelihood_equals_the_closed_form_written_out(fitted, summary):
    """Independent computation: the paper's equation (6) with plain Beta / Gamma functions, not log space."""
    bg = fitted[0]
    r, alpha, a, b = (bg.params_[k] for k in ("r", "alpha", "a", "b"))
    x, tx, T = (summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    x, tx, T = x[:300], tx[:300], T[:300]  # small x keeps the plain functions finite
    lik = (special.beta(a, b + x) / special.beta(a, b) * special.gamma(r + x) * alpha ** r
           / (special.gamma(r) * (alpha + T) ** (r + x)))
    lik += np.where(x > 0, special.beta(a + 1, b + x - 1) / special.beta(a, b) * special.gamma(r + x) * alpha ** r
                    / (special.gamma(r) * (alpha + tx) ** (r + x)), 0.0)
    ours = bg._loglik(np.array([r, alpha, a, b]), x, tx, T)
    assert ours == pytest.approx(np.log(lik), rel=1e-9)


def test_clv_is_discounted_purchases_times_spend(fitted, summary):
    bg, _, gg = fitted
    one = clv.predict_value(summary, bg, gg, horizon=52, steps=1, discount_rate=0.0,
                            customer_col="sample_customer_id")
    expected = bg.expected_purchases(summary, t=52) * gg.expected_spend(summary)
    assert one["clv"].to_numpy() == pytest.approx(expected)
    discounted = clv.predict_value(summary, bg, gg, horizon=52, steps=12, discount_rate=0.1,
                                   customer_col="sample_customer_id")
    assert (discounted["clv"] <= one["clv"] + 1e-9).all() and (discounted["clv"] >= one["clv"] / 1.1 - 1e-9).all()
    assert discounted["p_alive"].to_list() == pytest.approx(bg.p_alive(summary).tolist())


def test_rfm_summary_on_pandas_and_polars(frame):
    tx = frame({"person_id": ["a", "a", "a", "b", "a"], "amount": [10.0, 5.0, 20.0, 7.0, 99.0],
                "order_ts": [dt.datetime(2024, 1, 1, 9), dt.datetime(2024, 1, 1, 18), dt.datetime(2024, 1, 15),
                             dt.datetime(2024, 1, 8), dt.datetime(2024, 2, 5)]})
    out = clv.rfm_summary(tx, calibration_end="2024-01-29", observation_end="2024-02-26")
    assert type(out) is type(tx)
    rows = pl.from_pandas(out).rows() if hasattr(out, "iloc") else out.rows()
    # a: days 1 Jan (15 merged), 15 Jan → 1 repeat worth 20; 5 Feb is in the holdout
    assert rows == [("a", 1, 2.0, 4.0, 20.0, 1, 4.0), ("b", 0, 0.0, 3.0, 0.0, 0, 4.0)]


def test_bad_inputs_say_what_is_wrong(frame):
    tx = frame({"person_id": ["a"], "amount": [1.0], "order_ts": [dt.date(2024, 1, 1)]})
    with pytest.raises(InputError, match=r"transactions: missing columns \['spend'\]"):
        clv.rfm_summary(tx, calibration_end="2024-02-01", amount_col="spend")
    with pytest.raises(InputError, match=r"time_unit must be one of \['D', 'W'\], got 'M'"):
        clv.rfm_summary(tx, calibration_end="2024-02-01", time_unit="M")
    with pytest.raises(InputError, match=r"observation_end 2024-01-01 is before calibration_end 2024-02-01"):
        clv.rfm_summary(tx, calibration_end="2024-02-01", observation_end="2024-01-01")
    with pytest.raises(InputError, match=r"calibration_end must be a date like"):
        clv.rfm_summary(tx, calibration_end="soon")
    with pytest.raises(InputError, match=r"BGNBDModel: recency must be >= 0 and not null \(row 1\)"):
        clv.BGNBDModel().fit(frame({"frequency": [1, 2], "recency": [1.0, -1.0], "T": [3.0, 3.0]}))
    with pytest.raises(InputError, match=r"GammaGammaModel: missing columns \['monetary_value'\]"):
        clv.GammaGammaModel().fit(frame({"frequency": [1]}))
