"""The one error type for bad input, and the checks that raise it.

Every message is one line that says what is wrong, where (file, column, row) and how to fix it.

Examples
--------
>>> check_columns(["order_id", "amout"], ["order_id", "amount"], where="orders.csv")
Traceback (most recent call last):
...
persona_kit.errors.InputError: orders.csv: missing columns ['amount']; available: ['order_id', 'amout']; did you mean 'amout' for 'amount'?
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Sequence

__all__ = ["InputError", "check_columns", "check_choice", "did_you_mean"]


class InputError(ValueError):
    """Bad input from a user: a file, a column map, a parameter or a frame.

    ``str(err)`` is a single line; ``file``, ``column`` and ``row`` are kept as attributes.
    """

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None,
                 row: int | None = None) -> None:
        where = [f"{file}" if file else None,
                 f"column {column!r}" if column is not None else None,
                 f"row {row}" if row is not None else None]
        prefix = ", ".join(w for w in where if w)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.file, self.column, self.row = file, column, row


def did_you_mean(name: str, options: Iterable[str]) -> str | None:
    """Return the closest of ``options`` to ``name``, or None if nothing is close."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return close[0] if close else None


def check_columns(available: Sequence[str], required: Iterable[str], *, where: str = "frame",
                  candidates: Iterable[str] | None = None) -> None:
    """Raise :class:`InputError` naming every missing column, with near-name suggestions.

    ``candidates`` are the names a suggestion may offer (default: ``available``); leave out columns that are
    already in use, so a renamed column is not matched to one that is mapped elsewhere.
    """
    missing = [c for c in required if c not in available]
    if not missing:
        return
    offer = list(available if candidates is None else candidates)
    hints = [f"{near!r} for {m!r}" for m in missing if (near := did_you_mean(m, offer))]
    hint = f"; did you mean {', '.join(hints)}?" if hints else ""
    raise InputError(f"missing columns {missing}; available: {list(available)}{hint}", file=where)


def check_date(name: str, value: object) -> dt.date:
    """``value`` as a date (a ``date``, a ``datetime`` — its day — or ``YYYY-MM-DD`` text), else a one-line
    :class:`InputError` naming the parameter.

    >>> check_date("as_of", "2024-06-30")
    datetime.date(2024, 6, 30)
    >>> check_date("cutoff", "30/06/2024")
    Traceback (most recent call last):
    ...
    persona_kit.errors.InputError: cutoff must be a date like '2024-06-30', got '30/06/2024'
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{name} must be a date like '2024-06-30', got {value!r}") from None


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise :class:`InputError` unless ``value`` is one of ``choices``.

    >>> check_choice("lang", "fr", ["zh", "en"])
    Traceback (most recent call last):
    ...
    persona_kit.errors.InputError: lang must be one of ['zh', 'en'], got 'fr'
    """
    if value not in choices:
        near = did_you_mean(str(value), [str(c) for c in choices])
        hint = f"; did you mean {near!r}?" if near else ""
        raise InputError(f"{name} must be one of {list(choices)}, got {value!r}{hint}")
