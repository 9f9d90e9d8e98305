"""Lookalike audiences (相似人群扩展): score everyone by similarity to a seed, expand, and check it honestly.

Two scorers over the same design matrix (numeric and yes/no features imputed with the median and
standardized, low-cardinality text features one-hot encoded — a scikit-learn ``ColumnTransformer``):

``pu`` — positive-unlabelled bagging (Mordelet & Vert 2014)
    The seed is positive, everyone else is *unlabelled* (a mix of lookalikes and others). Each of
    ``n_bags`` rounds draws as many unlabelled persons as there are seeds, fits a logistic regression of
    seed vs that draw, and scores the unlabelled persons left out of the draw; a person's score is the
    mean of her out-of-bag scores (seeds get the mean over all rounds). Learns *which* features set the
    seed apart, so irrelevant features are down-weighted.
``knn`` — nearest neighbours
    A person's score is the mean cosine similarity to her ``k`` nearest seed members. No training; treats
    every feature as equally important, so it is best when the features were chosen for the purpose.

:func:`evaluate_expansion` hides part of the seed, scores with the rest, and measures how many hidden
members the top of the ranking finds: the reach-vs-precision curve against the base rate (precision of a
random pick). Hidden members are the only known positives, so the precision is a lower bound. What
makes a seed distinctive is :func:`persona_kit.personas.tgi_profile` with the seed as one group.

Examples
--------
>>> import polars as pl, numpy as np
>>> rng = np.random.default_rng(0)
>>> f = pl.DataFrame({"person_id": [f"p{i}" for i in range(60)], "spend": np.r_[rng.normal(9, 1, 20),
...                   rng.normal(0, 1, 40)], "noise": rng.normal(0, 1, 60)})
>>> s = lookalike_scores(f, [f"p{i}" for i in range(10)], method="knn", k=3)
>>> top = expand(s, size=5)["person_id"].to_list()  # the other ten persons like the seed are p10 … p19
>>> set(top) <= {f"p{i}" for i in range(10, 20)}
True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from persona_kit.errors import InputError, check_choice, check_columns
from persona_kit.frames import as_polars

__all__ = ["METHODS", "design_columns", "lookalike_scores", "expand", "evaluate_expansion"]

METHODS = ("pu", "knn")
_SKIP = ("person_id", "as_of")


def design_columns(features: Any, *, person_col: str = "person_id", max_categories: int = 20) -> list[str]:
    """The columns lookalike scoring compares persons by: numeric and yes/no columns with a value, and text
    columns with 2 to ``max_categories`` distinct values (ids, cities and the like are left out).

    >>> import polars as pl
    >>> design_columns(pl.DataFrame({"person_id": ["a", "b"], "spend": [1.0, None], "band": ["x", "y"],
    ...                              "empty": [None, None], "one": ["z", "z"]}))
    ['spend', 'band']
    """
    frame, _ = as_polars(features, where="features")
    skip = (person_col, *_SKIP)
    numeric = [c for c, t in frame.schema.items() if c not in skip
               and (t.is_numeric() or t == pl.Boolean) and frame[c].null_count() < frame.height]
    text = [c for c, t in frame.schema.items() if c not in skip and t in (pl.String, pl.Categorical)
            and 1 < frame[c].n_unique() <= max_categories]
    return numeric + text


def _design(frame: pl.DataFrame, person_col: str, max_categories: int) -> np.ndarray:
    """Numeric / yes-no columns imputed and standardized; text columns with few values one-hot encoded."""
    columns = design_columns(frame, person_col=person_col, max_categories=max_categories)
    numeric = [c for c in columns if frame.schema[c].is_numeric() or frame.schema[c] == pl.Boolean]
    text = [c for c in columns if c not in numeric]
    if not columns:
        raise InputError("features: no numeric, yes/no or low-cardinality text column to compare persons by")
    data = frame.select(*[pl.col(c).cast(pl.Float64) for c in numeric],
                        *[pl.col(c).cast(pl.String).fill_null("∅") for c in text]).to_pandas()
    parts = [("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)] if numeric else []
    if text:
        parts.append(("txt", OneHotEncoder(handle_unknown="ignore", sparse_output=False), text))
    return ColumnTransformer(parts).fit_transform(data)


def lookalike_scores(features: Any, seed: Iterable[Any], *, method: str = "pu", person_col: str = "person_id",
                     n_bags: int = 10, k: int = 10, max_categories: int = 20, random_state: int = 0) -> Any:
    """Score every person in ``features`` by similarity to the ``seed`` persons (higher = more alike).

    Parameters
    ----------
    features : pandas or polars DataFrame
        One row per person (e.g. step 04's ``features``).
    seed : iterable of person ids
        The seed audience; ids not in ``features`` are ignored (at least 5 must be found).
    method : {'pu', 'knn'}
        Positive-unlabelled bagging or nearest neighbours (see the module docstring).
    n_bags : int
        Bagging rounds of ``pu``.
    k : int
        Seed neighbours averaged by ``knn``.
    max_categories : int
        Text columns with more distinct values are left out (ids, cities, ...).
    random_state : int
        Seed of the ``pu`` draws.

    Returns
    -------
    Same kind of frame: ``person_col``, ``lookalike_score`` (in [0, 1]), ``in_seed`` (bool), in input order.

    Raises
    ------
    InputError
        Missing columns, an unknown method, fewer than 5 seed persons found, or a seed that is everyone.
    """
    frame, back = as_polars(features, where="features")
    check_columns(frame.columns, [person_col], where="features")
    check_choice("method", method, list(METHODS))
    wanted = pl.Series([str(s) for s in seed], dtype=pl.String)
    in_seed = frame[person_col].cast(pl.String).is_in(wanted.implode()).to_numpy()
    if in_seed.sum() < 5:
        raise InputError(f"seed: only {int(in_seed.sum())} of its persons are in the features; give at least 5")
    if in_seed.all():
        raise InputError("seed: every person is in the seed; there is no one left to find")
    X = _design(frame, person_col, max_categories)
    if method == "knn":
        neighbours = NearestNeighbors(n_neighbors=min(k, int(in_seed.sum())), metric="cosine").fit(X[in_seed])
        distance, _ = neighbours.kneighbors(X)
        # a seed member is her own nearest neighbour: score her by the others
        own = NearestNeighbors(n_neighbors=min(k + 1, int(in_seed.sum())), metric="cosine").fit(X[in_seed])
        distance[in_seed] = own.kneighbors(X[in_seed])[0][:, 1:].mean(axis=1, keepdims=True)
        score = np.clip(1 - distance.mean(axis=1) / 2, 0, 1)  # cosine distance in [0, 2] → similarity in [0, 1]
    else:
        score = _pu_bagging(X, in_seed, n_bags=n_bags, random_state=random_state)
    out = pl.DataFrame({person_col: frame[person_col], "lookalike_score": score, "in_seed": in_seed})
    return back(out)


def _pu_bagging(X: np.ndarray, positive: np.ndarray, *, n_bags: int, random_state: int) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    unlabelled = np.flatnonzero(~positive)
    seeds = np.flatnonzero(positive)
    total, times = np.zeros(len(X)), np.zeros(len(X))
    for _ in range(n_bags):
        drawn = rng.choice(unlabelled, size=min(len(seeds), len(unlabelled)), replace=False)
        rows = np.r_[seeds, drawn]
        model = LogisticRegression(C=0.1, max_iter=500).fit(X[rows], np.r_[np.ones(len(seeds)), np.zeros(len(drawn))])
        left_out = np.ones(len(X), dtype=bool)
        left_out[drawn] = False
        total[left_out] += model.predict_proba(X[left_out])[:, 1]
        times[left_out] += 1
    return total / np.maximum(times, 1)


def expand(scores: Any, *, size: int, person_col: str = "person_id") -> Any:
    """The ``size`` best-scored persons outside the seed (the lookalike audience), best first.

    >>> import polars as pl
    >>> s = pl.DataFrame({"person_id": ["a", "b", "c"], "lookalike_score": [0.9, 0.8, 0.1],
    ...                   "in_seed": [True, False, False]})
    >>> expand(s, size=1)["person_id"].to_list()
    ['b']
    """
    frame, back = as_polars(scores, where="scores")
    check_columns(frame.columns, [person_col, "lookalike_score", "in_seed"], where="scores")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"size must be a whole number >= 1, got {size!r}")
    out = (frame.filter(~pl.col("in_seed")).sort(["lookalike_score", person_col], descending=[True, False])
           .head(size))
    return back(out)


def evaluate_expansion(features: Any, seed: Iterable[Any], *, method: str = "pu", hidden_share: float = 0.3,
                       points: int = 20, person_col: str = "person_id", random_state: int = 0,
                       **options: Any) -> Any:
    """Hide ``hidden_share`` of the seed, score with the rest, and trace precision against reach.

    Returns
    -------
    Same kind of frame as ``features``, one row per reach point: ``reach`` (persons selected outside the kept seed), ``reach_share`` (of
        those persons), ``precision`` (share of hidden seed members among them), ``recall`` (share of hidden
        members found), ``base_rate`` (precision of a random pick), ``lift`` = precision / base rate.
    """
    frame, back = as_polars(features, where="features")
    check_columns(frame.columns, [person_col], where="features")
    if isinstance(hidden_share, bool) or not isinstance(hidden_share, int | float) or not 0 < hidden_share < 1:
        raise InputError(f"hidden_share must be in (0, 1), got {hidden_share!r}")
    present = frame[person_col].cast(pl.String)
    members = np.sort(present.filter(present.is_in(pl.Series([str(s) for s in seed]).implode())).to_numpy())
    rng = np.random.default_rng(random_state)
    hidden = set(rng.choice(members, size=max(1, int(round(hidden_share * len(members)))), replace=False))
    kept = [m for m in members if m not in hidden]
    scores = lookalike_scores(frame, kept, method=method, person_col=person_col, random_state=random_state,
                              **options)
    ranked = scores.filter(~pl.col("in_seed")).sort(["lookalike_score", person_col], descending=[True, False])
    found = ranked[person_col].cast(pl.String).is_in(pl.Series(list(hidden), dtype=pl.String).implode()).to_numpy()
    cum = np.cumsum(found)
    # geometric spacing: fine steps where the audience is small (where lookalikes are used), coarse after
    reach = np.unique(np.geomspace(max(1, len(hidden) // 10), len(found), points).round().astype(int))
    base = len(hidden) / len(found)
    precision = cum[reach - 1] / reach
    out = pl.DataFrame({"reach": reach, "reach_share": reach / len(found), "precision": precision,
                        "recall": cum[reach - 1] / len(hidden), "base_rate": base, "lift": precision / base})
    return back(out)
