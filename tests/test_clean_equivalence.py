"""Step 02's fast paths give what the plain computations give: each test keeps the straightforward version
(every raw row joined to its typed row, windows over every column…) as the reference."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from persona_kit import clean, schema
from persona_kit.clean.standardize import _date_shape, _shape_counts
from persona_kit.errors import InputError
from persona_kit.io import ROW

ROOT = Path(__file__).parents[1]


def _date_changes_by_join(loaded: schema.LoadedSources, per_column: int = 5) -> pl.DataFrame:
    """Every raw file read whole, mapped, and every row joined to its typed row by position."""
    parts = []
    for cmap in loaded.maps:
        columns = [c for c in dict.fromkeys(cmap.targets) if schema.TABLES[cmap.table][c].dtype in ("date", "datetime")]
        typed = loaded.tables.get(cmap.table)
        if not columns or typed is None:
            continue
        mapped = schema.apply_map(cmap.read_raw(), cmap)
        mine = typed.filter((pl.col("source") == cmap.source) & (pl.col(schema.SOURCE_FILE) == cmap.file.name))
        for column in columns:
            fmt = "%Y-%m-%d" if schema.TABLES[cmap.table][column].dtype == "date" else "%Y-%m-%d %H:%M:%S%:z"
            text = pl.col(column).cast(pl.String)
            pairs = (mapped.select(ROW, before=text, shape=_date_shape(text))
                     .join(mine.select(pl.col(schema.SOURCE_ROW).alias(ROW), after=pl.col(column).dt.to_string(fmt)),
                           on=ROW, how="inner", maintain_order="left")
                     .filter(pl.col("before").is_not_null() & pl.col("after").is_not_null()))
            parts.append(pairs.group_by("shape", maintain_order=True)
                         .agg(rows=pl.len(), before=pl.col("before").first(), after=pl.col("after").first())
                         .sort("rows", descending=True, maintain_order=True).head(per_column)
                         .select(pl.lit(cmap.table).alias("table"), pl.lit(cmap.source).alias("source"),
                                 pl.lit(column).alias("column"), pl.lit("date_parsed").alias("rule"),
                                 pl.col("rows").cast(pl.Int64), "before", "after"))
    return pl.concat(parts)


def test_date_changes_of_the_sample_equal_the_full_join():
    loaded = schema.load_sources(ROOT / "data/sample/maps")
    assert_frame_equal(clean.date_changes(loaded), _date_changes_by_join(loaded))


def test_date_changes_of_many_shapes_blanks_and_bad_rows_equal_the_full_join(tmp_path):
    when = (["2024-01-05"] * 3 + ["2024/1/5", "20240105", "45296"] * 2 + ["２０２４-01-05", "  ", "", "not a date"]
            + ["2024-01-05 09:30:00", "2024-01-05T02:30:00+01:00", "2024/12/25", "2024-1-5"] * 3)
    (tmp_path / "c.csv").write_text("id,when,born\n" + "\n".join(
        f"c{i},{w},{'1990-02-0' + str(i % 9 + 1) if i % 4 else ''}" for i, w in enumerate(when)) + "\n",
        encoding="utf-8")
    (tmp_path / "m.yaml").write_text(
        "source: s\ntable: customers\nfile: c.csv\n"
        "columns: {id: source_customer_id, when: register_ts, born: birth_date}\n"
        'formats:\n  register_ts: ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "excel", "%Y-%m-%d %H:%M:%S",'
        ' "%Y-%m-%dT%H:%M:%S%z"]\n', encoding="utf-8")
    loaded = schema.load_sources([tmp_path / "m.yaml"])
    assert not loaded.quarantine.is_empty()
    for per_column in (1, 3, 20):
        assert_frame_equal(clean.date_changes(loaded, per_column=per_column),
                           _date_changes_by_join(loaded, per_column=per_column))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="0129aZz/-: ０年\n", max_size=6), min_size=1, max_size=40),
       st.integers(1, 5), st.integers(0, 3))
def test_shape_counts_equal_a_group_by_over_every_row(texts, sample, tries):
    pairs = pl.DataFrame({ROW: range(2, len(texts) + 2), "before": texts}, schema={ROW: pl.Int64, "before": pl.String})
    expected = (pairs.group_by(shape=_date_shape(pl.col("before")), maintain_order=True)
                .agg(rows=pl.len(), before=pl.col("before").first(), row=pl.col(ROW).first())
                .with_columns(pl.col("rows").cast(pl.Int64)))
    assert_frame_equal(_shape_counts(pairs, sample=sample, tries=tries), expected)


def _marks_by_windows(frame: pl.DataFrame, ignore=("source_file", "source_row", "line_no")) -> pl.DataFrame:
    """Exact and near copies from two ``min().over(<every content column>)`` windows over every row."""
    content = [c for c in frame.columns if c not in ignore]
    indexed = frame.with_row_index("i")
    std = clean.standardize(indexed.drop("i")).with_row_index("i")
    label = pl.col("source_row") if "source_row" in frame.columns else pl.col("i").cast(pl.Int64) + 1
    position = pl.int_range(pl.len(), dtype=pl.UInt32)
    marks = pl.concat([indexed.select(exact=pl.col("i").min().over(content), label=label),
                       std.select(near=pl.col("i").min().over(content))], how="horizontal").with_columns(
        duplicate=pl.when(pl.col("exact") != position).then(pl.lit("exact_duplicate"))
        .when(pl.col("near") != position).then(pl.lit("near_duplicate")),
        first=pl.when(pl.col("exact") != position).then("exact").otherwise("near"))
    of = marks.select(pl.when(pl.col("duplicate").is_not_null()).then(pl.col("label").gather(pl.col("first"))))
    return frame.with_columns(marks.get_column("duplicate"), of.to_series().alias("duplicate_of"))


_CELLS = {"order_id": st.sampled_from(["A", "A ", " A", "B", None]),
          "phone": st.sampled_from(["13800138000", "138 0013 8000", "+8613800138000", "12", None]),
          "amount": st.sampled_from([199.0, 199.00001, 5.0, -0.0, 0.0, float("nan"), None]),
          "line_no": st.sampled_from([1, 2])}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.fixed_dictionaries(_CELLS), min_size=1, max_size=30), st.booleans(), st.booleans())
def test_mark_duplicates_equals_windows_over_every_row(rows, numbered, given_standardized):
    frame = pl.DataFrame(rows, schema={"order_id": pl.String, "phone": pl.String, "amount": pl.Float64,
                                       "line_no": pl.Int64})
    if numbered:
        frame = frame.with_columns(source_row=pl.int_range(2, pl.len() + 2, dtype=pl.Int64))
    standardized = clean.standardize(frame) if given_standardized else None
    assert_frame_equal(clean.mark_duplicates(frame, standardized=standardized), _marks_by_windows(frame))


def test_mark_duplicates_with_pandas_and_a_wrong_standardized_frame():
    frame = pl.DataFrame({"order_id": ["1", "1", "1 "], "source_row": [2, 3, 4]})
    assert_frame_equal(pl.from_pandas(clean.mark_duplicates(frame.to_pandas())), _marks_by_windows(frame),
                       check_dtypes=False)
    with pytest.raises(InputError, match="^standardized must be standardize"):
        clean.mark_duplicates(frame, standardized=frame.head(2))


def _phone_by_one_expression(expr: pl.Expr, cc: str) -> pl.Expr:
    """normalize_phone as one expression tree (each step re-evaluated wherever it is used)."""
    compact = expr.cast(pl.String).str.normalize("NFKC").str.strip_chars().str.replace(r"\.0$", "").str.replace_all(
        r"[\s\-\.\(\)/]", "")
    intl = compact.str.starts_with("+") | compact.str.starts_with("00")
    digits = compact.str.replace(r"^(\+00|\+|00)", "")
    domestic = (pl.when(intl & digits.str.starts_with(cc)).then(digits.str.slice(len(cc))).when(intl).then(None)
                .when(digits.str.starts_with(cc) & (digits.str.len_chars() == len(cc) + 11) & (cc == "86"))
                .then(digits.str.slice(len(cc))).otherwise(digits))
    trunk = domestic.str.replace(r"^0", "")
    national = (pl.when(trunk.str.contains(r"^1[3-9]\d{9}$")).then(trunk) if cc == "86"
                else pl.when((trunk.str.len_chars() + len(cc)).is_between(8, 15)).then(trunk))
    foreign = pl.when(intl & ~digits.str.starts_with(cc) & digits.str.len_chars().is_between(8, 15)).then(
        pl.lit("+") + digits)
    return pl.when(digits.str.contains(r"^\d+$")).then(pl.coalesce(pl.lit(f"+{cc}") + national, foreign)).cast(pl.String)


_PHONE_PARTS = st.sampled_from(["+", "00", "86", "44", "1", "0", "138", "0013", "8000", "7946", " ", "-", "(", ")",
                                ".0", "１３８", "＋", "a", "٣", "\u3000"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(_PHONE_PARTS, max_size=7).map("".join)), min_size=1, max_size=20),
       st.sampled_from(["86", "44", "1"]))
def test_normalize_phone_equals_the_one_expression_form(values, cc):
    frame = pl.DataFrame({"p": values}, schema={"p": pl.String})
    assert_frame_equal(frame.select(clean.normalize_phone(pl.col("p"), country_code=cc)),
                       frame.select(_phone_by_one_expression(pl.col("p"), cc).alias("p")))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", " a", "a ", "", "  ", "\u3000b", None, "长 文本 text"]),
                          st.sampled_from(["x", "y", None])), min_size=1, max_size=20))
def test_standardize_equals_its_expressions_whether_or_not_it_keeps_a_column(rows):
    from persona_kit.clean.standardize import _standard_exprs
    frame = pl.DataFrame(rows, schema={"name": pl.String, "city": pl.String}, orient="row")
    expected = frame.with_columns(_standard_exprs(frame.schema, country_code="86", money_factors=None,
                                                  money_decimals=4, timezone=None))
    assert_frame_equal(clean.standardize(frame), expected)


def test_clean_releasing_the_loaded_tables_gives_the_same_result():
    kept, released = (schema.load_sources(ROOT / "data/sample/maps") for _ in range(2))
    expected, got = clean.clean(kept), clean.clean(released, release=True)
    assert not released.tables and kept.tables
    for name in expected.tables:
        assert_frame_equal(got.tables[name], expected.tables[name])
    for part in ("quarantine", "non_product", "accounting", "changes"):
        assert_frame_equal(getattr(got, part), getattr(expected, part))
