"""Customer lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma fitted by maximum likelihood (scipy).

The models of Fader, Hardie & Lee (2005) and Fader & Hardie (2013), as scikit-learn-style estimators:
``fit`` stores ``params_``, ``log_likelihood_`` and ``standard_errors_`` (from the inverse of the numerical
Hessian of the log-likelihood at the optimum). Likelihoods are summed over the distinct
``(frequency, recency, T)`` rows with their counts, so a million customers fit as fast as their few
thousand distinct histories.

The input of every model is the summary :func:`rfm_summary` builds from order lines, one row per customer:

``frequency``
    repeat purchases: distinct purchase days in the calibration period minus one (same-day orders merge);
``recency``
    time from the first to the last purchase day; ``T``: time from the first purchase day to the end of the
    calibration period (both in ``time_unit``: ``W`` = days / 7, as in the papers; ``D`` = days);
``monetary_value``
    mean amount of the repeat purchase days (0 without repeats) — the Gamma-Gamma input;
``frequency_holdout``, ``duration_holdout``
    purchase days after the calibration end up to ``observation_end`` (when given), to check predictions.

:func:`predict_value` combines a transaction model and the Gamma-Gamma spend model into P(alive), expected
purchases, expected spend per purchase and the discounted CLV over a horizon.

Examples
--------
>>> import polars as pl, datetime as dt
>>> tx = pl.DataFrame({"person_id": ["a", "a", "a", "b"], "amount": [10.0, 20.0, 30.0, 5.0],
...     "order_ts": [dt.date(2024, 1, 1), dt.date(2024, 1, 8), dt.date(2024, 1, 22), dt.date(2024, 1, 15)]})
>>> rfm_summary(tx, calibration_end="2024-01-29").rows()
[('a', 2, 3.0, 4.0, 25.0), ('b', 0, 0.0, 2.0, 0.0)]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy import optimize, special
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from persona_kit.errors import InputError, check_choice, check_columns, check_date
from persona_kit.frames import as_polars

__all__ = ["TIME_UNITS", "rfm_summary", "BGNBDModel", "ParetoNBDModel", "GammaGammaModel", "predict_value"]

TIME_UNITS = {"D": 1.0, "W": 7.0}
_LOG_BOUND = 10.0  # fitted parameters lie in [e^-10, e^10] ≈ [4.5e-5, 22026]
_SUMMARY = ("frequency", "recency", "T")


def rfm_summary(transactions: Any, *, calibration_end: Any, observation_end: Any = None,
                customer_col: str = "person_id", ts_col: str = "order_ts", amount_col: str = "amount",
                time_unit: str = "W") -> Any:
    """Per-customer frequency / recency / T / monetary value from purchase rows (the papers' summary).

    Parameters
    ----------
    transactions : pandas or polars DataFrame
        One row per purchase (or order line): ``customer_col``, ``ts_col`` (date or datetime; a zoned
        datetime counts in its own local days) and ``amount_col``. Keep only what customers kept (paid,
        netted) before calling.
    calibration_end : date or 'YYYY-MM-DD'
        Last day of the calibration period (inclusive). Customers whose first purchase is later are left out.
    observation_end : date or 'YYYY-MM-DD', optional
        Last day of the holdout period; adds ``frequency_holdout`` (purchase days after ``calibration_end``)
        and ``duration_holdout``.
    customer_col, ts_col, amount_col : str
        Column names; the output calls the customer column ``customer_col`` too.
    time_unit : {'W', 'D'}
        Unit of ``recency``, ``T`` and ``duration_holdout``: weeks (days / 7) or days.

    Returns
    -------
    Same kind of frame as the input, sorted by customer.

    Raises
    ------
    InputError
        Missing columns, a bad ``time_unit`` or date, or ``observation_end`` before ``calibration_end``.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"id": [1, 1, 1], "amount": [5.0, 7.0, 9.0],
    ...                    "order_ts": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-15"])})
    >>> out = rfm_summary(tx, calibration_end="2024-01-10", observation_end="2024-01-31", customer_col="id",
    ...                   time_unit="D")
    >>> out.to_dict("records")
    [{'id': 1, 'frequency': 0, 'recency': 0.0, 'T': 9.0, 'monetary_value': 0.0, 'frequency_holdout': 1, 'duration_holdout': 21.0}]
    """
    frame, back = as_polars(transactions, where="transactions")
    check_columns(frame.columns, [customer_col, ts_col, amount_col], where="transactions")
    check_choice("time_unit", time_unit, list(TIME_UNITS))
    unit = TIME_UNITS[time_unit]
    cal_end = check_date("calibration_end", calibration_end)
    obs_end = check_date("observation_end", observation_end) if observation_end is not None else None
    if obs_end is not None and obs_end < cal_end:
        raise InputError(f"observation_end {obs_end} is before calibration_end {cal_end}")
    ts = pl.col(ts_col)
    day = ts.dt.date() if frame.schema[ts_col] != pl.Date else ts
    # eager: polars' in-memory engine adds a group's floats in row order, so reruns give the same sums (a lazy
    # query runs on the streaming engine, which adds them in whatever order its threads see the rows)
    days = (frame.select(pl.col(customer_col), day.alias("_day"), pl.col(amount_col).cast(pl.Float64))
            .group_by(customer_col, "_day").agg(pl.col(amount_col).sum()))
    summary = (days.filter(pl.col("_day") <= cal_end).group_by(customer_col).agg(
        frequency=(pl.len() - 1).cast(pl.Int64),
        recency=(pl.col("_day").max() - pl.col("_day").min()).dt.total_days() / unit,
        T=(pl.lit(cal_end) - pl.col("_day").min()).dt.total_days() / unit,
        monetary_value=pl.col(amount_col).sort_by("_day").slice(1).mean().fill_null(0.0)))
    if obs_end is not None:
        hold = (days.filter((pl.col("_day") > cal_end) & (pl.col("_day") <= obs_end))
                .group_by(customer_col).agg(frequency_holdout=pl.len().cast(pl.Int64)))
        summary = (summary.join(hold, on=customer_col, how="left")
                   .with_columns(pl.col("frequency_holdout").fill_null(0),
                                 duration_holdout=pl.lit((obs_end - cal_end).days / unit)))
    return back(summary.sort(customer_col))


def _arrays(summary: Any, columns: tuple[str, ...], where: str) -> list[np.ndarray]:
    frame, _ = as_polars(summary, where=where)
    check_columns(frame.columns, list(columns), where=where)
    arrays = [frame[c].cast(pl.Float64).to_numpy() for c in columns]
    for name, values in zip(columns, arrays, strict=True):
        if np.isnan(values).any() or (values < 0).any():
            row = int(np.flatnonzero(np.isnan(values) | (values < 0))[0])
            raise InputError(f"{where}: {name} must be >= 0 and not null (row {row})")
    return arrays


def _hessian(f: Any, x: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``x`` (relative steps)."""
    n = len(x)
    h = 1e-4 * np.maximum(np.abs(x), 1e-2)
    out = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            def shifted(di: float, dj: float, i: int = i, j: int = j) -> float:
                y = x.astype(float).copy()
                y[i] += di * h[i]
                y[j] += dj * h[j]
                return f(y)
            out[i, j] = out[j, i] = (shifted(1, 1) - shifted(1, -1) - shifted(-1, 1) + shifted(-1, -1)) / (
                4 * h[i] * h[j])
    return out


class _MLEModel(BaseEstimator):
    """Shared maximum-likelihood fitting over weighted distinct rows; subclasses give ``_loglik``."""

    _names: tuple[str, ...] = ()
    _columns: tuple[str, ...] = _SUMMARY

    def __init__(self, *, tol: float = 1e-9) -> None:
        self.tol = tol

    def _rows(self, summary: Any) -> tuple[list[np.ndarray], np.ndarray]:
        arrays = _arrays(summary, self._columns, type(self).__name__)
        unique, counts = np.unique(np.column_stack(arrays), axis=0, return_counts=True)
        return [unique[:, k] for k in range(unique.shape[1])], counts.astype(float)

    def fit(self, summary: Any) -> _MLEModel:
        """Fit the parameters by maximum likelihood on a :func:`rfm_summary` frame; returns ``self``."""
        data, weights = self._rows(summary)
        if weights.sum() == 0:
            raise InputError(f"{type(self).__name__}: no customers to fit")

        def negll(log_params: np.ndarray) -> float:
            value = -(weights * self._loglik(np.exp(log_params), *data)).sum()
            return value if np.isfinite(value) else 1e300

        # a quasi-Newton run from 1, 1, ... then a simplex polish: robust on flat ridges, seconds on CDNOW.
        # Parameters stay within e^±10: beyond, the data cannot tell values apart (and hyp2f1 crawls)
        box = [(-_LOG_BOUND, _LOG_BOUND)] * len(self._names)
        with np.errstate(all="ignore"):
            first = optimize.minimize(negll, np.zeros(len(self._names)), method="L-BFGS-B", bounds=box)
            polish = optimize.minimize(negll, first.x, method="Nelder-Mead", bounds=box,
                                       options={"xatol": 1e-7, "fatol": self.tol, "maxfev": 200 * len(first.x)})
        result = polish if polish.fun <= first.fun else first
        params = np.exp(result.x)
        self.params_ = dict(zip(self._names, (float(p) for p in params), strict=True))
        self.log_likelihood_ = float(-result.fun)
        self.n_customers_ = int(weights.sum())
        with np.errstate(all="ignore"):
            hess = _hessian(lambda p: -(weights * self._loglik(p, *data)).sum(), params)
        try:
            cov = np.linalg.inv(hess)
            errors = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
        except np.linalg.LinAlgError:
            errors = np.full(len(params), np.nan)
        self.standard_errors_ = dict(zip(self._names, (float(e) for e in errors), strict=True))
        return self

    def _p(self) -> list[float]:
        check_is_fitted(self, "params_")
        return [self.params_[n] for n in self._names]


class BGNBDModel(_MLEModel):
    """BG/NBD (Fader, Hardie & Lee 2005): Poisson purchases at rate λ ~ Gamma(r, α) while alive; after each
    purchase the customer drops out with probability p ~ Beta(a, b).

    Parameters
    ----------
    tol : float
        Optimizer tolerance.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.DataFrame({"frequency": [0, 1, 3, 0, 2, 5, 0, 1], "recency": [0.0, 5, 20, 0, 12, 30, 0, 2],
    ...                   "T": [30.0, 30, 32, 25, 28, 33, 20, 31]})
    >>> m = BGNBDModel().fit(s)
    >>> sorted(m.params_)
    ['a', 'alpha', 'b', 'r']
    >>> bool(0 < m.p_alive(s)[0] <= 1)
    True
    """

    _names = ("r", "alpha", "a", "b")

    @staticmethod
    def _loglik(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx),
                          -np.inf)
        return a1 + a2 + np.logaddexp(a3, a4)

    def p_alive(self, summary: Any) -> np.ndarray:
        """P(the customer is still active at the end of calibration | history)."""
        r, alpha, a, b = self._p()
        x, tx, T = _arrays(summary, _SUMMARY, "summary")
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0)
        return 1.0 / (1.0 + odds)

    def expected_purchases(self, summary: Any, *, t: float) -> np.ndarray:
        """Expected purchases in the next ``t`` time units, given each customer's history."""
        r, alpha, a, b = self._p()
        x, tx, T = _arrays(summary, _SUMMARY, "summary")
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0)
        return head / (1 + odds)

    def expected_purchases_unconditional(self, t: Any) -> np.ndarray:
        """E[X(t)]: expected purchases of a new customer in her first ``t`` time units."""
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype=float)
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)

    def probability_of_purchases(self, t: float, n: int) -> float:
        """P(X(t) = n): probability that a new customer makes exactly ``n`` purchases in ``t`` time units."""
        r, alpha, a, b = self._p()
        lbeta = special.betaln
        first = np.exp(lbeta(a, b + n) - lbeta(a, b) + special.gammaln(r + n) - special.gammaln(r)
                       - special.gammaln(n + 1) + r * np.log(alpha / (alpha + t)) + n * np.log(t / (alpha + t)))
        if n == 0:
            return float(first)
        j = np.arange(n)
        terms = np.exp(special.gammaln(r + j) - special.gammaln(r) - special.gammaln(j + 1)
                       + j * np.log(t / (alpha + t)))
        second = np.exp(lbeta(a + 1, b + n - 1) - lbeta(a, b)) * (1 - (alpha / (alpha + t)) ** r * terms.sum())
        return float(first + second)


