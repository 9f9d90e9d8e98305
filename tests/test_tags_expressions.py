"""The condition language: parsing, precedence, nulls, zh strings, and every error message."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persona_kit.errors import InputError
from persona_kit.tags.expressions import (
    BoolOp,
    Column,
    Compare,
    InList,
    IsNull,
    Literal,
    Not,
    columns_of,
    compile_condition,
    parse,
    tokenize,
)

FRAME = pl.DataFrame({
    "views_30d": [5, 1, 4, None],
    "orders_30d": [0, 0, 2, 0],
    "city": ["上海", "成都", None, "北京"],
    "consent": [True, False, None, True],
    "score": [0.5, -1.0, 2.0, None],
})


def evaluate(text: str) -> list:
    return FRAME.select(compile_condition(text, FRAME.columns).alias("r"))["r"].to_list()


def test_literals_and_columns():
    assert parse("views_30d") == Column("views_30d", 0)
    assert parse("3") == Literal(3, 0)
    assert parse("-2.5") == Literal(-2.5, 0)
    assert parse("1e3") == Literal(1000.0, 0)
    assert parse("'高'") == Literal("高", 0)
    assert parse('"it\'s"') == Literal("it's", 0)
    assert parse("TRUE") == Literal(True, 0)
    assert parse("null") == Literal(None, 0)


def test_and_binds_tighter_than_or_and_not_tighter_than_and():
    node = parse("a or b and not c")
    assert node == BoolOp("or", (Column("a", 0), BoolOp("and", (Column("b", 5), Not(Column("c", 15), 11)), 5)), 0)


def test_parentheses_override_precedence():
    node = parse("(a or b) and c")
    assert isinstance(node, BoolOp) and node.op == "and"
    assert node.operands[0] == BoolOp("or", (Column("a", 1), Column("b", 6)), 1)


def test_in_not_in_and_null_tests_parse():
    assert parse("city in ['上海', '北京']") == InList(Column("city", 0), ("上海", "北京"), False, 0)
    assert parse("city not in []") == InList(Column("city", 0), (), True, 0)
    assert parse("age is null") == IsNull(Column("age", 0), False, 0)
    assert parse("age is not null") == IsNull(Column("age", 0), True, 0)
    assert parse("a >= 1") == Compare(">=", Column("a", 0), Literal(1, 5), 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("views_30d >= 3 and orders_30d == 0", [True, False, False, None]),
    ("views_30d >= 3 or orders_30d > 0", [True, False, True, None]),
    ("not (views_30d > 3)", [False, True, False, None]),
    ("views_30d is null", [False, False, False, True]),
    ("views_30d is not null and city is not null", [True, True, False, False]),
    ("city in ['上海', '北京']", [True, False, None, True]),
    ("city not in ['上海']", [False, True, None, True]),
    ("city == '成都'", [False, True, None, False]),
    ("consent", [True, False, None, True]),
    ("consent == true", [True, False, None, True]),
    ("not consent", [False, True, None, False]),
    ("score < 0 or score > 1", [False, True, True, None]),
    ("score in [0.5, 2]", [True, False, True, None]),
    ("views_30d in [1, 4.0]", [False, True, True, None]),
    ("views_30d > orders_30d", [True, True, True, None]),
])
def test_evaluation(text, expected):
    assert evaluate(text) == expected


def test_columns_of():
    assert columns_of(parse("a > 1 and (b in [1] or not c is null)")) == {"a", "b", "c"}
    assert columns_of(parse("1 == 1")) == set()


def test_tokenize_positions():
    assert [(t.kind, t.pos) for t in tokenize("a>=1")] == [("name", 0), ("op", 1), ("number", 3), ("end", 4)]


@pytest.mark.parametrize(("text", "message"), [
    ("views_30d >= >= 3",
     "unexpected token '>=' at position 13 in \"views_30d >= >= 3\"; expected a value"),
    ("views_30d >=", "unexpected end of expression at position 12 in \"views_30d >=\"; expected a value"),
    ("a > 1 b", "unexpected token 'b' at position 6 in \"a > 1 b\"; expected 'and', 'or' or the end"),
    ("(a > 1", "unexpected end of expression at position 6 in \"\\(a > 1\"; expected '\\)'"),
    ("a > 1)", "unexpected token '\\)' at position 5"),
    ("1 < a < 3", "unexpected token '<' at position 6 .*comparisons do not chain"),
    ("a in 3", "unexpected token '3' at position 5 .*expected '\\[' to start a list after 'in'"),
    ("a in [b]", "unexpected token 'b' at position 6 .*expected a number, a quoted string, true or false"),
    ("a in [1 2]", "unexpected token '2' at position 8 .*expected ',' or '\\]'"),
    ("a in [1, 'x']", "list at position 5 mixes \\['number', 'string'\\]; use values of one kind"),
    ("a is 3", "unexpected token '3' at position 5 .*expected 'null' after 'is'"),
    ("a $ 3", "unexpected character '\\$' at position 2 in \"a \\$ 3\""),
    ("a == '上海", "unterminated string starting at position 5"),
    ("a = 3", "unexpected character '=' at position 2"),
    ("", 'empty expression ""; write a condition'),
    ("   ", 'empty expression "   "'),
    ("and", "unexpected token 'and' at position 0 .*expected a value"),
])
def test_parse_errors(text, message):
    with pytest.raises(InputError, match=message):
        parse(text)


def test_not_text():
    with pytest.raises(InputError, match="an expression must be text, got int 3"):
        parse(3)


def test_unknown_column_names_the_nearest():
    with pytest.raises(InputError, match="unknown column 'view_30d' at position 0 in \"view_30d > 1\"; "
                                         "did you mean 'views_30d'\\?"):
        compile_condition("view_30d > 1", FRAME.columns)


def test_unknown_column_without_near_name_lists_columns():
    with pytest.raises(InputError, match="unknown column 'zzz' at position 12 .*known columns: \\['city'"):
        compile_condition("city > 1 or zzz", FRAME.columns)


TOKENS = st.sampled_from(["a", "b_1", "(", ")", "[", "]", ",", ">=", ">", "<", "==", "!=", "and", "or", "not",
                          "in", "is", "null", "true", "false", "3", "-1.5", "'上海'", '"x"', "'", "=", "$", " "])


@settings(max_examples=300, deadline=None)
@given(st.lists(TOKENS, max_size=12))
def test_token_soup_raises_only_input_error(tokens):
    text = " ".join(tokens)
    try:
        node = parse(text)
    except InputError:
        return
    compile_condition(text, ["a", "b_1"])  # compiling a parsed tree never fails on known columns
    assert node is not None
