"""Compute the tags of a catalog for every person, as of one date.

**How ``as_of`` is carried.** A features frame says which day it describes with an ``as_of`` column (one
date for every row; a pandas frame may instead set ``frame.attrs["as_of"]``). :func:`compute_tags` refuses
features without one, or whose date differs from its own ``as_of`` — tags computed from stale features
would be dated wrongly. ``model_outputs`` (``person_id`` + score columns) are checked the same way when they
carry an ``as_of`` column.

**Values.** Every value is written as text in the long frame: bools as ``true`` / ``false``, numbers as
polars prints them, categories as they are. A person with no value for a tag (null feature, no matching
case, outside a ``where`` population) has no row for it. A null rule condition counts as false.

**Quantile tags** are computed within the snapshot, over the persons in the ``where`` population with a
non-null value: cut points are ``quantile(q, interpolation="linear")``; a value equal to a cut point falls
in the lower bucket (intervals are closed on the right, as ``pandas.qcut``), so tied values always share a
bucket. ``above_quantile: q`` is true for values strictly above the q-quantile.

Examples
--------
>>> import datetime as dt, polars as pl
>>> from persona_kit.tags.catalog import load_catalog
>>> features = pl.DataFrame({"person_id": ["p1", "p2"], "views_30d": [5, 0], "orders_30d": [0, 0],
...                          "as_of": [dt.date(2024, 6, 30)] * 2})
>>> catalog = load_catalog().select(["browse_no_order_30d"])
>>> compute_tags(features, catalog, as_of="2024-06-30").rows()
[('p1', 'browse_no_order_30d', 'true', datetime.date(2024, 6, 30)), ('p2', 'browse_no_order_30d', 'false', datetime.date(2024, 6, 30))]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import narwhals as nw
import polars as pl

from persona_kit.errors import InputError, check_columns, check_date
from persona_kit.frames import as_polars, collect_like, lazy_input
from persona_kit.tags.catalog import Catalog, Tag
from persona_kit.tags.expressions import compile_condition

__all__ = ["TAG_COLUMNS", "compute_tags", "wide", "long_tags"]

TAG_COLUMNS = ("person_id", "tag_id", "value", "as_of")


def long_tags(tags: Any, *, where: str = "tags") -> tuple[pl.DataFrame, Callable[[pl.DataFrame], Any]]:
    """A long tag frame (pandas or polars) as polars with :data:`TAG_COLUMNS` typed, and the function
    that turns a polars result back into the input's kind (see :func:`persona_kit.frames.as_polars`).

    >>> day = dt.date(2024, 6, 30)
    >>> frame, back = long_tags(pl.DataFrame({"person_id": [1], "tag_id": ["t"], "value": ["x"], "as_of": [day]}))
    >>> frame.schema["person_id"], frame.schema["as_of"]
    (String, Date)
    """
    frame, back = as_polars(tags, where=where)
    check_columns(frame.columns, list(TAG_COLUMNS), where=where)
    return frame.select(pl.col("person_id").cast(pl.String), pl.col("tag_id").cast(pl.String),
                        pl.col("value").cast(pl.String), pl.col("as_of").cast(pl.Date)), back


def _attrs(frame: Any) -> dict:
    """A pandas frame's ``attrs`` (where a caller may record ``as_of``); empty for polars."""
    return dict(getattr(frame, "attrs", {}) or {})


def _check_as_of(lf: nw.LazyFrame, attrs: dict, as_of: dt.date, name: str, *, required: bool) -> None:
    if "as_of" in lf.collect_schema().names():
        found_dates = lf.select("as_of").unique().collect()["as_of"].to_list()
        dates = {check_date(f"{name}.as_of", d) for d in found_dates if d is not None}
        if None in found_dates or len(dates) > 1:
            raise InputError(f"{name} mix several as_of dates {sorted(str(d) for d in dates)} or nulls; "
                             "tag one snapshot at a time")
        found = next(iter(dates), None)
    elif "as_of" in attrs:
        found = check_date(f"{name}.attrs['as_of']", attrs["as_of"])
    elif required:
        raise InputError(f"{name} carry no as_of: add an as_of column (the day the features describe), "
                         f"e.g. frame.with_columns(pl.lit(date(...)).alias('as_of'))")
    else:
        return
    if found is not None and found != as_of:
        raise InputError(f"{name} are as of {found}, not {as_of}; compute them as of {as_of} "
                         "(tags and features must describe the same day)")


