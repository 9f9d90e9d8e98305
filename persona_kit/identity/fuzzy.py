"""Step 03, optional: fuzzy matching of records on name, address and birth date with splink (duckdb, offline).

Off by default. :func:`fuzzy_match` scores pairs of records with a Fellegi–Sunter model: u probabilities
from random record pairs, m probabilities from the persons the exact identifiers already found (pairs of
records of one person are true matches). Pairs above ``threshold`` go to
:func:`persona_kit.identity.link` as ``pairs=``; they link last, under the same conflict rule as every
identifier. Comparison levels without any training pair keep splink's default m values and show no
weight in :attr:`FuzzyMatches.weights`.

Requires the ``fuzzy`` extra (``pip install 'persona-kit[fuzzy]'``); splink runs on an in-memory duckdb
database and downloads nothing (``splink_datasets`` is never used).

Examples
--------
>>> import polars as pl
>>> customers = pl.DataFrame({"source": ["pos", "tmall", "pos", "tmall"],
...     "source_customer_id": ["C1", "nick1", "C2", "nick2"], "name": ["张小明", "张小明", "李华", "王芳"],
...     "birth_date": ["1990-01-02", None, "1985-03-04", None]})
>>> labels = pl.DataFrame({"source": ["pos", "tmall", "pos", "tmall"],
...     "source_customer_id": ["C1", "nick1", "C2", "nick2"], "person_id": ["P1", "P1", "P2", "P3"]})
>>> fuzzy_match(customers, labels=labels, threshold=0.5).pairs.select("source_l", "source_r").rows()
[('pos', 'tmall')]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import polars as pl

from persona_kit.errors import InputError, check_columns

__all__ = ["FUZZY_COLUMNS", "FuzzyMatches", "fuzzy_match"]

FUZZY_COLUMNS = ("name", "address", "birth_date")
"""Customer columns the fuzzy model compares."""
_KEY = ["source", "source_customer_id"]
_THRESHOLDS = {"name": (0.92, 0.8), "address": (0.9, 0.75)}


@dataclass(frozen=True)
class FuzzyMatches:
    """Scored pairs above the threshold and the model's match weight per comparison level.

    ``pairs``: source_l, source_customer_id_l, source_r, source_customer_id_r, match_probability,
    match_weight. ``weights``: comparison, level (``exact``, ``jaro_winkler>=0.92``, …, ``other``),
    m_probability, u_probability, match_weight (log2 m / u; null when the level was not trained).
    """

    pairs: pl.DataFrame
    weights: pl.DataFrame


def _records(customers: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """One row per record: the smallest non-empty value of each column, trimmed and lower-cased."""
    text = [pl.col(c).cast(pl.String).str.strip_chars().str.to_lowercase().replace("", None).alias(c)
            for c in columns]
    frame = customers.select(pl.col(_KEY).cast(pl.String), *text).filter(pl.col("source_customer_id").is_not_null())
    frame = frame.group_by(_KEY).agg(pl.col(c).drop_nulls().sort().first() for c in columns)
    return (frame.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in columns)).sort(_KEY)
            .with_columns(unique_id=pl.concat_str(_KEY, separator="\x1f")))


def _settings(columns: list[str], prior: float) -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons = [cl.ExactMatch(c) if c not in _THRESHOLDS else cl.JaroWinklerAtThresholds(c, list(_THRESHOLDS[c]))
                   for c in columns]
    blocking = [block_on(c) for c in columns if c != "address"] or [block_on("address")]
    return SettingsCreator(link_type="dedupe_only", comparisons=comparisons,
                           blocking_rules_to_generate_predictions=blocking,
                           probability_two_random_records_match=prior)


def _weights(model: dict[str, Any]) -> pl.DataFrame:
    rows = []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for i, level in enumerate(levels):
            m, u = level.get("m_probability"), level.get("u_probability")
            code = ("exact" if i == 0 else "other" if i == len(levels) - 1
                    else f"jaro_winkler>={_THRESHOLDS[name][i - 1]}")
            weight = math.log2(m / u) if m and u else None
            rows.append({"comparison": name, "level": code, "m_probability": m, "u_probability": u,
                         "match_weight": weight})
    return pl.DataFrame(rows, schema={"comparison": pl.String, "level": pl.String, "m_probability": pl.Float64,
                                      "u_probability": pl.Float64, "match_weight": pl.Float64})


def fuzzy_match(customers: Any, *, labels: Any, columns: Sequence[str] = FUZZY_COLUMNS,
                threshold: float = 0.99, seed: int = 7, max_pairs: float = 1e6) -> FuzzyMatches:
    """Score record pairs on name / address / birth date with splink and keep those above ``threshold``.

    Parameters
    ----------
    customers : pandas or polars DataFrame
        source, source_customer_id and the ``columns`` present (at least one); several rows per record
        are reduced to one (the smallest value of each column).
    labels : DataFrame
        source, source_customer_id, person_id — the exact-identifier persons (``IdentityResult.keys``);
        their pairs train the m probabilities, and set the prior match probability.
    columns : which of :data:`FUZZY_COLUMNS` to compare (those missing from ``customers`` are skipped)
    threshold : smallest match probability of a kept pair
    seed, max_pairs : the random sampling of non-matching pairs that estimates u

    Returns
    -------
    FuzzyMatches

    Raises
    ------
    InputError
        Missing key columns, none of ``columns`` present, a threshold outside (0, 1), or splink missing.
    """
    try:
        from splink import DuckDBAPI, Linker
    except ImportError as err:
        raise InputError("fuzzy matching needs splink: pip install 'persona-kit[fuzzy]'") from err
    if not 0 < threshold < 1:
        raise InputError(f"threshold must be a match probability between 0 and 1, got {threshold!r}")
    try:
        frame = nw.from_native(customers, eager_only=True).to_polars()
    except TypeError as err:
        raise InputError("fuzzy matching needs the customers table (name, address, birth date) as a pandas or "
                         f"polars DataFrame, got {type(customers).__name__}") from err
    check_columns(frame.columns, _KEY, where="customers")
    unknown = [c for c in columns if c not in FUZZY_COLUMNS]
    if unknown:
        raise InputError(f"fuzzy matching compares {list(FUZZY_COLUMNS)}; got {unknown}")
    present = [c for c in columns if c in frame.columns]
    if not present:
        raise InputError(f"customers has none of the fuzzy columns {list(columns)}; available: {frame.columns}")
    label_frame = nw.from_native(labels, eager_only=True).to_polars()
    check_columns(label_frame.columns, [*_KEY, "person_id"], where="labels")
    records = _records(frame, present).join(label_frame.select(*_KEY, "person_id"), on=_KEY, how="left")
    sizes = records.group_by("person_id").len().filter(pl.col("person_id").is_not_null())["len"]
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    total = records.height * (records.height - 1) // 2
    prior = min(max(true_pairs / total if total else 0.0, 1e-6), 0.5)
    logger = logging.getLogger("splink")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        api = DuckDBAPI(":memory:")
        linker = Linker(api.register(records.drop("source", "source_customer_id").to_pandas()),
                        _settings(present, prior), log_level=None)
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        if true_pairs:
            linker.training.estimate_m_from_label_column("person_id")
        scored = pl.from_pandas(linker.inference.predict(threshold_match_probability=threshold)
                                .as_pandas_dataframe())
        weights = _weights(linker.misc.save_model_to_json())
    finally:
        logger.setLevel(level)
    ids = records.select("unique_id", *_KEY)
    pairs = (scored.select("unique_id_l", "unique_id_r", "match_probability", "match_weight")
             .join(ids.rename({c: f"{c}_l" for c in _KEY}), left_on="unique_id_l", right_on="unique_id")
             .join(ids.rename({c: f"{c}_r" for c in _KEY}), left_on="unique_id_r", right_on="unique_id")
             .select("source_l", "source_customer_id_l", "source_r", "source_customer_id_r",
                     "match_probability", "match_weight")
             .sort("source_l", "source_customer_id_l", "source_r", "source_customer_id_r"))
    return FuzzyMatches(pairs, weights)
