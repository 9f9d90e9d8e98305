"""One translation table for everything an analyst reads (zh by default, en by parameter).

Labels live in ``resources/labels.yaml`` as ``key: {zh: ..., en: ...}``; values may hold
``{name}`` placeholders filled from keyword arguments.

Examples
--------
>>> t("lang.name", "en")
'English'
>>> t("lang.name")
'中文'
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import narwhals as nw
import yaml

from persona_kit.errors import InputError, check_choice

__all__ = ["LANGS", "t", "label_or", "labels", "translate_values"]

LANGS = ("zh", "en")


@cache
def labels() -> dict[str, dict[str, str]]:
    """Return the whole translation table (read once)."""
    text = resources.files("persona_kit").joinpath("resources/labels.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def t(key: str, lang: str = "zh", /, **values: object) -> str:
    """Translate ``key`` into ``lang`` and fill its ``{placeholders}`` from ``values``.

    Raises
    ------
    InputError
        If ``lang`` is not one of :data:`LANGS` or ``key`` is not in the table.
    """
    check_choice("lang", lang, LANGS)
    entry = labels().get(key)
    if entry is None:
        raise InputError(f"no label {key!r} in persona_kit/resources/labels.yaml")
    text = entry[lang]
    return text.format(**values) if values else text


def label_or(key: str, lang: str, fallback: str) -> str:
    """The label ``key`` in ``lang`` if the table has it, else ``fallback`` (e.g. a raw column name).

    >>> label_or("col.no_such_column", "en", "no_such_column"), label_or("lang.name", "en", "x")
    ('no_such_column', 'English')
    """
    return t(key, lang) if key in labels() else fallback


def translate_values(frame, column: str, prefix: str, lang: str = "zh"):
    """Replace the values of ``column`` that have a label ``<prefix>.<value>``; others stay as they are.

    Accepts pandas or polars and returns the same kind.

    >>> import polars as pl
    >>> translate_values(pl.DataFrame({"reason": ["missing_required", "x"]}), "reason", "reason", "en").rows()
    [('Required value missing',), ('x',)]
    """
    check_choice("lang", lang, LANGS)
    native = nw.from_native(frame, eager_only=True)
    values = [v for v in native[column].unique().to_list() if v is not None]
    mapping = {v: label_or(f"{prefix}.{v}", lang, v) for v in values}
    mapping = {v: text for v, text in mapping.items() if text != v}
    if not mapping:
        return frame
    return native.with_columns(nw.col(column).replace_strict(
        mapping, default=nw.col(column), return_dtype=nw.String)).to_native()
