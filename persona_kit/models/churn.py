"""Churn propensity: a label from a future window, a calibrated gradient-boosting model, its evaluation.

**No leakage by construction.** A training example is a person as of a *cut-off* day: the features are
:func:`persona_kit.features.build_features` computed ``as_of`` the cut-off (they never read a later row) and
the label comes only from the window after it: :func:`churn_labels` marks a customer (someone who bought in
the ``lookback_days`` up to the cut-off) as churned when she buys nothing in the next ``horizon_days``.
:class:`ChurnModel` refuses features whose ``as_of`` is not the labels' cut-off, so features computed after
the cut-off cannot enter. Train on one cut-off, validate on a later one (time-based split), then score the
current snapshot.

**Model.** scikit-learn's ``HistGradientBoostingClassifier`` on the numeric and yes/no features, wrapped in
``CalibratedClassifierCV`` (isotonic by default) so that a probability of 0.3 means 3 churners in 10.
Evaluate with :func:`evaluate` (AUC, PR-AUC, lift at the top decile), :func:`gains` (cumulative gains and lift
curve), :func:`calibration` (predicted vs observed by bin), :func:`drivers` (permutation importance) and
:func:`risk_tiers` (persons and expected churners per tier). :func:`recency_baseline` is the rule the model
must beat: the longer since the last purchase, the likelier the churn.

Examples
--------
>>> import polars as pl, datetime as dt
>>> orders = pl.DataFrame({"person_id": ["a", "a", "b"],
...     "order_ts": [dt.datetime(2024, 1, 5), dt.datetime(2024, 2, 10), dt.datetime(2024, 1, 20)]})
>>> churn_labels(orders, cutoff="2024-01-31", horizon_days=30).rows()
[('a', False, datetime.date(2024, 1, 31)), ('b', True, datetime.date(2024, 1, 31))]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from persona_kit.errors import InputError, check_choice, check_columns
from persona_kit.features import observation_end
from persona_kit.frames import as_polars

__all__ = ["churn_labels", "model_columns", "ChurnModel", "recency_baseline", "evaluate", "gains", "calibration",
           "drivers", "risk_tiers", "tier_of", "TIER_LABELS"]

TIER_LABELS = ("低", "中", "高")
_NEVER = ("person_id", "as_of", "churned")


def _day(value: Any, name: str) -> dt.date:
    try:
        return (observation_end(value) - dt.timedelta(days=1)).date()
    except InputError:
        raise InputError(f"{name} must be a date like '2026-03-31', got {value!r}") from None


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def churn_labels(orders: Any, *, cutoff: Any, horizon_days: int = 90, lookback_days: int = 365,
                 person_col: str = "person_id", ts_col: str = "order_ts") -> Any:
    """Who churned after ``cutoff``: customers of the lookback window with no purchase in the next window.

    Parameters
    ----------
    orders : pandas or polars DataFrame
        Purchases customers kept (one row per order or line), with ``person_col`` and ``ts_col``.
    cutoff : date or 'YYYY-MM-DD'
        The last day the model may see; features must be computed as of this day.
    horizon_days : int
        Length of the future window ``(cutoff, cutoff + horizon_days]`` the label is read from.
    lookback_days : int
        A person is in the population when she bought in the ``lookback_days`` days up to ``cutoff``.

    Returns
    -------
    Same kind of frame: ``person_col``, ``churned`` (bool), ``as_of`` (the cut-off, a date), sorted by person.

    Raises
    ------
    InputError
        Missing columns, a bad date or window length.

    Examples
    --------
    >>> import pandas as pd
    >>> o = pd.DataFrame({"person_id": ["a", "b", "b"], "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02",
    ...                                                                          "2024-03-01"])})
    >>> churn_labels(o, cutoff="2024-01-31", horizon_days=60)["churned"].tolist()
    [True, False]
    """
    frame, back = as_polars(orders, where="orders")
    check_columns(frame.columns, [person_col, ts_col], where="orders")
    day = _day(cutoff, "cutoff")
    horizon, lookback = _positive_int("horizon_days", horizon_days), _positive_int("lookback_days", lookback_days)
    ts = pl.col(ts_col).dt.date() if frame.schema[ts_col] != pl.Date else pl.col(ts_col)
    days = frame.select(pl.col(person_col), ts.alias("_day"))
    before = days.filter(pl.col("_day").is_between(day - dt.timedelta(days=lookback - 1), day))
    after = days.filter(pl.col("_day").is_between(day + dt.timedelta(days=1), day + dt.timedelta(days=horizon)))
    out = (before.select(person_col).unique()
           .with_columns(churned=~pl.col(person_col).is_in(after[person_col].unique().implode()),
                         as_of=pl.lit(day, dtype=pl.Date))
           .sort(person_col))
    return back(out)


def model_columns(features: Any, *, exclude: Sequence[str] = ()) -> list[str]:
    """The numeric and yes/no columns of a features frame a churn model can use (ids, dates and columns
    without a single value left out).

    >>> import polars as pl
    >>> model_columns(pl.DataFrame({"person_id": ["a"], "orders_30d": [1], "gender": ["f"], "vip": [True]}))
    ['orders_30d', 'vip']
    """
    frame, _ = as_polars(features, where="features")
    return [c for c, t in frame.schema.items()
            if c not in _NEVER and c not in exclude and (t.is_numeric() or t == pl.Boolean)
            and frame[c].null_count() < frame.height]


def _matrix(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    return frame.select(pl.col(columns).cast(pl.Float64)).to_numpy()


def _dates(frame: pl.DataFrame, where: str) -> set[dt.date]:
    if frame["as_of"].null_count():
        raise InputError(f"{where}.as_of has nulls; every row needs the cut-off it describes")
    return {_day(d, f"{where}.as_of") for d in frame["as_of"].unique().to_list()}


def _joined(features: Any, labels: Any, person_col: str) -> pl.DataFrame:
    """Labels joined to the features of the same person AS OF THE SAME cut-off (several cut-offs may stack)."""
    feats, _ = as_polars(features, where="features")
    labs, _ = as_polars(labels, where="labels")
    check_columns(feats.columns, [person_col, "as_of"], where="features")
    check_columns(labs.columns, [person_col, "churned", "as_of"], where="labels")
    missing = sorted(_dates(labs, "labels") - _dates(feats, "features"))
    if missing:
        found = sorted(str(d) for d in _dates(feats, "features"))
        raise InputError(f"features are as of {found} but the labels' cut-off is {missing[0]}; compute the features "
                         f"as of the cut-off (build_features(..., as_of='{missing[0]}')) so nothing after it leaks in")
    day = pl.col("as_of").cast(pl.Date)
    return (labs.select(person_col, "churned", day)
            .join(feats.with_columns(day), on=[person_col, "as_of"], how="left"))


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Calibrated gradient boosting on features as of a cut-off and labels from the window after it.

    Several cut-offs may be stacked (rows of features and labels for each ``as_of``): each label is joined
    to the features of its own cut-off; more cut-offs make the model robust to seasonal swings of churn.

    Parameters
    ----------
    columns : list of str, optional
        Feature columns to use; default :func:`model_columns` of the training features.
    method : {'isotonic', 'sigmoid'}
        Probability calibration (``CalibratedClassifierCV``, 3-fold).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf
        Boosting settings of ``HistGradientBoostingClassifier`` (small, regularized trees by default).
    n_threads : int or None
        OpenMP threads for fitting and scoring; 1 is fastest on a few thousand persons and shared machines
        (more threads than free cores slow boosting down badly); None uses every core.
    random_state : int
        Seed of the boosting and the calibration folds.

    Examples
    --------
    >>> import polars as pl, numpy as np, datetime as dt
    >>> rng = np.random.default_rng(0)
    >>> days = rng.integers(0, 300, 200)
    >>> f = pl.DataFrame({"person_id": [str(i) for i in range(200)], "days_since_last_purchase": days,
    ...                   "as_of": dt.date(2024, 1, 31)})
    >>> y = f.select("person_id", "as_of", churned=pl.Series(rng.random(200) < days / 300))
    >>> m = ChurnModel(max_iter=20).fit(f, y)
    >>> p = m.predict_proba(f)[:, 1]
    >>> bool(p[days > 250].mean() > p[days < 50].mean())
    True
    """

    def __init__(self, *, columns: Sequence[str] | None = None, method: str = "isotonic", max_iter: int = 100,
                 learning_rate: float = 0.05, max_leaf_nodes: int = 15, min_samples_leaf: int = 50,
                 n_threads: int | None = 1, random_state: int = 0) -> None:
        self.columns = columns
        self.method = method
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.n_threads = n_threads
        self.random_state = random_state

    def fit(self, features: Any, labels: Any, *, person_col: str = "person_id") -> ChurnModel:
        """Fit on ``features`` (as of the cut-off) joined to :func:`churn_labels` of the same cut-off."""
        check_choice("method", self.method, ["isotonic", "sigmoid"])
        data = _joined(features, labels, person_col)
        columns = list(self.columns) if self.columns is not None else model_columns(data, exclude=[person_col])
        check_columns(data.columns, columns, where="features")
        y = data["churned"].cast(pl.Int8).to_numpy()
        if len(np.unique(y)) < 2:
            raise InputError(f"labels: every person has churned = {bool(y[0]) if len(y) else None}; a model needs "
                             "both churners and stayers (choose another cut-off or horizon_days)")
        booster = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                                 max_leaf_nodes=self.max_leaf_nodes,
                                                 min_samples_leaf=self.min_samples_leaf, random_state=self.random_state)
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            self.model_ = CalibratedClassifierCV(booster, method=self.method, cv=3).fit(_matrix(data, columns), y)
        self.columns_ = columns
        self.classes_ = np.array([0, 1])
        self.cutoffs_ = sorted(data["as_of"].unique().to_list())
        self.base_rate_ = float(y.mean())
        return self

    def predict_proba(self, features: Any) -> np.ndarray:
        """``[[P(stay), P(churn)], ...]`` per row of ``features`` (the training columns are required)."""
        check_is_fitted(self, "model_")
        if isinstance(features, np.ndarray):
            with threadpool_limits(limits=self.n_threads, user_api="openmp"):
                return self.model_.predict_proba(features)
        frame, _ = as_polars(features, where="features")
        check_columns(frame.columns, self.columns_, where="features")
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self.model_.predict_proba(_matrix(frame, self.columns_))

    def predict(self, features: Any) -> np.ndarray:
        """1 where P(churn) > 0.5."""
        return (self.predict_proba(features)[:, 1] > 0.5).astype(int)


