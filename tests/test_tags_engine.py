"""The tag engine on hand-built feature frames with known tag values, one test per kind of tag."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pytest
import yaml

from persona_kit.errors import InputError
from persona_kit.features import FEATURE_COLUMNS
from persona_kit.tags.catalog import load_catalog
from persona_kit.tags.engine import compute_tags, wide

AS_OF = dt.date(2024, 6, 30)


def features(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame({"person_id": [f"p{i}" for i in range(1, n + 1)], **columns}).with_columns(
        pl.lit(AS_OF).alias("as_of"))


def catalog_of(tmp_path, *tags):
    doc = {"version": 1, "categories": [{"id": "c", "name": {"zh": "类", "en": "C"}}], "tags": [
        {"id": tag_id, "category": "c", "name": {"zh": tag_id, "en": tag_id}, "description": {"zh": "-", "en": "-"},
         "owner": "me", "type": kind, "value_type": value_type, "definition": definition}
        for tag_id, kind, value_type, definition in tags]}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_catalog(path)


def values(long: pl.DataFrame, tag_id: str) -> dict:
    return dict(long.filter(pl.col("tag_id") == tag_id).select("person_id", "value").iter_rows())


def test_rule_tags(tmp_path):
    frame = features(views_30d=[5, 3, 1, None], orders_30d=[0, 1, 0, 0], age=[17, 30, None, 60],
                     city=["上海", "成都", None, "北京"])
    catalog = catalog_of(
        tmp_path,
        ("browse", "rule", "bool", {"when": "views_30d >= 3 and orders_30d == 0"}),
        ("band", "rule", "category", {"cases": [{"value": "少年", "when": "age < 18"},
                                                {"value": "成人", "when": "age < 55"}], "default": "其他"}),
        ("band_no_default", "rule", "category", {"cases": [{"value": "少年", "when": "age < 18"}]}),
        ("city", "rule", "category", {"column": "city"}),
        ("age", "rule", "number", {"column": "age"}),
    )
    long = compute_tags(frame, catalog, as_of="2024-06-30")
    assert long.columns == ["person_id", "tag_id", "value", "as_of"]
    assert long.schema["value"] == pl.String and long.schema["as_of"] == pl.Date
    assert values(long, "browse") == {"p1": "true", "p2": "false", "p3": "false", "p4": "false"}  # null → false
    assert values(long, "band") == {"p1": "少年", "p2": "成人", "p3": "其他", "p4": "其他"}
    assert values(long, "band_no_default") == {"p1": "少年"}  # no value, no row
    assert values(long, "city") == {"p1": "上海", "p2": "成都", "p4": "北京"}
    assert values(long, "age") == {"p1": "17", "p2": "30", "p4": "60"}


def test_statistical_quantile_buckets_with_ties_and_where(tmp_path):
    # spend 0 is outside the population; among [10, 20, 20, 20, 30, 40] the 0.5-quantile is 20 (linear),
    # so the three tied 20s all fall in the lower bucket (closed on the right)
    frame = features(spend_365d=[0.0, 10.0, 20.0, 20.0, 20.0, 30.0, 40.0, None])
    catalog = catalog_of(
        tmp_path,
        ("power", "statistical", "category", {"column": "spend_365d", "quantiles": [0.5], "labels": ["低", "高"],
                                               "where": "spend_365d > 0"}),
        ("top", "statistical", "bool", {"column": "spend_365d", "above_quantile": 0.5, "where": "spend_365d > 0"}),
        ("thirds", "statistical", "category", {"column": "spend_365d", "quantiles": [0.33, 0.66],
                                                "labels": ["低", "中", "高"]}),
    )
    long = compute_tags(frame, catalog, as_of=AS_OF)
    assert values(long, "power") == {"p2": "低", "p3": "低", "p4": "低", "p5": "低", "p6": "高", "p7": "高"}
    assert values(long, "top") == {"p2": "false", "p3": "false", "p4": "false", "p5": "false", "p6": "true",
                                   "p7": "true"}
    # over [0, 10, 20, 20, 20, 30, 40]: q.33 = 19.8 (linear), q.66 = 20 → 0, 10 低; 20s 中; 30, 40 高
    assert values(long, "thirds") == {"p1": "低", "p2": "低", "p3": "中", "p4": "中", "p5": "中", "p6": "高",
                                      "p7": "高"}


def test_model_tags_read_model_outputs(tmp_path):
    frame = features(views_30d=[1, 2, 3, 4])
    scores = pl.DataFrame({"person_id": ["p1", "p2", "p3"], "churn_probability": [0.1, 0.5, 0.9],
                           "clv_365d": [10.0, 20.0, 30.0]})
    catalog = catalog_of(
        tmp_path,
        ("risk", "model", "category", {"column": "churn_probability", "bins": [0.3, 0.7], "labels": ["低", "中", "高"]}),
        ("likely", "model", "bool", {"column": "churn_probability", "threshold": 0.5}),
        ("clv_tier", "model", "category", {"column": "clv_365d", "quantiles": [0.5], "labels": ["低", "高"]}),
        ("clv", "model", "number", {"column": "clv_365d"}),
    )
    long = compute_tags(frame, catalog, as_of=AS_OF, model_outputs=scores)
    assert values(long, "risk") == {"p1": "低", "p2": "中", "p3": "高"}  # p4 has no score: no value
    assert values(long, "likely") == {"p1": "false", "p2": "false", "p3": "true"}
    assert values(long, "clv_tier") == {"p1": "低", "p2": "低", "p3": "高"}
    assert values(long, "clv") == {"p1": "10.0", "p2": "20.0", "p3": "30.0"}
    with pytest.raises(InputError, match="the catalog has model tags \\['risk', 'likely', 'clv_tier', 'clv'\\]; "
                                         "pass model_outputs"):
        compute_tags(frame, catalog, as_of=AS_OF)
    with pytest.raises(InputError, match="model_outputs: missing columns \\['clv_365d'\\]"):
        compute_tags(frame, catalog, as_of=AS_OF, model_outputs=scores.drop("clv_365d"))
    with pytest.raises(InputError, match="model_outputs are as of 2024-05-31, not 2024-06-30"):
        compute_tags(frame, catalog, as_of=AS_OF,
                     model_outputs=scores.with_columns(as_of=pl.lit(dt.date(2024, 5, 31))))


def test_pandas_and_polars_give_the_same_tags(tmp_path):
    frame = features(views_30d=[5, 1], orders_30d=[0, 0])
    catalog = catalog_of(tmp_path, ("browse", "rule", "bool", {"when": "views_30d >= 3 and orders_30d == 0"}))
    from_pandas = compute_tags(frame.to_pandas(), catalog, as_of=AS_OF)
    from_polars = compute_tags(frame, catalog, as_of=AS_OF)
    assert isinstance(from_pandas, pd.DataFrame) and isinstance(from_polars, pl.DataFrame)
    assert pl.from_pandas(from_pandas).equals(from_polars)
    attrs_frame = frame.drop("as_of").to_pandas()
    attrs_frame.attrs["as_of"] = "2024-06-30"
    pd.testing.assert_frame_equal(compute_tags(attrs_frame, catalog, as_of=AS_OF), from_pandas)
    assert pl.from_pandas(wide(from_pandas)).equals(wide(from_polars))


def test_as_of_is_enforced(tmp_path):
    frame = features(views_30d=[5, 1], orders_30d=[0, 0])
    catalog = catalog_of(tmp_path, ("browse", "rule", "bool", {"when": "views_30d >= 3"}))
    with pytest.raises(InputError, match="features are as of 2024-06-30, not 2024-07-31; compute them as of 2024-07-31"):
        compute_tags(frame, catalog, as_of="2024-07-31")
    with pytest.raises(InputError, match="features carry no as_of: add an as_of column"):
        compute_tags(frame.drop("as_of"), catalog, as_of=AS_OF)
    mixed = frame.with_columns(as_of=pl.Series([AS_OF, dt.date(2024, 5, 31)]))
    with pytest.raises(InputError, match="features mix several as_of dates \\['2024-05-31', '2024-06-30'\\]"):
        compute_tags(mixed, catalog, as_of=AS_OF)
    with pytest.raises(InputError, match="as_of must be a date like '2024-06-30', got '30/06/2024'"):
        compute_tags(frame, catalog, as_of="30/06/2024")


def test_input_errors(tmp_path):
    frame = features(views_30d=[5, 1], city=["上海", "北京"])
    catalog = catalog_of(tmp_path, ("browse", "rule", "bool", {"when": "view_30d >= 3"}))
    with pytest.raises(InputError, match="tag 'browse': unknown column 'view_30d' at position 0 .*did you mean 'views_30d'"):
        compute_tags(frame, catalog, as_of=AS_OF)
    typed = catalog_of(tmp_path, ("shanghai", "rule", "bool", {"when": "city == 3"}))
    with pytest.raises(InputError, match="tag 'shanghai': cannot evaluate \\['city == 3'\\] on the features: .*check the"):
        compute_tags(frame, typed, as_of=AS_OF)
    copy = catalog_of(tmp_path, ("c", "rule", "category", {"column": "citi"}))
    with pytest.raises(InputError, match="features \\(tag 'c'\\): missing columns \\['citi'\\].*did you mean 'city'"):
        compute_tags(frame, copy, as_of=AS_OF)
    with pytest.raises(InputError, match="features have duplicate person_id values"):
        compute_tags(pl.concat([frame, frame]), catalog, as_of=AS_OF)
    with pytest.raises(InputError, match="features: expected a pandas or polars DataFrame, got list"):
        compute_tags([1], catalog, as_of=AS_OF)


def test_wide_pivots_in_catalog_order(tmp_path):
    frame = features(views_30d=[5, 1], orders_30d=[0, 1])
    catalog = catalog_of(tmp_path, ("buyer", "rule", "bool", {"when": "orders_30d > 0"}),
                         ("browse", "rule", "category", {"cases": [{"value": "多", "when": "views_30d > 3"}]}))
    table = wide(compute_tags(frame, catalog, as_of=AS_OF), catalog=catalog)
    assert table.columns == ["person_id", "as_of", "buyer", "browse"]
    assert table.rows() == [("p1", AS_OF, "false", "多"), ("p2", AS_OF, "true", None)]


def default_features(n: int = 12) -> pl.DataFrame:
    """Every FEATURE_COLUMNS column with plausible values, to run the whole default catalog."""
    cols = {}
    for name in FEATURE_COLUMNS:
        if name == "person_id":
            cols[name] = [f"p{i}" for i in range(n)]
        elif name in ("top_category", "top_brand", "price_band", "preferred_channel", "gender", "city", "province",
                      "member_level"):
            cols[name] = [["上海", "low", None][i % 3] for i in range(n)]
        elif name == "consent_marketing":
            cols[name] = [i % 2 == 0 for i in range(n)]
        elif name.endswith("_date"):
            cols[name] = [AS_OF - dt.timedelta(days=i * 20) for i in range(n)]
        else:
            cols[name] = [float(i * 37 % 200) if i % 5 else None for i in range(n)]
    return pl.DataFrame(cols).with_columns(pl.lit(AS_OF).alias("as_of"))


def test_default_catalog_runs_on_features():
    catalog = load_catalog()
    frame = default_features()
    scores = pl.DataFrame({"person_id": frame["person_id"], "churn_probability": [i / 12 for i in range(12)],
                           "clv_365d": [float(i) for i in range(12)], "lookalike_score": [i / 11 for i in range(12)]})
    long = compute_tags(frame, catalog, as_of=AS_OF, model_outputs=scores)
    assert set(long["tag_id"]) <= set(catalog.ids)
    assert values(long, "churn_risk")["p0"] == "低" and values(long, "churn_risk")["p11"] == "高"
    assert isinstance(compute_tags(frame.to_pandas(), catalog, as_of=AS_OF, model_outputs=scores.to_pandas()),
                      pd.DataFrame)


def _sorted(long: pl.DataFrame) -> pl.DataFrame:
    return long.sort("tag_id", "person_id")


def test_the_default_catalog_gives_the_same_tags_on_duckdb_and_stays_lazy():
    duckdb = pytest.importorskip("duckdb")
    frame, catalog = default_features(), load_catalog()
    scores = frame.select("person_id", churn_probability=pl.col("views_30d").fill_null(0) / 200,
                          clv_365d=pl.col("spend_365d"), lookalike_score=pl.col("orders_90d").fill_null(0) / 200)
    expected = compute_tags(frame, catalog, as_of=AS_OF, model_outputs=scores)
    got = compute_tags(duckdb.from_arrow(frame.to_arrow()), catalog, as_of=AS_OF,
                       model_outputs=duckdb.from_arrow(scores.to_arrow()))
    assert type(got).__name__ == "DuckDBPyRelation"
    assert _sorted(got.pl()).equals(_sorted(expected))


def test_the_default_catalog_gives_the_same_tags_on_pyspark(spark):
    frame, catalog = default_features(), load_catalog()
    scores = frame.select("person_id", churn_probability=pl.col("views_30d").fill_null(0) / 200,
                          clv_365d=pl.col("spend_365d"), lookalike_score=pl.col("orders_90d").fill_null(0) / 200)
    expected = compute_tags(frame, catalog, as_of=AS_OF, model_outputs=scores)
    rows = frame.to_pandas()
    for column in ("as_of", *(c for c in frame.columns if c.endswith("_date"))):
        rows[column] = rows[column].dt.date  # Spark DateType, as features built on Spark carry
    got = compute_tags(spark.createDataFrame(rows), catalog, as_of=AS_OF,
                       model_outputs=spark.createDataFrame(scores.to_pandas()))
    assert hasattr(got, "toPandas")  # a Spark DataFrame
    assert _sorted(pl.from_pandas(got.toPandas()).cast(expected.schema)).equals(_sorted(expected))