class ParetoNBDModel(_MLEModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): Poisson purchases at rate λ ~ Gamma(r, α) and an
    exponential lifetime with dropout rate μ ~ Gamma(s, β).

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.DataFrame({"frequency": [0, 1, 3, 0, 2, 5, 0, 1], "recency": [0.0, 5, 20, 0, 12, 30, 0, 2],
    ...                   "T": [30.0, 30, 32, 25, 28, 33, 20, 31]})
    >>> sorted(ParetoNBDModel().fit(s).params_)
    ['alpha', 'beta', 'r', 's']
    """

    _names = ("r", "alpha", "s", "beta")

    @staticmethod
    def _log_a0(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = params
        if alpha < beta:
            low, high, second = alpha, beta, r + x
        else:
            low, high, second = beta, alpha, s + 1
        rsx = r + s + x
        q1, q2 = high + tx, high + T

        def log_hyp(q: np.ndarray) -> np.ndarray:
            # Euler's transformation 2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z) keeps the
            # series fast and finite when z = (high - low) / q is near 1 (a parameter at the edge of its range)
            z = (high - low) / q
            return (1 - second) * np.log1p(-z) + np.log(special.hyp2f1(1.0, rsx + 1 - second, rsx + 1, z))

        with np.errstate(divide="ignore", invalid="ignore"):
            diff = special.logsumexp([log_hyp(q1) + rsx * np.log(q2), log_hyp(q2) + rsx * np.log(q1)], axis=0,
                                     b=[np.ones_like(x), -np.ones_like(x)])
        return diff - rsx * np.log(q1 * q2)

    @classmethod
    def _loglik(cls, params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = params
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        a2 = np.logaddexp(-(r + x) * np.log(alpha + T) - s * np.log(beta + T),
                          np.log(s) + cls._log_a0(params, x, tx, T) - np.log(r + s + x))
        return a1 + a2

    def p_alive(self, summary: Any) -> np.ndarray:
        """P(the customer is still active at the end of calibration | history)."""
        params = np.array(self._p())
        r, alpha, s, beta = params
        x, tx, T = _arrays(summary, _SUMMARY, "summary")
        log_odds = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T)
                    + self._log_a0(params, x, tx, T))
        return np.exp(-np.logaddexp(0.0, log_odds))

    def expected_purchases(self, summary: Any, *, t: float) -> np.ndarray:
        """Expected purchases in the next ``t`` time units, given each customer's history."""
        r, alpha, s, beta = self._p()
        x, _, T = _arrays(summary, _SUMMARY, "summary")
        rate = (r + x) * (beta + T) / ((alpha + T) * (s - 1))
        return rate * (1 - ((beta + T) / (beta + T + t)) ** (s - 1)) * self.p_alive(summary)

    def expected_purchases_unconditional(self, t: Any) -> np.ndarray:
        """E[X(t)]: expected purchases of a new customer in her first ``t`` time units."""
        r, alpha, s, beta = self._p()
        t = np.asarray(t, dtype=float)
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))


