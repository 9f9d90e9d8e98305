"""Validation's fast paths give what the plain expressions give: text parsed step by step on distinct values
equals the one-expression form, whatever the text."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from persona_kit.schema import DEFAULT_FORMATS, TABLES
from persona_kit.schema.validation import _FALSE, _FULL_WIDTH, _HALF_WIDTH, _TRUE, _parse_datetime, _typed


def _typed_text_by_one_expression(expr: pl.Expr, dtype: str, tz_out: str, tz_in: str, formats) -> pl.Expr:
    """Text typed by one expression tree (each step re-evaluated wherever it is used)."""
    text = expr.str.strip_chars().str.replace_many(_FULL_WIDTH, _HALF_WIDTH)
    if dtype in ("float", "int"):
        plain = text.str.replace_all(r"[¥￥$£€]|RMB|CNY|元", "").str.strip_chars()
        grouped = plain.str.contains(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
        number = pl.when(grouped).then(plain.str.replace_all(",", "")).otherwise(plain).cast(pl.Float64, strict=False)
        number = pl.when(number.is_finite()).then(number)
        return number if dtype == "float" else pl.when(number == number.round()).then(number.cast(pl.Int64, strict=False))
    if dtype == "bool":
        low = text.str.to_lowercase()
        return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False)
    stamp = _parse_datetime(text, formats or DEFAULT_FORMATS, tz_in, tz_out)
    return stamp.dt.date() if dtype == "date" else stamp


_PIECES = st.sampled_from(["1", "2", "0", "9", "12", "2024", "-", "/", ":", " ", ".", ",", "+", "¥", "元", "RMB", "１",
                           "．", "－", "nan", "inf", "e5", "T", "是", "否", "Yes", "n", "45296", "+08:00", "\u3000"])
_COLUMNS = {"float": TABLES["orders"]["amount"], "int": TABLES["orders"]["line_no"],
            "bool": TABLES["customers"]["consent_marketing"], "date": TABLES["customers"]["birth_date"],
            "datetime": TABLES["orders"]["order_ts"]}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(_PIECES, max_size=8).map("".join)), max_size=25),
       st.sampled_from(sorted(_COLUMNS)),
       st.sampled_from([None, ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d"), ("excel", "%Y-%m-%dT%H:%M:%S%z", "%Y%m%d")]))
def test_parsing_text_step_by_step_equals_the_one_expression_form(values, dtype, formats):
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    col = _COLUMNS[dtype]
    assert col.dtype == dtype
    assert_frame_equal(
        frame.select(_typed(pl.col("v"), pl.String(), col, "Asia/Shanghai", "Europe/London", formats)),
        frame.select(_typed_text_by_one_expression(pl.col("v"), dtype, "Asia/Shanghai", "Europe/London", formats)
                     .alias("v")))


def test_every_kind_of_blank_required_text_is_missing():
    from persona_kit.schema import validate
    ids = ["p1", " ", "\u3000", "\t\n", "", " p2 ", None]
    out = validate(pl.DataFrame({"product_id": ids}), "products")
    blank = [i + 1 for i, v in enumerate(ids) if v is None or not v.strip()]
    assert out.quarantine.filter(pl.col("reason") == "missing_required")["row"].to_list() == blank
    assert out.valid["product_id"].to_list() == ["p1", " p2 "]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["view", "buy", " view", "", "  ", "\u3000", "nope", None]),
                          st.sampled_from(["u1", " u2", "", None])), min_size=1, max_size=15))
def test_coerce_equals_typing_every_column(rows):
    from persona_kit.io import ROW
    from persona_kit.schema.validation import _coerce
    frame = pl.DataFrame(rows, schema={"event_type": pl.String, "source_customer_id": pl.String},
                         orient="row").with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    spec = {n: TABLES["events"][n] for n in ("event_type", "source_customer_id")}
    expected = frame.with_columns(_typed(pl.col(n), pl.String(), c, "Asia/Shanghai", "Asia/Shanghai", None).alias(n)
                                  for n, c in spec.items())
    assert_frame_equal(_coerce(frame, spec, "Asia/Shanghai", "Asia/Shanghai", {})[0], expected)
