"""Personas: clustering persons on chosen features, the choice of k, stability, TGI profiles and persona cards.

The model is a scikit-learn :class:`~sklearn.pipeline.Pipeline` (:func:`persona_pipeline`): missing values
filled (:func:`cluster_matrix` decides what a missing value means), ``log1p`` of the skewed non-negative
columns (:class:`SkewLog`: spend, orders, sessions), robust scaling (5th–95th percentile range, so the
many zeros of count features do not blow up the scale) or standard scaling, then KMeans, MiniBatchKMeans
or a Gaussian mixture.

- :func:`choose_k` — inertia (elbow) and silhouette per k;
- :func:`bootstrap_stability` — the adjusted Rand index (ARI) between the clustering of all persons and
  clusterings fitted on bootstrap resamples;
- :func:`fit_personas` — ``person_id``, ``persona_id`` (1 = the largest persona);
- :func:`tgi_profile` — every feature of each persona against the whole base: TGI (target group index,
  100 × persona share / base share, or persona mean / base mean), a two-proportion z-test or Welch t-test
  against the rest of the base, Benjamini–Hochberg q-values, personas under ``MIN_GROUP_SIZE`` suppressed;
- :func:`persona_cards` — one card per persona: a zh / en name drawn from its most distinctive traits
  (:data:`TRAITS`), size and share, value, top categories and channels, and a recommended action.

Examples
--------
>>> import numpy as np, polars as pl
>>> rng = np.random.default_rng(0)
>>> f = pl.DataFrame({"person_id": [f"p{i}" for i in range(60)],
...                   "spend": np.r_[rng.gamma(2, 50, 30), rng.gamma(2, 900, 30)], "orders": [1] * 30 + [6] * 30})
>>> labels = fit_personas(f, ["spend", "orders"], k=2)
>>> labels.group_by("persona_id").len().sort("persona_id")["len"].to_list()
[30, 30]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import polars as pl
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from persona_kit.errors import InputError, check_choice, check_columns
from persona_kit.frames import as_polars
from persona_kit.privacy import MIN_GROUP_SIZE, suppress_small_groups

__all__ = ["METHODS", "TRAITS", "DEFAULT_FEATURES", "persona_features", "SkewLog", "persona_pipeline", "cluster_matrix", "usable_columns", "choose_k",
           "bootstrap_stability", "fit_personas", "tgi_profile", "persona_cards"]

METHODS = ("kmeans", "minibatch", "gmm")
DEFAULT_FEATURES = ("orders_730d", "aov_730d", "discount_share_730d", "sessions_365d", "age",
                    "days_since_last_purchase", "interest_*")
"""Default clustering features of :func:`persona_features` output (``interest_*``: every category share)."""
TRAITS: dict[str, tuple[str, str]] = {
    "frequent": ("orders_", "high"), "big_ticket": ("aov_", "high"), "deal_seeking": ("discount_share_", "high"),
    "full_price": ("discount_share_", "low"), "lapsing": ("days_since_last_purchase", "high"),
    "browsing": ("views_", "high"), "young": ("age", "low"), "mature": ("age", "high"),
    "high_spending": ("spend_", "high"), "occasional": ("orders_", "low"),
}
"""Nameable traits: code → (feature name prefix, direction of its TGI). Labels ``ps.trait.<code>`` give the
zh / en words, ``ps.action.<code>`` the recommended action."""
_MIN_EFFECT = 0.2  # a trait needs a standardized difference from the base of at least this (a "small" effect)
_THREADS = 1  # BLAS / OpenMP threads while fitting: on small data more threads only contend (measured 25x slower)


class SkewLog(TransformerMixin, BaseEstimator):
    """``log1p`` of the columns that are non-negative with a sample skewness above ``threshold``.

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [100.0, 4.0]])
    >>> SkewLog().fit(X).columns_.tolist()
    [0]
    """

    def __init__(self, threshold: float = 1.0) -> None:
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> SkewLog:
        X = validate_data(self, X, dtype=float)
        with np.errstate(all="ignore"):
            skew = np.nan_to_num(stats.skew(X, axis=0), nan=0.0)
        self.columns_ = np.flatnonzero((X.min(axis=0) >= 0) & (skew > self.threshold))
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "columns_")
        X = validate_data(self, X, dtype=float, reset=False, copy=True)
        X[:, self.columns_] = np.log1p(np.clip(X[:, self.columns_], 0, None))
        return X


def persona_features(events: Any = None, orders: Any = None, customers: Any = None, *, as_of: Any,
                     windows: Sequence[int] = (90, 365, 730), half_life_days: float = 365.0,
                     person_col: str = "person_id") -> pl.DataFrame:
    """The features personas are built on: :func:`persona_kit.features.build_features` over ``windows``
    plus each person's category interest shares ``interest_<category>``
    (:func:`persona_kit.models.interests.interest_scores`, a slow ``half_life_days`` decay: long-run taste).

    Returns an eager polars frame, one row per person (the inputs are the step 03 tables).
    """
    from persona_kit import features
    from persona_kit.models import interest_scores, interest_wide

    out, _ = as_polars(features.build_features(events, orders, None, customers, as_of=as_of, windows=windows,
                                               person_col=person_col), where="features")
    kept = as_polars(features.purchases(orders), where="orders")[0] if orders is not None else None
    with_category = [f if f is not None and "category" in nw.from_native(f).columns else None for f in (events, kept)]
    if any(f is not None for f in with_category):  # no category anywhere (e.g. Online Retail): no interests
        scores = interest_scores(*with_category, as_of=as_of, half_life_days=half_life_days, person_col=person_col)
        wide, _ = as_polars(interest_wide(scores, person_col=person_col), where="interests")
        out = out.join(wide, on=person_col, how="left")
    return out


def persona_pipeline(k: int = 6, *, method: str = "kmeans", scaling: str = "robust",
                     random_state: int = 0) -> Pipeline:
    """The clustering pipeline: impute → :class:`SkewLog` → scale → cluster.

    Examples
    --------
    >>> [name for name, _ in persona_pipeline(4).steps]
    ['impute', 'log', 'scale', 'cluster']
    """
    check_choice("method", method, METHODS)
    check_choice("scaling", scaling, ["robust", "standard"])
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise InputError(f"k must be a whole number >= 2, got {k!r}")
    model: Any
    if method == "kmeans":
        model = KMeans(k, n_init=10, random_state=random_state)
    elif method == "minibatch":
        model = MiniBatchKMeans(k, n_init=10, random_state=random_state, batch_size=2048)
    else:
        model = GaussianMixture(k, n_init=2, random_state=random_state)
    scaler = RobustScaler(quantile_range=(5.0, 95.0)) if scaling == "robust" else StandardScaler()
    return Pipeline([("impute", SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True)),
                     ("log", SkewLog()), ("scale", scaler), ("cluster", model)])


def usable_columns(features: Any, columns: Sequence[str]) -> list[str]:
    """The ``columns`` present in ``features`` that are numeric or boolean and not constant or all null;
    a name ending in ``*`` stands for every column starting with what precedes it.

    Examples
    --------
    >>> usable_columns(pl.DataFrame({"a": [1, 2], "b": [None, None], "c": ["x", "y"], "d": [3, 3], "i_x": [0, 1]}),
    ...                ["a", "b", "c", "d", "e", "i_*"])
    ['a', 'i_x']
    """
    frame, _ = as_polars(features, where="features")
    names = [n for c in columns for n in ([x for x in frame.columns if x.startswith(c[:-1])] if c.endswith("*")
                                          else [c])]
    out = []
    for c in dict.fromkeys(names):
        if c in frame.columns and (frame.schema[c].is_numeric() or frame.schema[c] == pl.Boolean):
            values = frame[c].drop_nulls()
            if values.n_unique() > 1:
                out.append(c)
    return out


def cluster_matrix(features: Any, columns: Sequence[str], *, horizon_days: int = 730) -> np.ndarray:
    """The feature matrix to cluster: booleans as 0 / 1; a missing ``days_since_*`` (never happened) is
    ``horizon_days``; other missing values stay NaN (the pipeline fills 0: no orders → no AOV).

    Examples
    --------
    >>> cluster_matrix(pl.DataFrame({"days_since_last_purchase": [3, None], "vip": [True, False]}),
    ...                ["days_since_last_purchase", "vip"]).tolist()
    [[3.0, 1.0], [730.0, 0.0]]
    """
    frame, _ = as_polars(features, where="features")
    if isinstance(columns, str) or not columns:
        raise InputError(f"columns must be a non-empty list of feature names, got {columns!r}")
    check_columns(frame.columns, list(columns), where="features")
    bad = [c for c in columns if not (frame.schema[c].is_numeric() or frame.schema[c] == pl.Boolean)]
    if bad:
        raise InputError(f"clustering needs numeric or boolean features; not numeric: {bad}")
    exprs = [pl.col(c).cast(pl.Float64).fill_null(float(horizon_days)) if c.startswith("days_since_")
             else pl.col(c).cast(pl.Float64) for c in columns]
    return frame.select(exprs).to_numpy().astype(float)


def choose_k(features: Any, columns: Sequence[str], *, k_values: Sequence[int] = range(2, 11),
             scaling: str = "robust", tolerance: float = 0.01, sample_size: int = 2000, random_state: int = 0) -> Any:
    """Inertia (for the elbow chart) and silhouette (on a sample of ``sample_size`` rows) of KMeans per k.

    Returns a frame (kind of ``features``) ``k``, ``inertia``, ``silhouette``, ``best``: the smallest k whose
    silhouette is within ``tolerance`` of the highest (silhouettes that close are a tie; fewer personas are
    easier to act on).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> f = pl.DataFrame({"x": np.r_[rng.normal(0, 1, 50), rng.normal(10, 1, 50), rng.normal(20, 1, 50)]})
    >>> choose_k(f, ["x"], k_values=[2, 3, 4], scaling="standard").filter(pl.col("best"))["k"].to_list()
    [3]
    """
    frame, back = as_polars(features, where="features")
    X = cluster_matrix(frame, columns)
    rows = []
    for k in k_values:
        pipe = persona_pipeline(k, scaling=scaling, random_state=random_state)
        with threadpool_limits(_THREADS):
            labels = pipe.fit_predict(X)
        Z = pipe[:-1].transform(X)
        size = min(sample_size, len(Z))
        sil = silhouette_score(Z, labels, sample_size=size, random_state=random_state) if len(set(labels)) > 1 else None
        rows.append({"k": int(k), "inertia": float(pipe[-1].inertia_), "silhouette": sil})
    out = pl.DataFrame(rows, schema={"k": pl.Int64, "inertia": pl.Float64, "silhouette": pl.Float64})
    top = out["silhouette"].max()
    best = out.filter(pl.col("silhouette") >= top - tolerance)["k"].min() if top is not None else None
    return back(out.with_columns(best=pl.col("k") == best))


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Cluster numbers 1..k by size (1 = the largest; ties by the first row of the cluster)."""
    values, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(values)), key=lambda i: (-counts[i], first[i]))
    mapping = {values[i]: rank + 1 for rank, i in enumerate(order)}
    return np.array([mapping[v] for v in labels], dtype=np.int64)