class GammaGammaModel(_MLEModel):
    """Gamma-Gamma spend model (Fader & Hardie 2013): each purchase's value ~ Gamma(p, ν), ν ~ Gamma(q, γ).
    Fitted on customers with at least one repeat purchase (``frequency > 0``), the others are skipped.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.DataFrame({"frequency": [1, 2, 3, 1, 4, 2, 0], "monetary_value": [20.0, 35, 18, 60, 25, 40, 0]})
    >>> m = GammaGammaModel().fit(s)
    >>> sorted(m.params_)
    ['gamma', 'p', 'q']
    >>> bool(m.expected_spend(s)[-1] > 0)
    True
    """

    _names = ("p", "q", "gamma")
    _columns = ("frequency", "monetary_value")

    def _rows(self, summary: Any) -> tuple[list[np.ndarray], np.ndarray]:
        (x, m), counts = super()._rows(summary)
        keep = (x > 0) & (m > 0)
        return [x[keep], m[keep]], counts[keep]

    @staticmethod
    def _loglik(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        p, q, gamma = params
        return (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(gamma)
                + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(gamma + m * x))

    def expected_spend(self, summary: Any) -> np.ndarray:
        """E[value of a purchase | history]: shrinks each customer's mean toward the population mean."""
        p, q, gamma = self._p()
        x, m = _arrays(summary, self._columns, "summary")
        return p * (gamma + x * m) / (p * x + q - 1)


def predict_value(summary: Any, transaction_model: BGNBDModel | ParetoNBDModel, spend_model: GammaGammaModel, *,
                  horizon: float, steps: int = 12, discount_rate: float = 0.1, customer_col: str = "person_id") -> Any:
    """P(alive), expected purchases, expected spend and discounted CLV over ``horizon`` time units.

    The horizon is cut into ``steps`` equal periods; the purchases expected in period ``k`` times the expected
    spend per purchase are discounted by ``(1 + discount_rate) ** (k / steps)``.

    Parameters
    ----------
    summary : DataFrame
        :func:`rfm_summary` output (``customer_col``, frequency, recency, T, monetary_value).
    transaction_model, spend_model
        Fitted models.
    horizon : float
        Prediction horizon in the summary's time unit (52.14 weeks or 365 days for a year).
    steps : int
        Number of discounting periods in the horizon.
    discount_rate : float
        Discount rate per horizon (0.1 = 10 % over the whole horizon), spread evenly over the steps.
    customer_col : str
        The customer id column, carried to the output.

    Returns
    -------
    Same kind of frame: ``customer_col``, ``p_alive``, ``expected_purchases``, ``expected_spend``, ``clv``.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.DataFrame({"person_id": list("abcdefgh"), "frequency": [0, 1, 3, 0, 2, 5, 0, 1],
    ...     "recency": [0.0, 5, 20, 0, 12, 30, 0, 2], "T": [30.0, 30, 32, 25, 28, 33, 20, 31],
    ...     "monetary_value": [0.0, 20, 18, 0, 25, 40, 0, 60]})
    >>> out = predict_value(s, BGNBDModel().fit(s), GammaGammaModel().fit(s), horizon=52)
    >>> out.columns
    ['person_id', 'p_alive', 'expected_purchases', 'expected_spend', 'clv']
    >>> bool((out["clv"] >= 0).all())
    True
    """
    frame, back = as_polars(summary, where="summary")
    check_columns(frame.columns, [customer_col, *_SUMMARY, "monetary_value"], where="summary")
    if not horizon > 0 or not isinstance(steps, int) or steps < 1:
        raise InputError(f"horizon must be > 0 and steps a whole number >= 1, got horizon={horizon!r}, "
                         f"steps={steps!r}")
    if not discount_rate >= 0:
        raise InputError(f"discount_rate must be >= 0, got {discount_rate!r}")
    spend = spend_model.expected_spend(frame)
    value = np.zeros(frame.height)
    previous = np.zeros(frame.height)
    for k in range(1, steps + 1):
        upto = transaction_model.expected_purchases(frame, t=horizon * k / steps)
        value += (upto - previous) * spend / (1 + discount_rate) ** (k / steps)
        previous = upto
    out = pl.DataFrame({customer_col: frame[customer_col], "p_alive": transaction_model.p_alive(frame),
                        "expected_purchases": previous, "expected_spend": spend, "clv": value})
    return back(out)
