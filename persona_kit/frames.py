"""Frames at the API boundary: take pandas or polars (eager or lazy), work in polars, give back the same kind.

Public functions that compute in eager polars call :func:`as_polars` once on their input and pass their
result through the returned ``back`` function, so a pandas caller gets pandas and a polars caller polars.
Code that stays lazy (features, interests) uses narwhals directly instead, see
:func:`persona_kit.features.lazy_input`.

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

from collections.abc import Callable
from typing import Any

import narwhals as nw
import polars as pl

from persona_kit.errors import InputError

__all__ = ["as_polars"]


def as_polars(frame: Any, *, where: str = "frame") -> tuple[pl.DataFrame, Callable[[pl.DataFrame], Any]]:
    """``frame`` as an eager polars DataFrame, and a function turning a polars result back into its kind.

    A polars LazyFrame is collected (and results go back lazy); pandas goes back as pandas, with the
    input's ``attrs`` kept.

    Raises
    ------
    InputError
        If ``frame`` is not a pandas or polars frame (``where`` names it in the message).
    """
    try:
        native = nw.from_native(frame)
    except TypeError:
        raise InputError(f"{where}: expected a pandas or polars DataFrame, got {type(frame).__name__}") from None
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
