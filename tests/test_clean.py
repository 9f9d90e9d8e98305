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


# --- dates: every format to one timezone-aware type (schema.py parses; `dayfirst:` is a map key) ---------

DATES = {"iso": "2024-01-05", "slashed": "2024/1/5", "compact": "20240105", "ambiguous": "05/01/2024",
         "excel": "45296", "naive_time": "2024-01-05 09:30:00", "zoned": "2024-01-05T02:30:00+01:00"}


def _map(tmp_path, extra: str) -> object:
    from persona_kit import schema
    rows = "\n".join(f"{k},{v}" for k, v in DATES.items())
    (tmp_path / "c.csv").write_text(f"id,when\n{rows}\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text(
        "source: s\ntable: customers\nfile: c.csv\ncolumns: {id: source_customer_id, when: register_ts}\n"
        'formats:\n  register_ts: ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "excel", "%Y-%m-%d %H:%M:%S",'
        ' "%Y-%m-%dT%H:%M:%S%z"]\n' + extra, encoding="utf-8")
    return schema.load_sources([tmp_path / "m.yaml"])


@pytest.mark.parametrize("dayfirst, month", [("true", 1), ("false", 5)])
def test_mixed_date_formats_become_one_zoned_type(tmp_path, dayfirst, month):
    import datetime as dt
    loaded = _map(tmp_path, f"dayfirst: {dayfirst}\n")
    out = dict(loaded.tables["customers"].select("source_customer_id", "register_ts").rows())
    assert loaded.tables["customers"].schema["register_ts"] == pl.Datetime("us", "Asia/Shanghai")
    midnight = {k: out[k].replace(tzinfo=None) for k in ("iso", "slashed", "compact", "excel")}
    assert set(midnight.values()) == {dt.datetime(2024, 1, 5)}
    assert out["ambiguous"].replace(tzinfo=None) == dt.datetime(2024, month, 1 if month == 5 else 5)
    assert out["naive_time"].replace(tzinfo=None) == dt.datetime(2024, 1, 5, 9, 30)
    assert out["zoned"].replace(tzinfo=None) == dt.datetime(2024, 1, 5, 9, 30)  # 01:30 UTC = 09:30 +08
    assert loaded.quarantine.is_empty() and loaded.maps[0].dayfirst is (dayfirst == "true")


def test_without_dayfirst_an_ambiguous_date_is_quarantined(tmp_path):
    loaded = _map(tmp_path, "")
    assert loaded.quarantine.select("row", "reason").rows() == [(5, "unparseable_datetime")]
    with pytest.raises(InputError, match=r"^m.yaml: `dayfirst:` must be true or false, got 'yes please'$"):
        _map(tmp_path, "dayfirst: yes please\n")