def _one_row_each(lf: nw.LazyFrame, person_col: str, name: str) -> None:
    if lf.group_by(person_col).agg(nw.len().alias("_n")).filter(nw.col("_n") > 1).head(1).collect().shape[0]:
        raise InputError(f"{name} have duplicate {person_col} values; give one row per person")


def compute_tags(features: Any, catalog: Catalog, *, as_of: Any, model_outputs: Any = None,
                 person_col: str = "person_id") -> Any:
    """Evaluate every tag of ``catalog`` for every person in ``features``.

    Written in narwhals: pandas, polars (eager or lazy), duckdb and pyspark frames all work and give the
    same values; the result is the kind of ``features`` (a lazy input stays lazy).

    Parameters
    ----------
    features
        One row per person: ``person_col``, the feature columns the catalog reads and an ``as_of`` column
        (see the module docstring).
    catalog
        From :func:`~persona_kit.tags.catalog.load_catalog` (``catalog.select([...])`` for a subset).
    as_of
        The snapshot date (``date`` or ``YYYY-MM-DD``).
    model_outputs
        ``person_col`` + the model score columns model tags read (e.g. ``churn_probability``), the same
        kind of frame as ``features``; persons missing from it get no model tag values. Needed only when
        the catalog has model tags.
    person_col
        The person id column of both frames; the output calls it ``person_id``.

    Returns
    -------
    DataFrame (the kind of ``features``)
        Long form ``person_id, tag_id, value (String), as_of (Date)``: tags in catalog order, persons in
        input order (sorted by id when ``model_outputs`` are joined; a join keeps no row order).

    Raises
    ------
    InputError
        Missing columns (naming the tag and the near names), a features date that is not ``as_of``,
        duplicate persons, or a condition that does not fit the column types.
    """
    as_of = check_date("as_of", as_of)
    lf, eager = lazy_input(features, [person_col], "features")
    _check_as_of(lf, _attrs(features), as_of, "features", required=True)
    _one_row_each(lf, person_col, "features")
    lf = lf.rename({person_col: "person_id"}) if person_col != "person_id" else lf
    model_tags = [t for t in catalog if t.type == "model"]
    if model_tags:
        if model_outputs is None:
            raise InputError(f"the catalog has model tags {[t.id for t in model_tags]}; pass model_outputs "
                             f"(a frame of {person_col} and {sorted({t.definition['column'] for t in model_tags})})")
        wanted = sorted({t.definition["column"] for t in model_tags})
        scores, _ = lazy_input(model_outputs, [person_col], "model_outputs")
        _check_as_of(scores, _attrs(model_outputs), as_of, "model_outputs", required=False)
        check_columns(scores.collect_schema().names(), wanted, where="model_outputs")
        _one_row_each(scores, person_col, "model_outputs")
        if scores.implementation != lf.implementation:
            raise InputError(f"model_outputs must be the same kind of frame as features ({lf.implementation}), "
                             f"got {scores.implementation}")
        scores = scores.select(nw.col(person_col).alias("person_id"), *[nw.col(c).alias(f"__model_{c}") for c in wanted])
        lf = lf.join(scores, on="person_id", how="left").sort("person_id")  # a join keeps no row order
    columns = lf.collect_schema().names()
    values = [_tag_value(tag, columns).alias(tag.id) for tag in catalog]
    if not values:
        long = lf.select(nw.col("person_id"), nw.lit(None, dtype=nw.String).alias("tag_id"),
                         nw.lit(None, dtype=nw.String).alias("value")).filter(nw.lit(False))
    else:
        long = lf.select("person_id", *values).unpivot(index="person_id", variable_name="tag_id",
                                                        value_name="value")
    out = (long.filter(~nw.col("value").is_null())
           .with_columns(nw.col("person_id").cast(nw.String), nw.lit(as_of, dtype=nw.Date).alias("as_of"))
           .select(*TAG_COLUMNS))
    if not eager:
        return out.to_native()
    try:
        return collect_like(out, eager)
    except Exception as err:  # the engine's own error type (polars, pandas, …); named by tag below
        raise _locate(err, catalog, lf, columns) from err