def recency_baseline(features: Any, *, column: str = "days_since_last_purchase") -> np.ndarray:
    """The rule the model must beat: a churn score that grows with the days since the last purchase.

    >>> import polars as pl
    >>> recency_baseline(pl.DataFrame({"days_since_last_purchase": [3, 300, None]})).tolist()
    [3.0, 300.0, inf]
    """
    frame, _ = as_polars(features, where="features")
    check_columns(frame.columns, [column], where="features")
    return frame[column].cast(pl.Float64).fill_null(np.inf).to_numpy()


def _scores(y: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    y, score = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    if y.shape != score.shape or y.ndim != 1 or len(y) == 0:
        raise InputError(f"y and score must be 1-d of the same length, got {y.shape} and {score.shape}")
    return y, np.where(np.isinf(score), np.nanmax(score[np.isfinite(score)], initial=0) + 1, score)


def evaluate(y: Any, score: Any, *, top: float = 0.1) -> dict[str, float]:
    """AUC, PR-AUC (average precision), base rate and lift in the top ``top`` share ranked by ``score``.

    >>> evaluate([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3], top=0.5)
    {'auc': 1.0, 'pr_auc': 1.0, 'base_rate': 0.5, 'lift_top': 2.0}
    """
    y, score = _scores(y, score)
    n_top = max(1, int(round(top * len(y))))
    best = y[np.argsort(-score, kind="stable")][:n_top]
    return {"auc": float(roc_auc_score(y, score)), "pr_auc": float(average_precision_score(y, score)),
            "base_rate": float(y.mean()), "lift_top": float(best.mean() / y.mean())}


def gains(y: Any, score: Any, *, points: int = 20) -> pl.DataFrame:
    """Cumulative gains and lift: targeting the top ``share_targeted`` by score catches ``share_of_churners``.

    >>> gains([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3], points=2).rows()
    [(0.0, 0.0, None), (0.5, 1.0, 2.0), (1.0, 1.0, 1.0)]
    """
    y, score = _scores(y, score)
    ranked = y[np.argsort(-score, kind="stable")]
    caught = np.concatenate([[0.0], np.cumsum(ranked)]) / ranked.sum()
    shares = np.linspace(0, 1, points + 1)
    idx = np.round(shares * len(y)).astype(int)
    lift = [None if s == 0 else float(caught[i] / s) for s, i in zip(shares, idx, strict=True)]
    return pl.DataFrame({"share_targeted": shares, "share_of_churners": caught[idx], "lift": lift},
                        schema={"share_targeted": pl.Float64, "share_of_churners": pl.Float64, "lift": pl.Float64})


def calibration(y: Any, probability: Any, *, bins: int = 10) -> pl.DataFrame:
    """Mean predicted vs observed churn rate per quantile bin of the prediction (``calibration_curve``).

    >>> calibration([0, 0, 1, 1], [0.25, 0.25, 0.75, 0.75], bins=2).rows()
    [(0.25, 0.0), (0.75, 1.0)]
    """
    y, probability = _scores(y, probability)
    observed, predicted = calibration_curve(y, probability, n_bins=bins, strategy="quantile")
    return pl.DataFrame({"predicted": predicted, "observed": observed})


def drivers(model: ChurnModel, features: Any, labels: Any, *, columns: Sequence[str] | None = None,
            n_repeats: int = 5, person_col: str = "person_id", random_state: int = 0) -> Any:
    """Permutation importance: how much the AUC drops when one feature's values are shuffled.

    Parameters
    ----------
    model : ChurnModel
        Fitted.
    features, labels
        Evaluation rows (e.g. the validation cut-off, or one segment of it).
    columns : list of str, optional
        Only permute these (default: all the model's columns).

    Returns
    -------
    Same kind of frame as ``features``: ``feature, importance, importance_std`` sorted by importance.
    """
    check_is_fitted(model, "model_")
    data = _joined(features, labels, person_col)
    wanted = list(columns) if columns is not None else model.columns_
    unknown = sorted(set(wanted) - set(model.columns_))
    if unknown:
        raise InputError(f"columns {unknown} are not model columns")
    y = data["churned"].cast(pl.Int8).to_numpy()
    if len(np.unique(y)) < 2:
        raise InputError("labels: drivers need both churners and stayers in the evaluation rows")
    full = _matrix(data, model.columns_)
    subset = _Subset(model, full, [model.columns_.index(c) for c in wanted])
    result = permutation_importance(subset, full[:, subset.idx], y, n_repeats=n_repeats, random_state=random_state,
                                    scoring=lambda est, X, y: roc_auc_score(y, est.predict_proba(X)[:, 1]))
    out = (pl.DataFrame({"feature": wanted, "importance": result.importances_mean,
                         "importance_std": result.importances_std}).sort("importance", descending=True))
    return as_polars(features, where="features")[1](out)


class _Subset:
    """Lets ``permutation_importance`` shuffle only some columns: the others stay as in ``full``."""

    def __init__(self, model: Any, full: np.ndarray, idx: list[int]) -> None:
        self.model, self.full, self.idx = model, full, idx

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Subset:  # the model is fitted already
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        data = self.full.copy()
        data[:, self.idx] = X
        return self.model.predict_proba(data)


def risk_tiers(probability: Any, *, bins: Sequence[float] = (0.3, 0.7),
               labels: Sequence[str] = TIER_LABELS) -> pl.DataFrame:
    """Persons, expected churners (the sum of probabilities) and mean probability per risk tier.

    A probability equal to a bin edge falls in the lower tier (as the catalog's ``churn_risk`` tag).

    >>> risk_tiers([0.1, 0.2, 0.5, 0.9]).rows()
    [('低', 2, 0.30000000000000004, 0.15000000000000002), ('中', 1, 0.5, 0.5), ('高', 1, 0.9, 0.9)]
    """
    frame = pl.DataFrame({"churn_tier": tier_of(probability, bins=bins, labels=labels),
                          "p": np.asarray(probability, dtype=float)})
    order = pl.DataFrame({"churn_tier": list(labels)}).with_row_index("_o")
    return (frame.group_by("churn_tier").agg(persons=pl.len(), expected_churners=pl.col("p").sum(),
                                             mean_probability=pl.col("p").mean())
            .join(order, on="churn_tier").sort("_o").drop("_o"))


def tier_of(probability: Any, *, bins: Sequence[float] = (0.3, 0.7), labels: Sequence[str] = TIER_LABELS) -> list[str]:
    """The risk tier label of each probability (edges fall in the lower tier).

    >>> tier_of([0.3, 0.31, 0.8])
    ['低', '中', '高']
    """
    if len(labels) != len(bins) + 1 or list(bins) != sorted(bins):
        raise InputError(f"risk tiers need increasing bins and one more label than bins, got bins={list(bins)}, "
                         f"labels={list(labels)}")
    return np.asarray(labels)[np.searchsorted(np.asarray(bins), np.asarray(probability, dtype=float),
                                              side="left")].tolist()
