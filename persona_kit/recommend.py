"""Recommendations: association rules over baskets, item-based collaborative filtering ("猜你喜欢").

**Association rules** (:func:`association_rules`): one-item → one-item rules over baskets (an order is a
basket), counted with polars: items below ``min_support`` are dropped first (a pair is never more frequent
than its rarer item, the Apriori property), then the pairs of the remaining items are counted per basket.
For a rule A → B over N baskets: ``support`` = P(A and B), ``confidence`` = P(B | A), ``lift`` =
confidence / P(B), ``leverage`` = P(A and B) − P(A) P(B), ``conviction`` = (1 − P(B)) / (1 − confidence)
(infinite when confidence is 1) — the same definitions and numbers as ``mlxtend.frequent_patterns``.

**Item-based CF** (:class:`ItemCF`): the person × item matrix of purchases (1 if bought), item-item cosine
similarity, and each person's score of an item = the sum of its similarities to the items she bought; the
top-N items she has not bought yet are her recommendations. :func:`popularity` is the baseline every
personal recommender must beat: the most bought items, the same for everyone. :func:`evaluate_top_n` scores
either on a time-based holdout: hit-rate@K (share of persons with at least one held-out item in their top K)
and recall@K (mean share of each person's held-out items found in her top K).

Examples
--------
>>> import polars as pl
>>> lines = pl.DataFrame({"order_id": [1, 1, 2, 2, 3, 3, 4], "product_id": ["a", "b", "a", "b", "a", "c", "c"]})
>>> association_rules(lines, min_support=0.4).select("antecedent", "consequent", "support", "confidence").rows()
[('a', 'b', 0.5, 0.6666666666666666), ('b', 'a', 0.5, 1.0)]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from persona_kit.errors import InputError, check_columns
from persona_kit.frames import as_polars
from persona_kit.privacy import MIN_GROUP_SIZE

__all__ = ["association_rules", "ItemCF", "popularity", "holdout_items", "evaluate_top_n", "top_by_group"]

RULE_COLUMNS = ("antecedent", "consequent", "antecedent_support", "consequent_support", "support", "confidence",
                "lift", "leverage", "conviction")


def _share(name: str, value: Any, *, low_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value <= 1 if low_open
                                                                             else 0 <= value <= 1):
        raise InputError(f"{name} must be in {'(0, 1]' if low_open else '[0, 1]'}, got {value!r}")
    return float(value)


def _whole(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def association_rules(lines: Any, *, basket_col: str = "order_id", item_col: str = "product_id",
                      min_support: float = 0.01, min_confidence: float = 0.0, min_lift: float = 0.0) -> Any:
    """One-item → one-item association rules with support, confidence, lift, leverage and conviction.

    Parameters
    ----------
    lines : pandas or polars DataFrame
        One row per basket line (an item bought twice in a basket counts once); null items are skipped.
    basket_col, item_col : str
        The basket (order / invoice) and item (product, category) columns.
    min_support : float in (0, 1]
        Keep rules whose pair is in at least this share of baskets.
    min_confidence, min_lift : float
        Further filters on the rules.

    Returns
    -------
    Same kind of frame with :data:`RULE_COLUMNS`, sorted by lift (then support, antecedent, consequent).

    Raises
    ------
    InputError
        Missing columns or a threshold out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> lines = pd.DataFrame({"order_id": [1, 1, 2, 2, 3], "product_id": ["tea", "cup", "tea", "cup", "tea"]})
    >>> association_rules(lines, min_support=0.5)[["antecedent", "consequent", "lift"]].values.tolist()
    [['cup', 'tea', 1.0], ['tea', 'cup', 1.0]]
    """
    frame, back = as_polars(lines, where="lines")
    check_columns(frame.columns, [basket_col, item_col], where="lines")
    min_support = _share("min_support", min_support)
    for name, value in (("min_confidence", min_confidence), ("min_lift", min_lift)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InputError(f"{name} must be a number >= 0, got {value!r}")
    pairs_in = (frame.select(pl.col(basket_col).alias("basket"), pl.col(item_col).cast(pl.String).alias("item"))
                .drop_nulls().unique())
    n = pairs_in["basket"].n_unique()
    support = pairs_in.group_by("item").agg(item_support=pl.len() / n)
    frequent = pairs_in.join(support.filter(pl.col("item_support") >= min_support), on="item")
    pairs = (frequent.join(frequent, on="basket", suffix="_b").filter(pl.col("item") != pl.col("item_b"))
             .group_by("item", "item_b").agg(support=pl.len() / n)
             .filter(pl.col("support") >= min_support))
    a, b = pl.col("antecedent_support"), pl.col("consequent_support")
    confidence = pl.col("support") / a
    rules = (pairs.join(support.rename({"item_support": "antecedent_support"}), on="item")
             .join(support.rename({"item": "item_b", "item_support": "consequent_support"}), on="item_b")
             .rename({"item": "antecedent", "item_b": "consequent"})
             .with_columns(confidence=confidence, lift=confidence / b, leverage=pl.col("support") - a * b,
                           conviction=pl.when(confidence >= 1).then(float("inf")).otherwise((1 - b) / (1 - confidence)))
             .filter((pl.col("confidence") >= min_confidence) & (pl.col("lift") >= min_lift))
             .select(RULE_COLUMNS)
             .sort(["lift", "support", "antecedent", "consequent"], descending=[True, True, False, False]))
    return back(rules)


class ItemCF(BaseEstimator):
    """Item-based collaborative filtering on who bought what (cosine similarity between items).

    Parameters
    ----------
    min_buyers : int
        Items bought by fewer persons are neither recommended nor used as evidence (too noisy).

    Examples
    --------
    >>> import polars as pl
    >>> bought = pl.DataFrame({"person_id": ["u1", "u1", "u2", "u2", "u3"], "item": ["a", "b", "a", "b", "a"]})
    >>> ItemCF().fit(bought).recommend(n=1).select("person_id", "rank", "item").rows()
    [('u3', 1, 'b')]
    """

    def __init__(self, *, min_buyers: int = 1) -> None:
        self.min_buyers = min_buyers

    def fit(self, interactions: Any, *, person_col: str = "person_id", item_col: str = "item") -> ItemCF:
        """Learn item-item similarities from ``person_col`` × ``item_col`` rows (repeats count once)."""
        frame, self.back_ = as_polars(interactions, where="interactions")
        check_columns(frame.columns, [person_col, item_col], where="interactions")
        min_buyers = _whole("min_buyers", self.min_buyers)
        pairs = (frame.select(pl.col(person_col).cast(pl.String).alias("p"), pl.col(item_col).cast(pl.String).alias("i"))
                 .drop_nulls().unique())
        kept = pairs.group_by("i").len().filter(pl.col("len") >= min_buyers)["i"]
        pairs = pairs.filter(pl.col("i").is_in(kept.implode()))
        if pairs.height == 0:
            raise InputError(f"interactions: no item has {min_buyers}+ buyers; nothing to learn from")
        self.persons_ = np.sort(pairs["p"].unique().to_numpy())
        self.items_ = np.sort(pairs["i"].unique().to_numpy())
        rows = np.searchsorted(self.persons_, pairs["p"].to_numpy())
        cols = np.searchsorted(self.items_, pairs["i"].to_numpy())
        self.matrix_ = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                         shape=(len(self.persons_), len(self.items_)))
        unit = normalize(self.matrix_.T.tocsr(), axis=1)  # items as unit vectors over persons
        self.similarity_ = (unit @ unit.T).tocsr()
        self.similarity_.setdiag(0)
        self.similarity_.eliminate_zeros()
        self.person_col_ = person_col
        return self

    def recommend(self, persons: Any = None, *, n: int = 10, batch: int = 2000) -> Any:
        """Top-``n`` items each person has not bought, by summed similarity (equal scores in item order).

        Parameters
        ----------
        persons : sequence of ids, optional
            Whom to recommend for (default: every person seen in ``fit``); unknown persons get nothing.
        n : int
            Items per person.
        batch : int
            Persons scored at a time (bounds memory: ``batch × items`` floats).

        Returns
        -------
        The kind of frame ``fit`` was given: ``person_id`` (the fit's person column name), ``rank``
        (1 = best), ``item``, ``score`` (> 0 only).
        """
        check_is_fitted(self, "similarity_")
        n = _whole("n", n)
        wanted = self.persons_ if persons is None else np.asarray([str(p) for p in persons])
        rows = np.searchsorted(self.persons_, wanted)
        known = (rows < len(self.persons_)) & (self.persons_[np.minimum(rows, len(self.persons_) - 1)] == wanted)
        rows, wanted = rows[known], wanted[known]
        out = []
        k = min(n, len(self.items_))
        for start in range(0, len(rows), batch):
            part = self.matrix_[rows[start:start + batch]]
            scores = (part @ self.similarity_).toarray()
            scores[part.toarray() > 0] = -np.inf  # never recommend what she bought
            # the k best per row (argpartition), then ordered by score, ties by item order
            cand = np.sort(np.argpartition(-scores, k - 1, axis=1)[:, :k], axis=1) if k < scores.shape[1] \
                else np.tile(np.arange(scores.shape[1]), (len(scores), 1))
            order = np.argsort(-np.take_along_axis(scores, cand, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(cand, order, axis=1)
            best = np.take_along_axis(scores, top, axis=1)
            out.append(pl.DataFrame({self.person_col_: np.repeat(wanted[start:start + batch], k),
                                     "rank": np.tile(np.arange(1, k + 1), len(top)),
                                     "item": self.items_[top.ravel()], "score": best.ravel()}))
        schema = {self.person_col_: pl.String, "rank": pl.Int64, "item": pl.String, "score": pl.Float64}
        frame = (pl.concat(out) if out else pl.DataFrame(schema=schema)).filter(pl.col("score") > 0).cast(schema)
        return self.back_(frame)


def popularity(interactions: Any, persons: Any, *, n: int = 10, person_col: str = "person_id",
               item_col: str = "item") -> Any:
    """The baseline: the ``n`` items with the most buyers that each person has not bought yet.

    >>> import polars as pl
    >>> bought = pl.DataFrame({"person_id": ["u1", "u2", "u2", "u3"], "item": ["a", "a", "b", "c"]})
    >>> popularity(bought, ["u1"], n=2).rows()
    [('u1', 1, 'b', 1.0), ('u1', 2, 'c', 1.0)]
    """
    frame, back = as_polars(interactions, where="interactions")
    check_columns(frame.columns, [person_col, item_col], where="interactions")
    n = _whole("n", n)
    pairs = frame.select(pl.col(person_col).cast(pl.String), pl.col(item_col).cast(pl.String)).drop_nulls().unique()
    ranked = (pairs.group_by(item_col).agg(score=pl.len().cast(pl.Float64))
              .sort(["score", item_col], descending=[True, False]))
    who = pl.DataFrame({person_col: [str(p) for p in persons]}, schema={person_col: pl.String}).unique(maintain_order=True)
    candidates = ranked.head(n + pairs.group_by(person_col).len()["len"].max() if pairs.height else n)
    out = (who.join(candidates, how="cross").join(pairs, on=[person_col, item_col], how="anti")
           .with_columns(rank=pl.int_range(1, pl.len() + 1).over(person_col))
           .filter(pl.col("rank") <= n)
           .select(person_col, pl.col("rank").cast(pl.Int64), pl.col(item_col).alias("item"), "score"))
    return back(out)


def holdout_items(before: Any, after: Any, *, person_col: str = "person_id", item_col: str = "item") -> Any:
    """What each person bought after the split that she had not bought before it: the items to find.

    Only persons with a history before the split are kept (a recommender needs something to go on).

    >>> import polars as pl
    >>> b = pl.DataFrame({"person_id": ["u1", "u2"], "item": ["a", "a"]})
    >>> a = pl.DataFrame({"person_id": ["u1", "u1", "u3"], "item": ["a", "b", "c"]})
    >>> holdout_items(b, a).rows()
    [('u1', 'b')]
    """
    b, back = as_polars(before, where="before")
    a, _ = as_polars(after, where="after")
    for frame, where in ((b, "before"), (a, "after")):
        check_columns(frame.columns, [person_col, item_col], where=where)
    cols = [pl.col(person_col).cast(pl.String), pl.col(item_col).cast(pl.String).alias("item")]
    b, a = b.select(cols).drop_nulls().unique(), a.select(cols).drop_nulls().unique()
    out = (a.join(b, on=[person_col, "item"], how="anti")
           .filter(pl.col(person_col).is_in(b[person_col].implode())).sort(person_col, "item"))
    return back(out)


def evaluate_top_n(recommendations: Any, holdout: Any, *, k: int = 10, person_col: str = "person_id") -> dict[str, float]:
    """hit-rate@K and recall@K of top-N lists against held-out items, over the persons in ``holdout``.

    A person missing from ``recommendations`` counts as a miss.

    >>> import polars as pl
    >>> recs = pl.DataFrame({"person_id": ["u1", "u1", "u2"], "rank": [1, 2, 1], "item": ["b", "c", "x"]})
    >>> truth = pl.DataFrame({"person_id": ["u1", "u1", "u2"], "item": ["b", "d", "y"]})
    >>> evaluate_top_n(recs, truth, k=2)
    {'persons': 2, 'hit_rate': 0.5, 'recall': 0.25}
    """
    recs, _ = as_polars(recommendations, where="recommendations")
    truth, _ = as_polars(holdout, where="holdout")
    check_columns(recs.columns, [person_col, "rank", "item"], where="recommendations")
    check_columns(truth.columns, [person_col, "item"], where="holdout")
    k = _whole("k", k)
    top = recs.filter(pl.col("rank") <= k).select(pl.col(person_col).cast(pl.String), pl.col("item").cast(pl.String))
    truth = truth.select(pl.col(person_col).cast(pl.String), pl.col("item").cast(pl.String)).unique()
    per = (truth.join(top.with_columns(hit=pl.lit(1)), on=[person_col, "item"], how="left")
           .group_by(person_col).agg(hits=pl.col("hit").sum(), wanted=pl.len()))
    if per.height == 0:
        raise InputError("holdout: no held-out items to evaluate against")
    return {"persons": per.height, "hit_rate": float((per["hits"] > 0).mean()),
            "recall": float((per["hits"] / per["wanted"]).mean())}


def top_by_group(lines: Any, groups: Any, *, group_col: str, item_col: str = "category", n: int = 3,
                 person_col: str = "person_id", min_group_size: int = MIN_GROUP_SIZE) -> Any:
    """The ``n`` items (categories) with the most buyers per group, as a share of the group's buyers.

    Groups with fewer than ``min_group_size`` buyers are left out (privacy).

    >>> import polars as pl
    >>> lines = pl.DataFrame({"person_id": ["a", "b", "c"], "category": ["tea", "tea", "cup"]})
    >>> groups = pl.DataFrame({"person_id": ["a", "b", "c"], "segment": ["x", "x", "x"]})
    >>> top_by_group(lines, groups, group_col="segment", n=1, min_group_size=1).rows()
    [('x', 1, 'tea', 2, 0.6666666666666666)]
    """
    frame, back = as_polars(lines, where="lines")
    who, _ = as_polars(groups, where="groups")
    check_columns(frame.columns, [person_col, item_col], where="lines")
    check_columns(who.columns, [person_col, group_col], where="groups")
    n = _whole("n", n)
    bought = frame.select(person_col, item_col).drop_nulls().unique().join(who.select(person_col, group_col),
                                                                          on=person_col)
    sizes = bought.group_by(group_col).agg(group_buyers=pl.col(person_col).n_unique())
    out = (bought.group_by(group_col, item_col).agg(buyers=pl.len())
           .join(sizes.filter(pl.col("group_buyers") >= min_group_size), on=group_col)
           .with_columns(share=pl.col("buyers") / pl.col("group_buyers"))
           .sort([group_col, "buyers", item_col], descending=[False, True, False])
           .with_columns(rank=pl.int_range(1, pl.len() + 1).over(group_col))
           .filter(pl.col("rank") <= n)
           .select(group_col, "rank", item_col, "buyers", "share"))
    return back(out)