def _locate(err: Exception, catalog: Catalog, lf: nw.LazyFrame, columns: list[str]) -> InputError:
    """Find the first tag whose expression fails on its own, to name it in the error."""
    for tag in catalog:
        try:
            lf.select(_tag_value(tag, columns)).collect()
        except Exception as own:  # noqa: BLE001 - any engine error; reported by tag
            first = str(own).strip().splitlines()[0]
            return InputError(f"tag {tag.id!r}: cannot evaluate {tag.conditions() or tag.definition} on the "
                              f"features: {first}; check the column types")
    return InputError(f"cannot compute tags: {str(err).strip().splitlines()[0]}")


def _text(expr: nw.Expr, value_type: str) -> nw.Expr:
    if value_type == "bool":
        return nw.when(expr).then(nw.lit("true")).when(~expr).then(nw.lit("false"))
    return expr.cast(nw.String)


def _column(tag: Tag, columns: list[str]) -> nw.Expr:
    name = tag.definition["column"]
    source = f"__model_{name}" if tag.type == "model" else name
    available = [c for c in columns if not c.startswith("__model_")]
    if source not in columns:
        check_columns(available, [name], where=f"features (tag {tag.id!r})")
    return nw.col(source)


def _condition(tag: Tag, text: str, columns: list[str]) -> nw.Expr:
    try:
        return compile_condition(text, [c for c in columns if not c.startswith("__model_")], narwhals=True)
    except InputError as err:
        raise InputError(f"tag {tag.id!r}: {err}") from None


def _tag_value(tag: Tag, columns: list[str]) -> nw.Expr:
    d = tag.definition
    if tag.type == "rule":
        if "when" in d:
            return _text(_condition(tag, d["when"], columns).fill_null(False), "bool")
        if "cases" in d:
            out = nw.when(_condition(tag, d["cases"][0]["when"], columns).fill_null(False)) \
                .then(nw.lit(str(d["cases"][0]["value"])))
            for case in d["cases"][1:]:
                out = out.when(_condition(tag, case["when"], columns).fill_null(False)).then(nw.lit(str(case["value"])))
            default = d.get("default")
            return out.otherwise(nw.lit(None if default is None else str(default), dtype=nw.String))
        return _text(_column(tag, columns), tag.value_type)
    score = _column(tag, columns).cast(nw.Float64)
    if "where" in d:
        score = nw.when(_condition(tag, d["where"], columns).fill_null(False)).then(score)
    if "quantiles" in d or "bins" in d:
        cuts = [score.quantile(q, interpolation="linear") for q in d["quantiles"]] if "quantiles" in d \
            else [nw.lit(float(b)) for b in d["bins"]]
        labels = [str(label) for label in d["labels"]]
        out = nw.when(score.is_null()).then(nw.lit(None, dtype=nw.String))
        for cut, label in zip(cuts, labels, strict=False):
            out = out.when(score <= cut).then(nw.lit(label))
        return out.otherwise(nw.lit(labels[-1]))
    if "above_quantile" in d:
        return _text(score > score.quantile(d["above_quantile"], interpolation="linear"), "bool")
    if "threshold" in d:
        return _text(score > d["threshold"], "bool")
    return _text(score, "number")


def wide(tags: Any, *, catalog: Catalog | None = None) -> Any:
    """Pivot a long tag frame to one row per person and one String column per tag (same kind of frame).

    Columns follow the catalog's order when ``catalog`` is given (tags with no value for anyone become
    all-null columns), else first-seen order.

    >>> long = pl.DataFrame({"person_id": ["p1", "p2", "p1"], "tag_id": ["a", "a", "b"],
    ...                      "value": ["true", "false", "高"], "as_of": [dt.date(2024, 6, 30)] * 3})
    >>> wide(long).rows()
    [('p1', datetime.date(2024, 6, 30), 'true', '高'), ('p2', datetime.date(2024, 6, 30), 'false', None)]
    """
    frame, back = long_tags(tags)
    order = catalog.ids if catalog is not None else frame["tag_id"].unique(maintain_order=True).to_list()
    if frame.is_empty():
        out = frame.select("person_id", "as_of")
    else:
        out = frame.pivot(on="tag_id", index=["person_id", "as_of"], values="value", aggregate_function=None)
    return back(out.with_columns(pl.lit(None, dtype=pl.String).alias(t) for t in order if t not in out.columns)
                .select("person_id", "as_of", *order).sort("person_id"))
