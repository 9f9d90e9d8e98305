"""One translation table for everything an analyst reads (zh by default, en by parameter).

Labels live in ``resources/labels/*.yaml`` (one file per step, one table: a key may be defined
once) as ``key: {zh: ..., en: ...}``; values may hold ``{name}`` placeholders filled from keyword
arguments.

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


TABLE = "persona_kit/resources/labels"


class _UniqueKeys(yaml.SafeLoader):
    """A YAML loader that refuses a key defined twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise InputError(f"label keys defined twice: {dupes}")
        return super().construct_mapping(node, deep)


@cache
def labels() -> dict[str, dict[str, str]]:
    """Return the whole translation table (read once from every file of :data:`TABLE`).

    Raises
    ------
    InputError
        If a key is defined twice, in one file or in two.
    """
    table: dict[str, dict[str, str]] = {}
    folder = resources.files("persona_kit").joinpath("resources/labels")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        try:
            part = yaml.load(entry.read_text("utf-8"), Loader=_UniqueKeys) or {}
        except InputError as err:
            raise InputError(str(err), file=f"{TABLE}/{entry.name}") from None
        clash = sorted(set(part) & set(table))
        if clash:
            raise InputError(f"label keys already defined in another file: {clash}",
                             file=f"{TABLE}/{entry.name}")
        table.update(part)
    return table


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
        raise InputError(f"no label {key!r} in {TABLE}/")
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
