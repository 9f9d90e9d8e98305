"""Frames at the API boundary: take pandas or polars (eager or lazy), work in polars, give back the same kind.

Two ways, one per kind of code:

- code that computes in eager polars calls :func:`as_polars` once on its input and passes its result
  through the returned ``back`` function, so a pandas caller gets pandas and a polars caller polars;
- code written in narwhals that must stay lazy (features, interests, purchases — anything over events or
  orders, so it also runs on duckdb or pyspark) calls :func:`lazy_input` and ends with :func:`collect_like`.

Examples
--------
>>> import pandas as pd
>>> df, back = as_polars(pd.DataFrame({"person_id": ["a", "b"]}), where="tags")
>>> type(df).__name__, type(back(df.head(1))).__name__
('DataFrame', 'DataFrame')
>>> back(df.head(1)).shape
(1, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import narwhals as nw
import polars as pl

from persona_kit.errors import InputError, check_columns

__all__ = ["as_polars", "lazy_input", "collect_like", "computed_once", "time_zone", "spark_session", "from_spark"]


def _from_native(frame: Any, where: str) -> nw.DataFrame | nw.LazyFrame:
    try:
        return nw.from_native(frame)
    except TypeError:
        raise InputError(f"{where}: expected a pandas or polars DataFrame, got {type(frame).__name__}") from None


def as_polars(frame: Any, *, where: str = "frame") -> tuple[pl.DataFrame, Callable[[pl.DataFrame], Any]]:
    """``frame`` as an eager polars DataFrame, and a function turning a polars result back into its kind.

    A polars LazyFrame is collected (and results go back lazy); pandas goes back as pandas, with the
    input's ``attrs`` kept.

    Raises
    ------
    InputError
        If ``frame`` is not a pandas or polars frame (``where`` names it in the message).
    """
    native = _from_native(frame, where)
    if isinstance(native, nw.LazyFrame):
        if not native.implementation.is_polars():
            raise InputError(f"{where}: a lazy {native.implementation} frame is not supported here; "
                             "collect it to polars or pandas first")
        return native.to_native().collect(), lambda out: out.lazy()
    if native.implementation.is_polars():
        return native.to_native(), lambda out: out
    attrs = dict(getattr(frame, "attrs", {}) or {})

    def back(out: pl.DataFrame) -> Any:
        result = out.to_pandas()
        result.attrs.update(attrs)
        return result
    return native.to_polars(), back


def lazy_input(frame: Any, required: Sequence[str], where: str) -> tuple[nw.LazyFrame, bool]:
    """``frame`` (pandas, polars, or any lazy frame narwhals knows: duckdb, pyspark …) as a narwhals
    LazyFrame with the ``required`` columns, and whether the caller gave an eager frame.

    >>> lf, eager = lazy_input(pl.DataFrame({"person_id": ["a"]}), ["person_id"], "orders")
    >>> type(lf).__name__, eager, type(collect_like(lf, eager)).__name__
    ('LazyFrame', True, 'DataFrame')

    Raises
    ------
    InputError
        If ``frame`` is not a frame, or lacks a ``required`` column (named, with near names).
    """
    native = _from_native(frame, where)
    columns = native.columns if isinstance(native, nw.DataFrame) else native.collect_schema().names()
    check_columns(columns, required, where=where)
    eager = isinstance(native, nw.DataFrame)
    return (native.lazy() if eager else native), eager


def collect_like(lf: nw.LazyFrame, eager: bool) -> Any:
    """The native result of a :func:`lazy_input` computation: collected if the input was eager."""
    return (lf.collect() if eager else lf).to_native()


def computed_once(lf: nw.LazyFrame, eager: bool) -> nw.LazyFrame:
    """``lf`` computed now and held in memory when the input was in memory (``eager``), so the several
    aggregations that read it do not each recompute it; a lazy input (a Parquet scan, Spark) stays lazy.

    >>> lf, eager = lazy_input(pl.DataFrame({"x": [1, 2]}), ["x"], "frame")
    >>> collect_like(computed_once(lf.with_columns(y=nw.col("x") * 2), eager), eager)["y"].to_list()
    [2, 4]
    """
    return lf.collect().lazy() if eager else lf


def time_zone(frames: Iterable[pl.DataFrame], default: str = "UTC") -> str:
    """The time zone of the first zoned timestamp column of ``frames`` (the data's zone), else ``default``:
    the zone a Spark session must read wall-clock fields in (:func:`spark_session`).

    >>> import datetime as dt
    >>> time_zone([pl.DataFrame({"ts": [dt.datetime(2024, 1, 1)]}).with_columns(pl.col("ts").dt.replace_time_zone("Asia/Shanghai"))])
    'Asia/Shanghai'
    """
    return next((t.time_zone for f in frames for t in f.schema.values()
                 if isinstance(t, pl.Datetime) and t.time_zone), default)


def spark_session(master: str, *, timezone: str = "UTC") -> Any:
    """A SparkSession on ``master`` (``local[*]`` here, ``spark://host:7077``, ``yarn`` … on a cluster) for the
    steps that can run on Spark (features, tags, RFM / lifecycle / AIPL).

    Spark keeps timestamps as instants and reads their calendar fields in the session time zone, so
    ``timezone`` must be the data's (e.g. ``Asia/Shanghai``) for days, hours and windows to match polars.

    Raises
    ------
    InputError
        If pyspark is not installed (``pip install 'persona-kit[spark]'``; it also needs Java).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("running on Spark needs pyspark: pip install 'persona-kit[spark]' (and a Java runtime)") \
            from None
    session = (SparkSession.builder.master(master).appName("persona-kit")
               .config("spark.sql.session.timeZone", timezone).config("spark.ui.showConsoleProgress", "false")
               .getOrCreate())
    session.conf.set("spark.sql.session.timeZone", timezone)  # also when the session already existed
    return session


def from_spark(frame: Any) -> pl.DataFrame:
    """A (small, aggregated) Spark DataFrame collected into polars through Arrow."""
    return pl.from_arrow(frame.toArrow())
