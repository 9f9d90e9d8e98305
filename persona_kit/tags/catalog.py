"""The tag catalog: a versioned YAML taxonomy of tags, validated on load.

The default catalog is ``persona_kit/resources/tags/catalog.yaml``. Its schema::

    version: 1                                   # bump when a definition changes meaning
    categories:                                  # the hierarchy, in display order
      - {id: basic, name: {zh: 基础属性, en: Basic attributes}}
    tags:
      - id: browse_no_order_30d                  # unique, [a-z][a-z0-9_]*
        category: behaviour                      # one of the categories' ids
        name: {zh: 近30日浏览≥3次且未下单, en: Browsed 3+ times in 30 days without ordering}
        description: {zh: ..., en: ...}
        owner: growth-team
        type: rule                               # rule | statistical | model
        value_type: bool                         # bool | category | number
        definition: {when: "views_30d >= 3 and orders_30d == 0"}

``definition`` by type:

- **rule** — ``{when: <condition>}`` (bool); ``{cases: [{value: 高, when: <condition>}, ...],
  default: <value or null>}`` (category; the first matching case wins); ``{column: <feature>}`` (copy a
  feature as it is; category or number).
- **statistical** — over a feature, computed within the snapshot: ``{column, quantiles: [0.33, 0.66],
  labels: [低, 中, 高]}`` (category) or ``{column, above_quantile: 0.8}`` (bool); an optional
  ``where: <condition>`` limits the population (others get null).
- **model** — over a model output column (``model_outputs`` in the engine): ``{column, bins: [0.3, 0.7],
  labels: [低, 中, 高]}`` (fixed cut points, category), ``{column, quantiles, labels}``, ``{column,
  threshold: 0.5}`` (bool) or ``{column}`` (the score itself, number).

Conditions use the language of :mod:`persona_kit.tags.expressions`.

Examples
--------
>>> catalog = load_catalog()
>>> len(catalog) >= 40, catalog.categories[0]["id"]
(True, 'basic')
>>> catalog["browse_no_order_30d"].definition["when"]
'views_30d >= 3 and orders_30d == 0'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from persona_kit.errors import InputError, did_you_mean
from persona_kit.tags.expressions import columns_of, parse

__all__ = ["TAG_TYPES", "VALUE_TYPES", "CATEGORY_IDS", "Tag", "Catalog", "load_catalog"]

TAG_TYPES = ("rule", "statistical", "model")
VALUE_TYPES = ("bool", "category", "number")
CATEGORY_IDS = ("basic", "behaviour", "transaction", "lifecycle", "preference", "churn")
_ID = re.compile(r"[a-z][a-z0-9_]*\Z")
_TAG_KEYS = {"id", "category", "name", "description", "owner", "type", "value_type", "definition"}


@dataclass(frozen=True)
class Tag:
    """One tag of the catalog (see the module docstring for ``definition``)."""

    id: str
    category: str
    name: dict
    description: dict
    owner: str
    type: str
    value_type: str
    definition: dict = field(hash=False, compare=False)

    def conditions(self) -> list[str]:
        """The condition texts this tag uses (``when`` / ``cases[].when`` / ``where``)."""
        d = self.definition
        texts = [d["when"]] if "when" in d else []
        texts += [case["when"] for case in d.get("cases", [])]
        return texts + ([d["where"]] if "where" in d else [])

    def columns(self) -> set[str]:
        """The feature (or model output) columns this tag reads."""
        out = set().union(*(columns_of(parse(t)) for t in self.conditions())) if self.conditions() else set()
        return out | ({self.definition["column"]} if "column" in self.definition else set())


@dataclass(frozen=True)
class Catalog:
    """A validated set of tags: ``catalog[tag_id]``, ``len(catalog)``, ``for tag in catalog``."""

    version: int
    categories: tuple
    tags: tuple

    def __iter__(self) -> Iterator[Tag]:
        return iter(self.tags)

    def __len__(self) -> int:
        return len(self.tags)

    def __getitem__(self, tag_id: str) -> Tag:
        for tag in self.tags:
            if tag.id == tag_id:
                return tag
        near = did_you_mean(tag_id, self.ids)
        raise InputError(f"no tag {tag_id!r} in the catalog" + (f"; did you mean {near!r}?" if near else ""))

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tags]

    def select(self, tag_ids: list[str]) -> Catalog:
        """A catalog holding only ``tag_ids`` (each must exist)."""
        return Catalog(self.version, self.categories, tuple(self[i] for i in tag_ids))

    def computable(self, columns: Iterable[str]) -> Catalog:
        """The tags whose every input column is in ``columns`` — e.g. a features frame's columns, plus
        model outputs' once the models exist (model tags drop out until then).

        >>> full = load_catalog()
        >>> len(full.computable(["person_id", "gender"])) < len(full)
        True
        """
        available = set(columns)
        return self.select([tag.id for tag in self.tags if tag.columns() <= available])

    def tree(self) -> pl.DataFrame:
        """The taxonomy as a frame: one row per tag, in category order.

        >>> load_catalog().tree().columns
        ['category', 'category_zh', 'category_en', 'tag_id', 'name_zh', 'name_en', 'type', 'value_type', 'owner']
        """
        rows = []
        for category in self.categories:
            for tag in (t for t in self.tags if t.category == category["id"]):
                rows.append({"category": category["id"], "category_zh": category["name"]["zh"],
                             "category_en": category["name"]["en"], "tag_id": tag.id, "name_zh": tag.name["zh"],
                             "name_en": tag.name["en"], "type": tag.type, "value_type": tag.value_type,
                             "owner": tag.owner})
        return pl.DataFrame(rows, schema=dict.fromkeys(
            ["category", "category_zh", "category_en", "tag_id", "name_zh", "name_en", "type", "value_type",
             "owner"], pl.String))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a tag catalog (default: the one shipped with persona-kit).

    Parameters
    ----------
    path
        A YAML file in the schema of this module; ``None`` reads the default catalog.

    Returns
    -------
    Catalog

    Raises
    ------
    InputError
        One line naming the file, the tag id and the field: duplicate ids, unknown category, type or
        value_type, a missing zh/en name, a bad expression, or a definition that does not fit the type.
    """
    if path is None:
        where = "resources/tags/catalog.yaml"
        text = resources.files("persona_kit").joinpath("resources/tags/catalog.yaml").read_text("utf-8")
    else:
        path = Path(path)
        where = path.name
        if not path.is_file():
            raise InputError("catalog file not found", file=str(path))
        text = path.read_text("utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"not valid YAML{line}: {getattr(err, 'problem', None) or err}", file=where) from err
    if not isinstance(raw, dict) or not {"version", "categories", "tags"} <= set(raw):
        raise InputError("a catalog needs the keys version, categories and tags", file=where)
    categories = tuple(_check_category(c, where) for c in raw["categories"] or [])
    category_ids = [c["id"] for c in categories]
    tags: list[Tag] = []
    for number, entry in enumerate(raw["tags"] or [], start=1):
        tag = _check_tag(entry, number, category_ids, where)
        if tag.id in {t.id for t in tags}:
            raise InputError(f"tag {tag.id!r}: duplicate id (tag #{number}); ids must be unique", file=where)
        tags.append(tag)
    return Catalog(int(raw["version"]), categories, tuple(tags))


def _check_category(entry: Any, where: str) -> dict:
    if not isinstance(entry, dict) or "id" not in entry or not _is_lang_map(entry.get("name")):
        raise InputError(f"category {entry!r}: needs id and name: {{zh, en}}", file=where)
    return {"id": str(entry["id"]), "name": dict(entry["name"])}


def _is_lang_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), str) and value[k] for k in ("zh", "en"))


