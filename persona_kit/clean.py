"""Step 02 — cleaning: standardize, deduplicate, net cancellations, flag outliers, separate fees.

Every expression here is a polars expression or a frame-in / frame-out function; the step's
orchestration (:func:`clean`) keeps a row accounting so that no input row disappears silently.
"""

from __future__ import annotations

import polars as pl

from persona_kit.errors import InputError

__all__ = ["normalize_phone", "normalize_email"]

_SEPARATORS = r"[\s\-\.\(\)/]"
_CN_MOBILE = r"^1[3-9]\d{9}$"
_EMAIL = r"^[a-z0-9!#$%&'*+/=?^_`{|}~.\-]+@([a-z0-9\-]+\.)+[a-z]{2,}$"


def _folded(expr: pl.Expr) -> pl.Expr:
    """Text with full-width forms folded (NFKC: ０-９ → 0-9, ＠ → @, U+3000 → space) and trimmed."""
    return expr.cast(pl.String).str.normalize("NFKC").str.strip_chars()


def normalize_phone(expr: pl.Expr, *, country_code: str = "86") -> pl.Expr:
    """Phone numbers as E.164 text (``+8613800138000``); null when not a plausible number.

    Full-width digits are folded; spaces, dashes, dots, slashes and parentheses are removed; a
    ``+<country_code>``, ``00<country_code>`` or bare ``<country_code>`` prefix is recognised. For
    ``country_code="86"`` the national number must be a mainland mobile (11 digits, ``1[3-9]…``);
    for other codes the full number must have 8–15 digits; a leading trunk ``0`` is dropped.
    Numbers of another country are kept when they carry an international prefix (``+`` or ``00``)
    and 8–15 digits. A float rendering such as ``13800138000.0`` is read as the whole number.
    The result is idempotent: normalizing an E.164 value returns it unchanged.

    Parameters
    ----------
    expr
        A text (or integer) expression.
    country_code
        The default country's calling code, digits only.

    Returns
    -------
    pl.Expr
        A ``String`` expression.

    Examples
    --------
    >>> s = pl.Series(["0086 138-0013-8000", "１３８００１３８０００", "(86)138.0013.8000",
    ...                "+44 20 7946 0958", "12345"])
    >>> s.to_frame("p").select(normalize_phone(pl.col("p")))["p"].to_list()
    ['+8613800138000', '+8613800138000', '+8613800138000', '+442079460958', None]
    """
    if not country_code.isdigit():
        raise InputError(f"country_code must be digits only (e.g. '86'), got {country_code!r}")
    compact = _folded(expr).str.replace(r"\.0$", "").str.replace_all(_SEPARATORS, "")
    intl = compact.str.starts_with("+") | compact.str.starts_with("00")
    digits = compact.str.replace(r"^(\+00|\+|00)", "")
    wellformed = digits.str.contains(r"^\d+$")
    cc = country_code
    domestic = (pl.when(intl & digits.str.starts_with(cc)).then(digits.str.slice(len(cc)))
                .when(intl).then(None)
                .when(digits.str.starts_with(cc) & (digits.str.len_chars() == len(cc) + 11) & (cc == "86"))
                .then(digits.str.slice(len(cc)))
                .otherwise(digits))
    trunk = domestic.str.replace(r"^0", "")  # a trunk prefix: 0138…, +44 (0)20…
    if cc == "86":
        national = pl.when(trunk.str.contains(_CN_MOBILE)).then(trunk)
    else:
        national = pl.when((trunk.str.len_chars() + len(cc)).is_between(8, 15)).then(trunk)
    foreign = pl.when(intl & ~digits.str.starts_with(cc) & digits.str.len_chars().is_between(8, 15)).then(
        pl.lit("+") + digits)
    return (pl.when(wellformed).then(pl.coalesce(pl.lit(f"+{cc}") + national, foreign))
            .otherwise(None).cast(pl.String).name.keep())


def normalize_email(expr: pl.Expr) -> pl.Expr:
    """E-mail addresses trimmed, full-width folded and lower-cased; null unless ``local@domain.tld``.

    Parameters
    ----------
    expr
        A text expression.

    Returns
    -------
    pl.Expr
        A ``String`` expression; normalizing its output again changes nothing.

    Examples
    --------
    >>> s = pl.Series(["  Ada@Example.COM ", "ｂｏｂ＠ｍａｉｌ．ｃｎ", "not-an-email", "  "])
    >>> s.to_frame("e").select(normalize_email(pl.col("e")))["e"].to_list()
    ['ada@example.com', 'bob@mail.cn', None, None]
    """
    text = _folded(expr).str.to_lowercase()
    return pl.when(text.str.contains(_EMAIL)).then(text).otherwise(None).cast(pl.String).name.keep()
