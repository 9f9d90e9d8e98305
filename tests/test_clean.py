"""Step 02 — cleaning: every rule on hand-built frames with known answers, the row accounting as a
property, idempotence, the Online Retail reference numbers and the sample's planted dirty rows."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

from persona_kit import clean
from persona_kit.errors import InputError


@pytest.fixture(params=["pandas", "polars"])
def frame(request):
    def make(data):
        return pd.DataFrame(data) if request.param == "pandas" else pl.DataFrame(data)
    return make


def _phone(values, **kwargs):
    return pl.DataFrame({"p": values}, schema={"p": pl.String}).select(
        clean.normalize_phone(pl.col("p"), **kwargs))["p"].to_list()


@pytest.mark.parametrize("raw", [
    "13800138000", "+86 138 0013 8000", "+86-13800138000", "0086 13800138000", "008613800138000",
    "8613800138000", "86 138 0013 8000", "138-0013-8000", "138.0013.8000", "(+86) 138 0013 8000",
    "１３８００１３８０００", "+８６ １３８－００１３－８０００", "\u3000138 0013 8000 ", "13800138000.0",
    "+8613800138000", "0138 0013 8000",
])
def test_normalize_phone_reaches_e164_from_every_mainland_format(raw):
    assert _phone([raw]) == ["+8613800138000"]


@pytest.mark.parametrize("raw, expected", [
    ("+1 415 555 0132", "+14155550132"),      # another country with a + prefix: kept
    ("0044 20 7946 0958", "+442079460958"),   # ... or with the 00 international prefix
    ("+123", None),                           # too short for any country
    ("010-12345678", None),                   # a mainland landline is not a mobile
    ("+86 10 1234 5678", None),
    ("12800138000", None),                    # 1[3-9] only
    ("1380013800", None),                     # 10 digits
    ("138 0013 8000 ext 1", None),
    ("abc", None), ("", None), ("   ", None), (None, None),
])
def test_normalize_phone_nulls_what_is_not_plausible(raw, expected):
    assert _phone([raw]) == [expected]


def test_normalize_phone_other_country_code_and_integers():
    assert _phone(["020 7946 0958", "+44 (0)20 7946 0958", "12"], country_code="44") == \
        ["+442079460958", "+442079460958", None]
    out = pl.DataFrame({"p": [13800138000, None]}).select(clean.normalize_phone(pl.col("p")))
    assert out.columns == ["p"] and out["p"].to_list() == ["+8613800138000", None]
    with pytest.raises(InputError, match=r"^country_code must be digits only \(e.g. '86'\), got '\+86'$"):
        clean.normalize_phone(pl.col("p"), country_code="+86")


def test_normalize_phone_is_idempotent():
    once = _phone(["0086 13800138000", "+1 415 555 0132", "x"])
    assert _phone(once) == once


@pytest.mark.parametrize("raw, expected", [
    ("  Ada@Example.COM ", "ada@example.com"),
    ("WANG901280@OUTLOOK.COM", "wang901280@outlook.com"),
    ("ｂｏｂ＠ｍａｉｌ．ｃｎ", "bob@mail.cn"),
    ("\u3000a.b+tag@mail.qq.com\u3000", "a.b+tag@mail.qq.com"),
    ("x@y", None), ("x@@y.com", None), ("a b@c.com", None), ("no-at.example.com", None),
    ("  ", None), (None, None),
])
def test_normalize_email(raw, expected):
    out = pl.DataFrame({"e": [raw]}, schema={"e": pl.String}).select(clean.normalize_email(pl.col("e")))
    assert out.columns == ["e"] and out["e"].to_list() == [expected]
    again = out.select(clean.normalize_email(pl.col("e")))["e"].to_list()
    assert again == [expected]