def _check_tag(entry: Any, number: int, category_ids: list[str], where: str) -> Tag:
    if not isinstance(entry, dict):
        raise InputError(f"tag #{number}: must be a mapping, got {entry!r}", file=where)
    tag_id = str(entry.get("id", f"#{number}"))

    def fail(field_name: str, message: str) -> InputError:
        return InputError(f"tag {tag_id!r}, field {field_name!r}: {message}", file=where)

    if not _ID.match(tag_id):
        raise fail("id", "must match [a-z][a-z0-9_]* (e.g. high_spender)")
    missing = sorted(_TAG_KEYS - set(entry))
    if missing:
        raise fail(missing[0], f"missing; every tag needs {sorted(_TAG_KEYS)}")
    extra = sorted(set(entry) - _TAG_KEYS)
    if extra:
        near = did_you_mean(extra[0], _TAG_KEYS)
        raise fail(extra[0], "unknown field" + (f"; did you mean {near!r}?" if near else ""))
    for key in ("category", "type", "value_type"):
        choices = {"category": category_ids, "type": TAG_TYPES, "value_type": VALUE_TYPES}[key]
        if entry[key] not in choices:
            near = did_you_mean(str(entry[key]), choices)
            raise fail(key, f"must be one of {list(choices)}, got {entry[key]!r}"
                            + (f"; did you mean {near!r}?" if near else ""))
    for key in ("name", "description"):
        if not _is_lang_map(entry[key]):
            raise fail(key, "needs non-empty zh and en texts: {zh: ..., en: ...}")
    if not isinstance(entry["owner"], str) or not entry["owner"]:
        raise fail("owner", "must name a team or person")
    definition = entry["definition"]
    if not isinstance(definition, dict):
        raise fail("definition", f"must be a mapping, got {definition!r}")
    _check_definition(entry["type"], entry["value_type"], definition, fail)
    return Tag(tag_id, entry["category"], dict(entry["name"]), dict(entry["description"]), entry["owner"],
               entry["type"], entry["value_type"], dict(definition))


