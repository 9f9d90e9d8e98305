"""Privacy: the salt, salted hashing of PII, masking for display, small-cell suppression, formula guard.

PII columns are declared in :data:`persona_kit.schema.PII_COLUMNS`. The identity step links on
normalized PII, then replaces it with salted hashes; reports show masked values only; any group under
``min_group_size`` is suppressed; exports neutralize spreadsheet formulas.

Examples
--------
>>> import polars as pl
>>> frame = pl.DataFrame({"phone": ["+8613800138000", None], "n": [1, 2]})
>>> pseudonymize(frame, ["phone"], salt="s3cret-salt")["phone"].to_list()
['h_745fecc5059c9de81e99', None]
>>> mask_values(pl.Series(["+8613800138000", "ada@example.com", "张小明"]), "auto").to_list()
['+86138****8000', 'a***@example.com', '张**']
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import narwhals as nw
import polars as pl
import polars_hash  # noqa: F401  (registers the ``chash`` expression namespace)

from persona_kit.errors import InputError
from persona_kit.schema import PII_COLUMNS

__all__ = ["SALT_ENV", "MIN_GROUP_SIZE", "resolve_salt", "hash_value", "hash_expr", "pseudonymize", "mask_kind", "mask_values",
           "mask_pii", "suppress_small_groups", "neutralize_formulas", "normalize_contact", "hash_for_ads",
           "filter_consent", "check_export_size"]

SALT_ENV = "PERSONA_KIT_SALT"
MIN_GROUP_SIZE = 10
_MIN_SALT_LENGTH = 8
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def resolve_salt(salt: str | None = None, *, env: str = SALT_ENV) -> str:
    """Return the hashing salt: ``salt`` if given, else the environment variable ``env``.

    The salt is never written to an artifact or a report.

    Raises
    ------
    InputError
        If neither gives a salt of at least 8 characters.
    """
    value = salt if salt else os.environ.get(env, "")
    if len(value) < _MIN_SALT_LENGTH:
        where = "the salt parameter" if salt else f"environment variable {env}"
        raise InputError(f"{where} must hold a secret of at least {_MIN_SALT_LENGTH} characters "
                         f"(e.g. export {env}=$(openssl rand -hex 16)); it was "
                         f"{'too short' if value else 'not set'}")
    return value


def hash_value(value: str, salt: str) -> str:
    """The salted SHA-256 pseudonym of one value: ``h_`` + 20 hex digits (80 bits).

    >>> hash_value("ada@example.com", "s3cret-salt") == hash_value("ada@example.com", "s3cret-salt")
    True
    """
    return "h_" + hashlib.sha256(f"{salt}\x1f{value}".encode()).hexdigest()[:20]


def hash_expr(expr: pl.Expr, salt: str) -> pl.Expr:
    """:func:`hash_value` as a polars expression over the values' text (``cast(pl.String)``), named like
    ``expr``'s column; null stays null.

    >>> pl.DataFrame({"v": ["ada@example.com", None]}).select(hash_expr(pl.col("v"), "s3cret-salt"))["v"][0] \\
    ...     == hash_value("ada@example.com", "s3cret-salt")
    True
    """
    digest = pl.concat_str(pl.lit(salt + "\x1f"), expr.cast(pl.String)).chash.sha2_256()
    return pl.concat_str(pl.lit("h_"), digest.str.slice(0, 20)).name.keep()


def pseudonymize(frame: Any, columns: Iterable[str] | None = None, *, salt: str) -> Any:
    """Replace the values of ``columns`` (default: every PII column present) by salted hashes.

    Values are hashed as text (:func:`hash_expr`); nulls stay null. pandas or polars in, the same kind out.
    """
    native = nw.from_native(frame, eager_only=True)
    targets = [c for c in (columns if columns is not None else PII_COLUMNS) if c in native.columns]
    missing = [c for c in (columns or []) if c not in native.columns]
    if missing:
        raise InputError(f"cannot pseudonymize missing columns {missing}; available: {native.columns}")
    hashed = [hash_expr(pl.col(c), salt) for c in targets]
    if native.implementation.is_polars():
        return native.to_native().with_columns(hashed)
    values = native.select(targets).to_polars().select(hashed)
    return native.with_columns([nw.new_series(c, values[c].to_numpy(), nw.String, backend=native.implementation)
                                for c in targets]).to_native()


def _mask_one(value: str | None, kind: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if kind == "auto":
        kind = "email" if "@" in text else "phone" if sum(c.isdigit() for c in text) >= 7 else "name"
    if kind == "email":
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "phone":
        text = re.sub(r"[\s\-().]", "", text)  # mask the digits, not the spacing: '138 0013 8000'
        return text[:-8] + "****" + text[-4:] if len(text) > 8 else "*" * len(text)
    if kind == "hash":
        return text[:8] + "…"
    return text[:1] + "*" * max(len(text) - 1, 1)


def mask_kind(column: str) -> str:
    """The mask a PII column or identifier type takes: ``phone``, ``email``, otherwise ``name``.

    >>> [mask_kind(c) for c in ("phone", "email", "wechat_openid")]
    ['phone', 'email', 'name']
    """
    return column if column in ("phone", "email") else "name"


def mask_values(values: pl.Series, kind: str = "auto") -> pl.Series:
    """Mask values for display: phones keep their head and last 4 digits, emails their first letter and
    domain, names their first character. ``kind`` is ``phone``, ``email``, ``name``, ``hash`` or ``auto``.
    """
    if kind not in ("auto", "phone", "email", "name", "hash"):
        raise InputError(f"kind must be one of ['auto', 'phone', 'email', 'name', 'hash'], got {kind!r}")
    return values.cast(pl.String).map_elements(lambda v: _mask_one(v, kind), return_dtype=pl.String)


def mask_pii(frame: Any) -> Any:
    """Mask every PII column of a frame for display in a report (pandas or polars, same kind out)."""
    native = nw.from_native(frame, eager_only=True)
    polars_frame = native.to_polars()
    columns = [c for c in polars_frame.columns if c in PII_COLUMNS]
    masked = polars_frame.with_columns([mask_values(polars_frame[c], mask_kind(c)).alias(c) for c in columns])
    return nw.from_native(masked).to_native() if native.implementation.is_polars() else masked.to_pandas()


def suppress_small_groups(frame: Any, *, count_col: str = "persons", min_group_size: int = MIN_GROUP_SIZE,
                          columns: Iterable[str] | None = None) -> Any:
    """Blank the figures of groups smaller than ``min_group_size`` and mark them ``suppressed``.

    ``columns`` (default: every numeric column) are nulled where ``count_col`` < ``min_group_size``.

    >>> suppress_small_groups(pl.DataFrame({"g": ["a", "b"], "persons": [25, 3], "spend": [9.0, 1.0]})).rows()
    [('a', 25, 9.0, False), ('b', None, None, True)]
    """
    native = nw.from_native(frame, eager_only=True)
    if count_col not in native.columns:
        raise InputError(f"missing column {count_col!r} to suppress small groups; available: {native.columns}")
    small = nw.col(count_col) < min_group_size
    numeric = [c for c, d in native.schema.items() if d.is_numeric()]
    targets = list(columns) if columns is not None else numeric
    return native.with_columns(
        [nw.when(~small).then(nw.col(c)).alias(c) for c in targets] + [small.alias("suppressed")]
    ).to_native()


def neutralize_formulas(frame: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula (``= + - @``, tab, CR) with a quote.

    >>> neutralize_formulas(pl.DataFrame({"name": ['=HYPERLINK("http://x")', "ok", "-3"]}))["name"].to_list()
    ['\\'=HYPERLINK("http://x")', 'ok', "'-3"]
    """
    native = nw.from_native(frame, eager_only=True)
    text = [c for c, d in native.schema.items() if d == nw.String]
    pattern = "^[" + re.escape("".join(_FORMULA_START)) + "]"
    return native.with_columns(
        [nw.when(nw.col(c).str.contains(pattern)).then(nw.concat_str([nw.lit("'"), nw.col(c)]))
         .otherwise(nw.col(c)).alias(c) for c in text]
    ).to_native()


