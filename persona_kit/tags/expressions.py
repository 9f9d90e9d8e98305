"""A small, safe condition language over feature columns, compiled to polars (or narwhals) expressions.

Tag rules (and, later, audiences) are written as text such as ``views_30d >= 3 and orders_30d == 0``.
The text is tokenized and parsed by hand into a tree of :class:`Node` objects — nothing is passed to
``eval`` and no Python is executed — and the tree is compiled to a :class:`polars.Expr` (or, for code
that runs on any backend such as pyspark, a narwhals expression) against a known set of columns.

Grammar (lowest precedence first; keywords are case-insensitive)::

    expr     := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | test
    test     := atom [ CMP atom | ["not"] "in" list | "is" ["not"] "null" ]
    atom     := NUMBER | STRING | "true" | "false" | "null" | NAME | "(" expr ")"
    list     := "[" [literal ("," literal)*] "]"          literal := NUMBER | STRING | "true" | "false"
    CMP      := ">=" | ">" | "<=" | "<" | "==" | "!="

- ``NUMBER``: ``3``, ``-2``, ``0.5``, ``1e3``.  ``STRING``: ``'高'`` or ``"app"`` (no escapes; use the
  other quote to hold a quote).  ``NAME``: a column — letters (any script), digits and ``_``, not
  starting with a digit (``views_30d``, ``top_category``).
- Comparisons do not chain (``1 < a < 3`` is an error; write ``a > 1 and a < 3``).
- Nulls follow SQL: a comparison with a null is null, ``x in [..]`` is null when ``x`` is null; test
  them with ``is null`` / ``is not null``. (The tag engine counts a null condition as false.)
- Positions in error messages are 0-based character offsets into the text.

Examples
--------
>>> import polars as pl
>>> node = parse("views_30d >= 3 and not (orders_30d > 0)")
>>> sorted(columns_of(node))
['orders_30d', 'views_30d']
>>> frame = pl.DataFrame({"views_30d": [5, 1, 4], "orders_30d": [0, 0, 2]})
>>> frame.select(to_polars(node, frame.columns).alias("hit"))["hit"].to_list()
[True, False, False]
>>> parse("views_30d >= >= 3")
Traceback (most recent call last):
...
persona_kit.errors.InputError: unexpected token '>=' at position 13 in "views_30d >= >= 3"; expected a value
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass

import narwhals as nw
import polars as pl

from persona_kit.errors import InputError, did_you_mean

__all__ = [
    "Node", "Column", "Literal", "Compare", "InList", "IsNull", "Not", "BoolOp",
    "COMPARISONS", "KEYWORDS", "tokenize", "parse", "to_polars", "to_narwhals", "columns_of",
    "compile_condition",
]

COMPARISONS = (">=", ">", "<=", "<", "==", "!=")
KEYWORDS = ("and", "or", "not", "in", "is", "null", "true", "false")

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op>>=|<=|==|!=|>|<|\(|\)|\[|\]|,)
  | (?P<name>[^\W\d]\w*)
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    """One lexical token: ``kind`` is number / string / op / name / keyword / end."""

    kind: str
    text: str
    pos: int


class Node:
    """Base class of the expression tree; every node keeps ``pos``, its offset in the text."""

    pos: int


@dataclass(frozen=True)
class Column(Node):
    name: str
    pos: int = 0


@dataclass(frozen=True)
class Literal(Node):
    value: object  # int | float | str | bool | None
    pos: int = 0


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node
    pos: int = 0


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    values: tuple
    negated: bool = False
    pos: int = 0


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool = False
    pos: int = 0


@dataclass(frozen=True)
class Not(Node):
    operand: Node
    pos: int = 0


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    operands: tuple
    pos: int = 0


def _fail(message: str, text: str) -> InputError:
    return InputError(f'{message} in "{text}"')


def _describe(token: Token) -> str:
    return "end of expression" if token.kind == "end" else f"token {token.text!r}"


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``end`` token.

    >>> [(t.kind, t.text) for t in tokenize("city in ['上海', '北京']")][:4]
    [('name', 'city'), ('keyword', 'in'), ('op', '['), ('string', "'上海'")]
    """
    if not isinstance(text, str):
        raise InputError(f"an expression must be text, got {type(text).__name__} {text!r}")
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "'\"":
                raise _fail(f"unterminated string starting at position {pos}", text)
            raise _fail(f"unexpected character {text[pos]!r} at position {pos}", text)
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "name" and value.lower() in KEYWORDS:
            tokens.append(Token("keyword", value.lower(), pos))
        elif kind != "ws":
            tokens.append(Token(kind, value, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, expected: str) -> InputError:
        token = self.tok
        return InputError(f'unexpected {_describe(token)} at position {token.pos} in "{self.text}"; '
                          f"expected {expected}")

    def is_kw(self, word: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.text == word

    def is_op(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == op

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise InputError(f'empty expression "{self.text}"; write a condition such as "views_30d >= 3"')
        node = self.or_expr()
        if self.tok.kind != "end":
            raise self.error("'and', 'or' or the end of the expression")
        return node

    def or_expr(self) -> Node:
        return self._chain("or", self.and_expr)

    def and_expr(self) -> Node:
        return self._chain("and", self.not_expr)

    def _chain(self, word: str, sub) -> Node:
        first = sub()
        operands = [first]
        while self.is_kw(word):
            self.take()
            operands.append(sub())
        return first if len(operands) == 1 else BoolOp(word, tuple(operands), first.pos)

    def not_expr(self) -> Node:
        if self.is_kw("not"):
            pos = self.take().pos
            return Not(self.not_expr(), pos)
        return self.test()

    def test(self) -> Node:
        left = self.atom()
        if self.tok.kind == "op" and self.tok.text in COMPARISONS:
            op = self.take().text
            right = self.atom()
            if self.tok.kind == "op" and self.tok.text in COMPARISONS:
                raise self.error("'and', 'or' or ')' (comparisons do not chain; join them with 'and')")
            return Compare(op, left, right, left.pos)
        if self.is_kw("in") or (self.is_kw("not") and self.tokens[self.i + 1].text == "in"
                                and self.tokens[self.i + 1].kind == "keyword"):
            negated = self.take().text == "not"
            if negated:
                self.take()
            return InList(left, self.list_(), negated, left.pos)
        if self.is_kw("is"):
            self.take()
            negated = self.is_kw("not")
            if negated:
                self.take()
            if not self.is_kw("null"):
                raise self.error("'null' after 'is' / 'is not'")
            self.take()
            return IsNull(left, negated, left.pos)
        return left

    def atom(self) -> Node:
        token = self.tok
        if token.kind == "op" and token.text == "(":
            self.take()
            node = self.or_expr()
            if not self.is_op(")"):
                raise self.error("')'")
            self.take()
            return node
        if token.kind == "name":
            self.take()
            return Column(token.text, token.pos)
        if token.kind in ("number", "string") or (token.kind == "keyword"
                                                  and token.text in ("true", "false", "null")):
            self.take()
            return Literal(_literal(token), token.pos)
        raise self.error("a value")

    def list_(self) -> tuple:
        if not self.is_op("["):
            raise self.error("'[' to start a list after 'in'")
        start = self.take().pos
        values: list[object] = []
        while not self.is_op("]"):
            token = self.tok
            if not (token.kind in ("number", "string")
                    or (token.kind == "keyword" and token.text in ("true", "false"))):
                raise self.error("a number, a quoted string, true or false in the list")
            values.append(_literal(self.take()))
            if self.is_op(","):
                self.take()
            elif not self.is_op("]"):
                raise self.error("',' or ']'")
        self.take()
        kinds = {_kind(v) for v in values}
        if len(kinds) > 1:
            raise _fail(f"list at position {start} mixes {sorted(kinds)}; use values of one kind", self.text)
        return tuple(values)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "string"


def _literal(token: Token) -> object:
    if token.kind == "string":
        return token.text[1:-1]
    if token.kind == "keyword":
        return {"true": True, "false": False, "null": None}[token.text]
    number = float(token.text)
    return int(number) if re.fullmatch(r"-?\d+", token.text) else number


def parse(text: str) -> Node:
    """Parse a condition into a tree of :class:`Node` objects.

    Parameters
    ----------
    text
        The condition, in the grammar of this module.

    Returns
    -------
    Node

    Raises
    ------
    InputError
        Naming the unexpected token or character and its 0-based position in ``text``.

    Examples
    --------
    >>> parse("a == 1 or b == 2 and c")
    BoolOp(op='or', operands=(Compare(op='==', left=Column(name='a', pos=0), right=Literal(value=1, pos=5), pos=0), \
BoolOp(op='and', operands=(Compare(op='==', left=Column(name='b', pos=10), right=Literal(value=2, pos=15), pos=10), \
Column(name='c', pos=21)), pos=10)), pos=0)
    """
    return _Parser(text).parse()


def columns_of(node: Node) -> set[str]:
    """The column names a tree reads.

    >>> sorted(columns_of(parse("gender == '女' and age is not null")))
    ['age', 'gender']
    """
    if isinstance(node, Column):
        return {node.name}
    if isinstance(node, Compare):
        return columns_of(node.left) | columns_of(node.right)
    if isinstance(node, InList | IsNull | Not):
        return columns_of(node.operand)
    if isinstance(node, BoolOp):
        return set().union(*(columns_of(n) for n in node.operands))
    return set()


def to_polars(node: Node, columns: Iterable[str], *, text: str | None = None) -> pl.Expr:
    """Compile a tree to a polars expression, checking every column against ``columns``.

    Parameters
    ----------
    node
        A tree from :func:`parse`.
    columns
        The known column names (a frame's ``columns`` or a schema's keys).
    text
        The source text, quoted in error messages (default: none).

    Raises
    ------
    InputError
        If a column is unknown, naming the nearest known one.

    Examples
    --------
    >>> to_polars(parse("view_30d > 1"), ["views_30d"], text="view_30d > 1")
    Traceback (most recent call last):
    ...
    persona_kit.errors.InputError: unknown column 'view_30d' at position 0 in "view_30d > 1"; did you mean 'views_30d'?
    """
    _check_known(node, columns, text)
    return _compile(node, pl)


def to_narwhals(node: Node, columns: Iterable[str], *, text: str | None = None) -> nw.Expr:
    """Like :func:`to_polars`, as a narwhals expression (for frames of any backend: polars, pandas, duckdb,
    pyspark).

    >>> import polars as pl, narwhals as nw
    >>> frame = nw.from_native(pl.DataFrame({"city": ["上海", "成都", None]}))
    >>> frame.select(to_narwhals(parse("city in ['上海']"), frame.columns).alias("x"))["x"].to_list()
    [True, False, None]
    """
    _check_known(node, columns, text)
    return _compile(node, nw)


def _check_known(node: Node, columns: Iterable[str], text: str | None) -> None:
    known = list(columns)
    for name, pos in sorted(_column_positions(node), key=lambda p: p[1]):
        if name not in known:
            near = did_you_mean(name, known)
            where = f' in "{text}"' if text is not None else ""
            hint = f"; did you mean {near!r}?" if near else f"; known columns: {sorted(known)}"
            raise InputError(f"unknown column {name!r} at position {pos}{where}{hint}")


def _column_positions(node: Node) -> list[tuple[str, int]]:
    if isinstance(node, Column):
        return [(node.name, node.pos)]
    if isinstance(node, Compare):
        return _column_positions(node.left) + _column_positions(node.right)
    if isinstance(node, InList | IsNull | Not):
        return _column_positions(node.operand)
    if isinstance(node, BoolOp):
        return [p for n in node.operands for p in _column_positions(n)]
    return []


_OPS = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def _compile(node: Node, ns=pl):
    """The expression of ``node`` built with ``ns``: the polars or the narwhals module (same API)."""
    if isinstance(node, Column):
        return ns.col(node.name)
    if isinstance(node, Literal):
        return ns.lit(node.value)
    if isinstance(node, Compare):
        return _OPS[node.op](_compile(node.left, ns), _compile(node.right, ns))
    if isinstance(node, InList):
        operand = _compile(node.operand, ns)
        # one equality per value, or-ed (Kleene): numbers compare across int / float as ``==`` does; a null
        # operand gives null
        hits = [operand == ns.lit(v) for v in node.values]
        hit = functools.reduce(operator.or_, hits) if hits \
            else ns.when(operand.is_null()).then(ns.lit(None, dtype=ns.Boolean)).otherwise(ns.lit(False))
        return ~hit if node.negated else hit
    if isinstance(node, IsNull):
        operand = _compile(node.operand, ns)
        return ~operand.is_null() if node.negated else operand.is_null()
    if isinstance(node, Not):
        return ~_compile(node.operand, ns)
    if isinstance(node, BoolOp):
        parts = [_compile(n, ns) for n in node.operands]
        out = parts[0]
        for part in parts[1:]:
            out = (out & part) if node.op == "and" else (out | part)
        return out
    raise TypeError(f"not an expression node: {node!r}")  # pragma: no cover - internal


def compile_condition(text: str, columns: Iterable[str], *, narwhals: bool = False) -> pl.Expr | nw.Expr:
    """``to_polars(parse(text), columns, text=text)`` in one call (``to_narwhals`` with ``narwhals=True``).

    >>> import polars as pl
    >>> frame = pl.DataFrame({"city": ["上海", "成都", None]})
    >>> frame.select(compile_condition("city in ['上海', '北京']", frame.columns).alias("x"))["x"].to_list()
    [True, False, None]
    """
    return (to_narwhals if narwhals else to_polars)(parse(text), columns, text=text)