def fit_personas(features: Any, columns: Sequence[str], *, k: int = 6, method: str = "kmeans",
                 scaling: str = "robust", random_state: int = 0, person_col: str = "person_id") -> Any:
    """Cluster persons on ``columns``: ``person_col`` and ``persona_id`` (1 = the largest persona).

    Examples
    --------
    >>> f = pl.DataFrame({"person_id": list("abcdef"), "spend": [1.0, 2.0, 1.5, 900.0, 950.0, 990.0]})
    >>> fit_personas(f, ["spend"], k=2)["persona_id"].to_list()
    [1, 1, 1, 2, 2, 2]
    """
    frame, back = as_polars(features, where="features")
    check_columns(frame.columns, [person_col], where="features")
    X = cluster_matrix(frame, columns)
    with threadpool_limits(_THREADS):
        labels = persona_pipeline(k, method=method, scaling=scaling, random_state=random_state).fit_predict(X)
    return back(frame.select(person_col).with_columns(persona_id=pl.Series(_relabel(labels))))


def bootstrap_stability(features: Any, columns: Sequence[str], *, k: int = 6, n_boot: int = 10,
                        method: str = "kmeans", scaling: str = "robust", random_state: int = 0) -> Any:
    """ARI between the clustering of all persons and ``n_boot`` clusterings fitted on bootstrap resamples
    (each model predicts every person). Above ~0.8 the personas are stable.

    Returns a frame ``boot``, ``ari`` (kind of ``features``).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> f = pl.DataFrame({"x": np.r_[rng.normal(0, 1, 40), rng.normal(9, 1, 40)]})
    >>> bootstrap_stability(f, ["x"], k=2, n_boot=3, scaling="standard")["ari"].min() > 0.9
    True
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise InputError(f"n_boot must be a positive whole number, got {n_boot!r}")
    frame, back = as_polars(features, where="features")
    X = cluster_matrix(frame, columns)
    rng = np.random.default_rng(random_state)
    rows = []
    with threadpool_limits(_THREADS):
        reference = persona_pipeline(k, method=method, scaling=scaling, random_state=random_state).fit_predict(X)
        for b in range(n_boot):
            sample = rng.integers(0, len(X), len(X))
            pipe = persona_pipeline(k, method=method, scaling=scaling, random_state=random_state + b + 1)
            pipe.fit(X[sample])
            rows.append({"boot": b + 1, "ari": float(adjusted_rand_score(reference, pipe.predict(X)))})
    return back(pl.DataFrame(rows))


# --- profiles -----------------------------------------------------------------------------------------------

def tgi_profile(features: Any, personas: Any, *, columns: Sequence[str], person_col: str = "person_id",
                max_values: int = 12, alpha: float = 0.05, min_group_size: int = MIN_GROUP_SIZE) -> Any:
    """Each persona against the whole base, feature by feature, with TGI and a significance test.

    Numeric columns: ``persona_value`` / ``base_value`` are means (nulls left out), TGI = 100 × their
    ratio, and Welch's t-test compares the persona with the rest. Text and boolean columns: one row per
    value (the ``max_values`` most common), shares of the persons with a value, TGI = 100 × the ratio,
    and a two-proportion z-test against the rest. ``persons`` counts the persona's persons with a value
    (e.g. only buyers have an AOV). ``q_value`` is the Benjamini–Hochberg adjusted p-value over
    all rows, ``significant`` is ``q_value < alpha``. Rows resting on fewer than ``min_group_size``
    persons are suppressed (their figures null, ``suppressed`` true).

    Returns
    -------
    Kind of ``features``: ``persona_id``, ``feature``, ``value`` (null for numeric), ``kind`` (mean / share),
    ``persons``, ``persona_value``, ``base_value``, ``tgi``, ``effect`` (the standardized difference: (persona −
    base) / the base's standard deviation, or / √(p₀(1 − p₀)) for shares), ``p_value``, ``q_value``,
    ``significant``, ``suppressed``.

    Examples
    --------
    >>> f = pl.DataFrame({"person_id": list("abcdefghij"), "spend": [1.0] * 5 + [3.0] * 5,
    ...                   "channel": ["app"] * 5 + ["tmall"] * 5})
    >>> p = pl.DataFrame({"person_id": list("abcdefghij"), "persona_id": [1] * 5 + [2] * 5})
    >>> out = tgi_profile(f, p, columns=["spend", "channel"], min_group_size=5)
    >>> out.filter(pl.col("persona_id") == 2).select("feature", "value", "tgi").rows()
    [('spend', None, 150.0), ('channel', 'app', 0.0), ('channel', 'tmall', 200.0)]
    """
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    frame, back = as_polars(features, where="features")
    people, _ = as_polars(personas, where="personas")
    check_columns(people.columns, [person_col, "persona_id"], where="personas")
    check_columns(frame.columns, [person_col, *columns], where="features")
    data = frame.select(person_col, *columns).join(people.select(person_col, "persona_id"), on=person_col)
    ids = sorted(data["persona_id"].unique().to_list())
    rows: list[dict[str, Any]] = []
    for column in columns:
        series = data[column]
        if series.dtype.is_numeric():
            base = series.drop_nulls().cast(pl.Float64).to_numpy()
            for pid in ids:
                inside = data["persona_id"] == pid
                mine = series.filter(inside).drop_nulls().cast(pl.Float64).to_numpy()
                rest = series.filter(~inside).drop_nulls().cast(pl.Float64).to_numpy()
                p = (stats.ttest_ind(mine, rest, equal_var=False).pvalue
                     if len(mine) > 1 and len(rest) > 1 and (mine.std() > 0 or rest.std() > 0) else None)
                spread = base.std() if len(base) > 1 else 0.0
                rows.append(_row(pid, column, None, "mean", len(mine), mine.mean() if len(mine) else None,
                                 base.mean() if len(base) else None, p, spread))
            continue
        text = series.cast(pl.String)
        known = data.with_columns(_v=text).filter(pl.col("_v").is_not_null())
        top = known["_v"].value_counts(sort=True).head(max_values)["_v"].to_list()
        total = known.height
        for pid in ids:
            mine = known.filter(pl.col("persona_id") == pid)
            for value in top:
                hits, n = int((mine["_v"] == value).sum()), mine.height
                base_hits = int((known["_v"] == value).sum())
                rest_hits, rest_n = base_hits - hits, total - n
                p = None
                if n and rest_n and 0 < hits + rest_hits < n + rest_n:
                    p = float(proportions_ztest([hits, rest_hits], [n, rest_n])[1])
                p0 = base_hits / total if total else None
                rows.append(_row(pid, column, value, "share", n, hits / n if n else None, p0, p,
                                 math.sqrt(p0 * (1 - p0)) if p0 is not None else 0.0))
    out = pl.DataFrame(rows, schema={"persona_id": pl.Int64, "feature": pl.String, "value": pl.String,
                                     "kind": pl.String, "persons": pl.Int64, "persona_value": pl.Float64,
                                     "base_value": pl.Float64, "tgi": pl.Float64, "effect": pl.Float64,
                                     "p_value": pl.Float64})
    tested = out["p_value"].drop_nulls().to_numpy()
    q = multipletests(tested, method="fdr_bh")[1] if len(tested) else np.array([])
    q_col = np.full(out.height, np.nan)
    q_col[out["p_value"].is_not_null().to_numpy()] = q
    out = out.with_columns(q_value=pl.Series(q_col).fill_nan(None)).with_columns(
        significant=(pl.col("q_value") < alpha).fill_null(False))
    out = suppress_small_groups(out, count_col="persons", min_group_size=min_group_size,
                                columns=["persona_value", "base_value", "tgi", "effect", "p_value", "q_value"])
    out = out.with_columns(significant=pl.col("significant") & ~pl.col("suppressed"))
    return back(out)


def _row(pid: int, feature: str, value: str | None, kind: str, persons: int, mine: float | None,
         base: float | None, p: float | None, spread: float) -> dict[str, Any]:
    known = mine is not None and base is not None
    tgi = 100.0 * mine / base if known and base != 0 else None
    effect = (mine - base) / spread if known and spread > 0 else None
    p = None if p is None or not math.isfinite(p) else float(p)
    return {"persona_id": pid, "feature": feature, "value": value, "kind": kind, "persons": persons,
            "persona_value": None if mine is None else float(mine),
            "base_value": None if base is None else float(base), "tgi": tgi,
            "effect": None if effect is None else float(effect), "p_value": p}


# --- cards --------------------------------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


def _traits(profile: pl.DataFrame, pid: int) -> list[tuple[float, str]]:
    """(strength, trait) pairs of a persona, strongest first: significant numeric rows matching :data:`TRAITS`,
    the strength being the standardized difference from the base."""
    mine = profile.filter((pl.col("persona_id") == pid) & (pl.col("kind") == "mean") & pl.col("significant")
                          & (pl.col("effect").abs() >= _MIN_EFFECT))
    found = []
    for feature, effect in mine.select("feature", "effect").iter_rows():
        for trait, (prefix, direction) in TRAITS.items():
            if feature.startswith(prefix) and (effect > 0) == (direction == "high"):
                found.append((abs(effect), trait))
    best: dict[str, float] = {}
    for strength, trait in found:
        best[trait] = max(strength, best.get(trait, 0.0))
    return sorted(((s, t) for t, s in best.items()), key=lambda x: (-x[0], x[1]))


def _code(trait: str, category: str) -> str:
    return f"{trait}_{category}" if category else trait


def _top_values(frame: pl.DataFrame, column: str | None, n: int = 2) -> str | None:
    if column is None or column not in frame.columns:
        return None
    counts = frame[column].drop_nulls().cast(pl.String).value_counts(sort=True).head(n)
    return " / ".join(counts[column].to_list()) or None


def persona_cards(features: Any, personas: Any, profile: Any, *, lang_names: Mapping[str, Mapping[str, str]],
                  category_prefix: str = "interest_", category_names: Mapping[str, str] | None = None,
                  value_col: str = "spend_365d", category_col: str = "top_category",
                  channel_col: str = "preferred_channel", tier_cols: Sequence[str] = ("churn_risk", "clv_tier"),
                  person_col: str = "person_id", min_group_size: int = MIN_GROUP_SIZE) -> Any:
    """One card per persona: name (zh / en) from its most distinctive traits, size, value, top categories
    and channels, tiers when those columns exist, and the recommended action of its leading trait.

    The name joins the persona's strongest trait (:data:`TRAITS`: the matching feature with the largest
    significant standardized difference from the base) with its most over-represented category (the
    ``category_prefix`` column with the largest significant positive difference); a name already taken by a
    larger persona moves on to the next trait (and, with every trait taken, the persona's number is added).
    A persona under ``min_group_size`` persons keeps only its name and size.

    Parameters
    ----------
    lang_names : mapping
        ``{"zh": {trait: word}, "en": {trait: word}}`` — the trait words (the notebook passes the labels
        ``ps.trait.*``), so the library stays independent of the report language.
    category_names : mapping, optional
        Category value → English name, for the persona code (e.g. 护肤 → Skincare).

    Returns
    -------
    Kind of ``features``: ``persona_id``, ``persona`` (snake_case code), ``name_zh``, ``name_en``, ``persons``,
    ``share``, ``value_mean``, ``top_categories``, ``top_channels``, ``traits``, ``action``, tier columns.

    Examples
    --------
    >>> f = pl.DataFrame({"person_id": list("abcdefghijklmnopqrst"), "orders_365d": [1] * 10 + [9] * 10,
    ...                   "spend_365d": [10.0] * 10 + [500.0] * 10})
    >>> p = pl.DataFrame({"person_id": f["person_id"], "persona_id": [1] * 10 + [2] * 10})
    >>> words = {"zh": {"frequent": "高频", "occasional": "偶购"}, "en": {"frequent": "Frequent", "occasional": "Occasional"}}
    >>> prof = tgi_profile(f.with_columns(pl.col("orders_365d") + pl.Series([0, 1] * 10)), p,
    ...                    columns=["orders_365d"])
    >>> persona_cards(f, p, prof, lang_names=words).select("persona", "name_en", "persons", "action").rows()
    [('occasional', 'Occasional', 10, 'occasional'), ('frequent', 'Frequent', 10, 'frequent')]
    """
    frame, back = as_polars(features, where="features")
    people, _ = as_polars(personas, where="personas")
    prof, _ = as_polars(profile, where="profile")
    data = frame.join(people.select(person_col, "persona_id"), on=person_col)
    sizes = data.group_by("persona_id").len().sort(["len", "persona_id"], descending=[True, False])
    total, names = data.height, dict(category_names or {})
    taken: set[str] = set()
    cards = []
    for pid, n in sizes.iter_rows():
        traits = _traits(prof, pid)
        cats = (prof.filter((pl.col("persona_id") == pid) & pl.col("feature").str.starts_with(category_prefix)
                            & pl.col("significant") & (pl.col("effect") >= _MIN_EFFECT))
                .sort("effect", descending=True)["feature"].to_list())
        category = cats[0].removeprefix(category_prefix) if cats else None
        options = [t for _, t in traits] or ["general"]
        cat_code = _slug(names.get(category, category)) if category else ""
        chosen = next((t for t in options if _code(t, cat_code) not in taken), None)
        number = "" if chosen else f" {pid}"  # every name taken: tell the personas apart by number
        code = _code(chosen, cat_code) if chosen else f"{_code(options[0], cat_code)}_{pid}"
        chosen = chosen or options[0]
        taken.add(code)
        words_zh, words_en = lang_names["zh"].get(chosen, chosen), lang_names["en"].get(chosen, chosen)
        mine = data.filter(pl.col("persona_id") == pid)
        small = n < min_group_size  # a persona too small to describe: name and size only
        cat_en = names.get(category, category) if category else None
        card = {"persona_id": pid, "persona": code,
                "name_zh": (f"{words_zh}·{category}" if category else words_zh) + number,
                "name_en": (f"{words_en} · {cat_en}" if category else words_en) + number,
                "persons": n, "share": n / total if total else None,
                "value_mean": float(mine[value_col].mean()) if value_col in mine.columns and not small else None,
                "top_categories": None if small else _top_values(mine, category_col),
                "top_channels": None if small else _top_values(mine, channel_col),
                "traits": ", ".join(t for _, t in traits[:3]) or None, "action": chosen}
        for tier in tier_cols:
            if tier in mine.columns:
                card[tier] = None if small else _top_values(mine, tier, 1)
        cards.append(card)
    return back(pl.DataFrame(cards))