def normalize_contact(value: str | None, kind: str, *, country_code: str = "86") -> str | None:
    """Normalize a phone or email the way ad platforms match them before hashing.

    Emails are trimmed and lower-cased. Phones become E.164 (``+`` country code and digits): full-width
    digits, spaces, dashes and brackets are dropped, a ``00`` prefix becomes ``+``, and a number without a
    country code (no ``+`` / ``00``, and not already ``country_code`` + 11 digits) gets
    ``country_code``. Returns None for an empty value.

    >>> normalize_contact("  Ada@Example.COM ", "email"), normalize_contact("138 0013-8000", "phone")
    ('ada@example.com', '+8613800138000')
    >>> normalize_contact("0086１３８００１３８０００", "phone")
    '+8613800138000'
    """
    if kind not in ("phone", "email"):
        raise InputError(f"kind must be one of ['phone', 'email'], got {kind!r}")
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return None
    if kind == "email":
        return text.lower()
    plus = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None
    if not plus and digits.startswith("00"):
        digits = digits[2:]
    elif not plus and not (digits.startswith(country_code) and len(digits) > 11):
        digits = country_code + digits  # a national number: add the default country code
    return "+" + digits


def hash_for_ads(values: pl.Series, kind: str, *, country_code: str = "86") -> pl.Series:
    """Unsalted SHA-256 (hex) of normalized phones or emails, the format ad platforms accept for
    customer-list matching (Google Customer Match, Meta Custom Audiences, Tencent 广点通 人群包).

    >>> hash_for_ads(pl.Series([" Ada@Example.com"]), "email")[0][:16]
    'b5fc85e55755f9e0'
    """
    return values.cast(pl.String).map_elements(
        lambda v: (lambda n: hashlib.sha256(n.encode()).hexdigest() if n else None)(
            normalize_contact(v, kind, country_code=country_code)), return_dtype=pl.String)


def filter_consent(frame: Any, *, consent_col: str = "consent_marketing") -> Any:
    """Keep only the rows that gave marketing consent (true); false and unknown (null) are dropped.

    >>> filter_consent(pl.DataFrame({"person_id": ["a", "b", "c"], "consent_marketing": [True, False, None]})).rows()
    [('a', True)]
    """
    native = nw.from_native(frame, eager_only=True)
    if consent_col not in native.columns:
        raise InputError(f"missing consent column {consent_col!r}; activation exports need consent; "
                         f"available: {native.columns}")
    if native.schema[consent_col] != nw.Boolean:
        raise InputError(f"consent column {consent_col!r} must be true / false, got {native.schema[consent_col]}",
                         column=consent_col)
    return native.filter(nw.col(consent_col).fill_null(False)).to_native()


def check_export_size(size: int, *, min_group_size: int = MIN_GROUP_SIZE, name: str = "audience") -> None:
    """Refuse an export of fewer than ``min_group_size`` persons (a small list identifies people).

    >>> check_export_size(4, name="vip")
    Traceback (most recent call last):
    ...
    persona_kit.errors.InputError: vip holds 4 persons, fewer than min_group_size 10; refusing to export it
    """
    if size < min_group_size:
        raise InputError(f"{name} holds {size} persons, fewer than min_group_size {min_group_size}; "
                         "refusing to export it")
