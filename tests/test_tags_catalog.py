"""The tag catalog: the default taxonomy and every validation message."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from persona_kit.errors import InputError
from persona_kit.features import FEATURE_COLUMNS
from persona_kit.tags.catalog import CATEGORY_IDS, load_catalog
from persona_kit.tags.expressions import columns_of, parse

MODEL_COLUMNS = {"churn_probability", "clv_365d", "lookalike_score"}  # read from model_outputs, not from features


def test_default_catalog_loads_with_40_tags_in_every_category():
    catalog = load_catalog()
    assert len(catalog) >= 40
    assert [c["id"] for c in catalog.categories] == list(CATEGORY_IDS)
    assert {t.category for t in catalog} == set(CATEGORY_IDS)
    assert {t.type for t in catalog} == {"rule", "statistical", "model"}
    assert {t.value_type for t in catalog} == {"bool", "category", "number"}


def test_rule_and_statistical_tags_read_only_feature_columns():
    catalog = load_catalog()
    for tag in catalog:
        for text in tag.conditions():
            assert columns_of(parse(text)) <= set(FEATURE_COLUMNS), (tag.id, text)
        if tag.type != "model" and "column" in tag.definition:
            assert tag.definition["column"] in FEATURE_COLUMNS, tag.id
    assert {t.definition["column"] for t in catalog if t.type == "model"} == MODEL_COLUMNS


def test_tree_lists_the_hierarchy():
    tree = load_catalog().tree()
    assert tree.height == len(load_catalog())
    first = tree.row(0, named=True)
    assert (first["category"], first["category_zh"], first["tag_id"], first["name_en"]) == \
        ("basic", "基础属性", "gender", "Gender")
    assert tree["category"].unique(maintain_order=True).to_list() == list(CATEGORY_IDS)
    row = tree.filter(tree["tag_id"] == "browse_no_order_30d").row(0, named=True)
    assert (row["name_zh"], row["type"], row["value_type"]) == ("近30日浏览≥3次且未下单", "rule", "bool")


def test_getitem_and_select():
    catalog = load_catalog()
    assert catalog.select(["city", "age"]).ids == ["city", "age"]
    with pytest.raises(InputError, match="no tag 'agee' in the catalog; did you mean 'age'\\?"):
        catalog["agee"]


GOOD_TAG = {"id": "t1", "category": "basic", "name": {"zh": "甲", "en": "A"}, "description": {"zh": "甲", "en": "A"},
            "owner": "me", "type": "rule", "value_type": "bool", "definition": {"when": "age > 1"}}


def write(tmp_path, tags, categories=None):
    doc = {"version": 1, "categories": categories or [{"id": "basic", "name": {"zh": "基础属性", "en": "Basic"}}],
           "tags": tags}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def tag(**changes):
    out = {**GOOD_TAG, **changes}
    return {k: v for k, v in out.items() if v is not None}


def test_minimal_catalog(tmp_path):
    catalog = load_catalog(write(tmp_path, [tag()]))
    assert catalog.version == 1 and catalog.ids == ["t1"]


@pytest.mark.parametrize(("tags", "message"), [
    ([tag(), tag()], "catalog.yaml: tag 't1': duplicate id \\(tag #2\\); ids must be unique"),
    ([tag(type="rules")], "tag 't1', field 'type': must be one of \\['rule', 'statistical', 'model'\\], got 'rules'; "
                          "did you mean 'rule'\\?"),
    ([tag(category="basics")], "tag 't1', field 'category': must be one of \\['basic'\\], got 'basics'"),
    ([tag(value_type="text")], "tag 't1', field 'value_type': must be one of \\['bool', 'category', 'number'\\]"),
    ([tag(definition={"when": "age >= >= 1"})],
     "tag 't1', field 'definition.when': unexpected token '>=' at position 7 in \"age >= >= 1\""),
    ([tag(id="Bad-Id")], "tag 'Bad-Id', field 'id': must match"),
    ([tag(owner=None)], "tag 't1', field 'owner': missing; every tag needs"),
    ([tag(colour="red")], "tag 't1', field 'colour': unknown field"),
    ([tag(name={"zh": "甲"})], "tag 't1', field 'name': needs non-empty zh and en texts"),
    ([tag(definition="age > 1")], "tag 't1', field 'definition': must be a mapping"),
    ([tag(definition={"cases": []})], "tag 't1', field 'definition': a bool rule needs \\{when: <condition>\\}"),
    ([tag(value_type="category", definition={"cases": [{"value": "a"}]})],
     "tag 't1', field 'definition.cases\\[0\\]': must be \\{value, when\\}"),
    ([tag(value_type="category", definition={"cases": [{"value": "a", "when": "a in"}]})],
     "tag 't1', field 'definition.cases\\[0\\].when': unexpected end of expression"),
    ([tag(type="statistical", value_type="category", definition={"column": "x", "quantiles": [0.5]})],
     "tag 't1', field 'definition.labels': needs 2 labels for 1 cut points, got None"),
    ([tag(type="statistical", value_type="category", definition={"column": "x", "quantiles": [0.6, 0.3],
                                                                 "labels": ["a", "b", "c"]})],
     "tag 't1', field 'definition.quantiles': must be a non-empty increasing list of numbers in \\(0, 1\\)"),
    ([tag(type="statistical", value_type="bool", definition={"column": "x", "above_quantile": 1.5})],
     "tag 't1', field 'definition.above_quantile': must be a number in \\(0, 1\\), got 1.5"),
    ([tag(type="statistical", value_type="number", definition={"column": "x"})],
     "tag 't1', field 'definition': a statistical tag takes exactly one of \\['quantiles', 'above_quantile'\\]"),
    ([tag(type="model", value_type="category", definition={"column": "x", "threshold": 0.5})],
     "tag 't1', field 'value_type': a model tag with threshold gives bool, not category"),
    ([tag(type="model", value_type="bool", definition={"when": "x > 1"})],
     "tag 't1', field 'definition.column': a model tag needs the column it reads"),
    ([tag(definition={"when": "x > 1", "where": "x >"})], "tag 't1', field 'definition.where': unexpected end"),
])
def test_validation_errors(tmp_path, tags, message):
    with pytest.raises(InputError, match=message):
        load_catalog(write(tmp_path, tags))


def test_file_level_errors(tmp_path):
    with pytest.raises(InputError, match="catalog file not found"):
        load_catalog(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntags: [\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.yaml: not valid YAML at line 3"):
        load_catalog(bad)
    bad.write_text("version: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.yaml: a catalog needs the keys version, categories and tags"):
        load_catalog(bad)
    bad.write_text(textwrap.dedent("""\
        version: 1
        categories: [{id: basic}]
        tags: []
    """), encoding="utf-8")
    with pytest.raises(InputError, match="category \\{'id': 'basic'\\}: needs id and name"):
        load_catalog(bad)


def test_every_category_value_of_the_default_catalog_has_an_english_name():
    """Tag values are written in Chinese; English reports translate them through ``tagvalue.<value>``."""
    from persona_kit.i18n import labels

    values = set()
    for tag in load_catalog():
        d = tag.definition
        values |= {str(v) for v in d.get("labels", [])} | {str(c["value"]) for c in d.get("cases", [])}
        values |= {str(d["default"])} if d.get("default") is not None else set()
    assert len(values) > 20 and sorted(v for v in values if f"tagvalue.{v}" not in labels()) == []