def _check_definition(kind: str, value_type: str, d: dict, fail) -> None:
    def expression(key: str, text: Any) -> None:
        try:
            parse(text)
        except InputError as err:
            raise fail(key, str(err)) from None

    def increasing(key: str, low: float, high: float) -> list:
        cuts = d[key]
        if (not isinstance(cuts, list) or not cuts or not all(isinstance(c, int | float) for c in cuts)
                or any(b <= a for a, b in zip(cuts, cuts[1:], strict=False))
                or not all(low < c < high for c in cuts)):
            raise fail(f"definition.{key}", f"must be a non-empty increasing list of numbers in ({low}, {high}), "
                                            f"got {cuts!r}")
        return cuts

    if "where" in d:
        expression("definition.where", d["where"])
    if kind == "rule":
        shape = {"bool": "when", "category": "cases"}.get(value_type)
        if "column" in d and set(d) == {"column"} and value_type in ("category", "number"):
            return
        if shape is None or shape not in d:
            raise fail("definition", f"a {value_type} rule needs "
                       + ({"bool": "{when: <condition>}", "category": "{cases: [{value, when}, ...]}"}
                          .get(value_type, "{column: <feature>}")))
        if shape == "when":
            expression("definition.when", d["when"])
            return
        if not isinstance(d["cases"], list) or not d["cases"]:
            raise fail("definition.cases", "must be a non-empty list of {value, when}")
        for i, case in enumerate(d["cases"]):
            if not isinstance(case, dict) or set(case) != {"value", "when"}:
                raise fail(f"definition.cases[{i}]", f"must be {{value, when}}, got {case!r}")
            expression(f"definition.cases[{i}].when", case["when"])
        return
    if not isinstance(d.get("column"), str):
        raise fail("definition.column", f"a {kind} tag needs the column it reads")
    buckets = [k for k in ("quantiles", "bins", "above_quantile", "threshold") if k in d]
    allowed = {"statistical": ("quantiles", "above_quantile"),
               "model": ("quantiles", "bins", "threshold")}[kind]
    if len(buckets) > 1 or (buckets and buckets[0] not in allowed) or (not buckets and kind == "statistical"):
        raise fail("definition", f"a {kind} tag takes exactly one of {list(allowed)}"
                   + (" (or none, for the raw score)" if kind == "model" else ""))
    bucket = buckets[0] if buckets else None
    expected = {"quantiles": "category", "bins": "category", "above_quantile": "bool", "threshold": "bool",
                None: "number"}[bucket]
    if value_type != expected:
        raise fail("value_type", f"a {kind} tag with {bucket or 'no bucketing'} gives {expected}, not {value_type}")
    if bucket in ("quantiles", "bins"):
        cuts = increasing(bucket, 0, 1) if bucket == "quantiles" else increasing(bucket, float("-inf"), float("inf"))
        labels = d.get("labels")
        if not isinstance(labels, list) or len(labels) != len(cuts) + 1:
            raise fail("definition.labels", f"needs {len(cuts) + 1} labels for {len(cuts)} cut points, got {labels!r}")
    elif bucket == "above_quantile" and not (isinstance(d[bucket], int | float) and 0 < d[bucket] < 1):
        raise fail("definition.above_quantile", f"must be a number in (0, 1), got {d[bucket]!r}")
    elif bucket == "threshold" and not isinstance(d[bucket], int | float):
        raise fail("definition.threshold", f"must be a number, got {d[bucket]!r}")
