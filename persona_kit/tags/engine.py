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

import polars as pl

from persona_kit.errors import InputError, check_columns
from persona_kit.frames import as_polars
from persona_kit.tags.catalog import Catalog, Tag
from persona_kit.tags.expressions import compile_condition

__all__ = ["TAG_COLUMNS", "compute_tags", "wide", "to_date", "long_tags"]

TAG_COLUMNS = ("person_id", "tag_id", "value", "as_of")


def to_date(value: Any, *, name: str = "as_of") -> dt.date:
    """Read a date given as ``date``, ``datetime`` or ``YYYY-MM-DD`` text.

    >>> to_date("2024-06-30")
    datetime.date(2024, 6, 30)
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{name} must be a date like '2024-06-30', got {value!r}") from None


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


def _check_as_of(frame: pl.DataFrame, attrs: dict, as_of: dt.date, name: str, *, required: bool) -> None:
    if "as_of" in frame.columns:
        dates = {to_date(d, name=f"{name}.as_of") for d in frame["as_of"].drop_nulls().unique().to_list()}
        if frame["as_of"].null_count() or len(dates) > 1:
            raise InputError(f"{name} mix several as_of dates {sorted(str(d) for d in dates)} or nulls; "
                             "tag one snapshot at a time")
        found = next(iter(dates), None)
    elif "as_of" in attrs:
        found = to_date(attrs["as_of"], name=f"{name}.attrs['as_of']")
    elif required:
        raise InputError(f"{name} carry no as_of: add an as_of column (the day the features describe), "
                         f"e.g. frame.with_columns(pl.lit(date(...)).alias('as_of'))")
    else:
        return
    if found is not None and found != as_of:
        raise InputError(f"{name} are as of {found}, not {as_of}; compute them as of {as_of} "
                         "(tags and features must describe the same day)")


def compute_tags(features: Any, catalog: Catalog, *, as_of: Any, model_outputs: Any = None,
                 person_col: str = "person_id") -> Any:
    """Evaluate every tag of ``catalog`` for every person in ``features``.

    Parameters
    ----------
    features
        One row per person (pandas or polars): ``person_col``, the feature columns the catalog reads and
        an ``as_of`` column (see the module docstring).
    catalog
        From :func:`~persona_kit.tags.catalog.load_catalog` (``catalog.select([...])`` for a subset).
    as_of
        The snapshot date (``date`` or ``YYYY-MM-DD``).
    model_outputs
        ``person_col`` + the model score columns model tags read (e.g. ``churn_probability``); persons
        missing from it get no model tag values. Needed only when the catalog has model tags.
    person_col
        The person id column of both frames; the output calls it ``person_id``.

    Returns
    -------
    DataFrame (the kind of ``features``)
        Long form ``person_id, tag_id, value (String), as_of (Date)``: tags in catalog order, persons in
        input order.

    Raises
    ------
    InputError
        Missing columns (naming the tag and the near names), a features date that is not ``as_of``,
        duplicate persons, or a condition that does not fit the column types.
    """
    as_of = to_date(as_of)
    frame, back = as_polars(features, where="features")
    _check_as_of(frame, _attrs(features), as_of, "features", required=True)
    check_columns(frame.columns, [person_col], where="features")
    if frame[person_col].is_duplicated().any():
        raise InputError(f"features have duplicate {person_col} values; give one row per person")
    frame = frame.rename({person_col: "person_id"}) if person_col != "person_id" else frame
    model_tags = [t for t in catalog if t.type == "model"]
    if model_tags:
        if model_outputs is None:
            raise InputError(f"the catalog has model tags {[t.id for t in model_tags]}; pass model_outputs "
                             f"(a frame of {person_col} and {sorted({t.definition['column'] for t in model_tags})})")
        scores, _ = as_polars(model_outputs, where="model_outputs")
        _check_as_of(scores, _attrs(model_outputs), as_of, "model_outputs", required=False)
        check_columns(scores.columns, [person_col], where="model_outputs")
        wanted = sorted({t.definition["column"] for t in model_tags})
        check_columns(scores.columns, wanted, where="model_outputs")
        if scores[person_col].is_duplicated().any():
            raise InputError(f"model_outputs have duplicate {person_col} values; give one row per person")
        scores = scores.select(pl.col(person_col).alias("person_id"), *[pl.col(c).alias(f"__model_{c}") for c in wanted])
        frame = frame.join(scores, on="person_id", how="left")
    values = [_tag_value(tag, frame).alias(tag.id) for tag in catalog]
    try:
        computed = frame.select("person_id", *values)
    except pl.exceptions.PolarsError as err:
        raise _locate(err, catalog, frame) from err
    long = computed.unpivot(index="person_id", variable_name="tag_id", value_name="value") if len(catalog) \
        else pl.DataFrame(schema={"person_id": frame["person_id"].dtype, "tag_id": pl.String, "value": pl.String})
    return back(long.drop_nulls("value")
                .with_columns(pl.col("person_id").cast(pl.String), pl.lit(as_of, dtype=pl.Date).alias("as_of"))
                .select(TAG_COLUMNS))


def _locate(err: Exception, catalog: Catalog, frame: pl.DataFrame) -> InputError:
    """Find the first tag whose expression fails on its own, to name it in the error."""
    for tag in catalog:
        try:
            frame.select(_tag_value(tag, frame))
        except pl.exceptions.PolarsError as own:
            first = str(own).strip().splitlines()[0]
            return InputError(f"tag {tag.id!r}: cannot evaluate {tag.conditions() or tag.definition} on the "
                              f"features: {first}; check the column types")
    return InputError(f"cannot compute tags: {str(err).strip().splitlines()[0]}")


def _text(expr: pl.Expr, value_type: str) -> pl.Expr:
    if value_type == "bool":
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false"))
    return expr.cast(pl.String)


def _column(tag: Tag, frame: pl.DataFrame) -> pl.Expr:
    name = tag.definition["column"]
    source = f"__model_{name}" if tag.type == "model" else name
    available = [c for c in frame.columns if not c.startswith("__model_")]
    if source not in frame.columns:
        check_columns(available, [name], where=f"features (tag {tag.id!r})")
    return pl.col(source)


def _condition(tag: Tag, text: str, frame: pl.DataFrame) -> pl.Expr:
    try:
        return compile_condition(text, [c for c in frame.columns if not c.startswith("__model_")])
    except InputError as err:
        raise InputError(f"tag {tag.id!r}: {err}") from None


def _tag_value(tag: Tag, frame: pl.DataFrame) -> pl.Expr:
    d = tag.definition
    if tag.type == "rule":
        if "when" in d:
            return _text(_condition(tag, d["when"], frame).fill_null(False), "bool")
        if "cases" in d:
            out = pl.when(_condition(tag, d["cases"][0]["when"], frame).fill_null(False)) \
                .then(pl.lit(str(d["cases"][0]["value"])))
            for case in d["cases"][1:]:
                out = out.when(_condition(tag, case["when"], frame).fill_null(False)).then(pl.lit(str(case["value"])))
            default = d.get("default")
            return out.otherwise(pl.lit(None if default is None else str(default), dtype=pl.String))
        return _text(_column(tag, frame), tag.value_type)
    score = _column(tag, frame).cast(pl.Float64)
    if "where" in d:
        score = pl.when(_condition(tag, d["where"], frame).fill_null(False)).then(score)
    if "quantiles" in d or "bins" in d:
        cuts = [score.quantile(q, interpolation="linear") for q in d["quantiles"]] if "quantiles" in d \
            else [pl.lit(float(b)) for b in d["bins"]]
        labels = [str(label) for label in d["labels"]]
        out = pl.when(score.is_null()).then(pl.lit(None, dtype=pl.String))
        for cut, label in zip(cuts, labels, strict=False):
            out = out.when(score <= cut).then(pl.lit(label))
        return out.otherwise(pl.lit(labels[-1]))
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
