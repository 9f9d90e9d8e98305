"""Salted hashing, masking, small-cell suppression and the formula guard."""

import hashlib

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persona_kit import privacy
from persona_kit.errors import InputError


def test_salt_comes_from_the_parameter_or_the_environment(monkeypatch):
    monkeypatch.delenv(privacy.SALT_ENV, raising=False)
    with pytest.raises(InputError, match=r"environment variable PERSONA_KIT_SALT must hold a secret of at least "
                                         r"8 characters .*; it was not set"):
        privacy.resolve_salt()
    with pytest.raises(InputError, match=r"the salt parameter must hold .*; it was too short"):
        privacy.resolve_salt("short")
    monkeypatch.setenv(privacy.SALT_ENV, "from-the-env")
    assert privacy.resolve_salt() == "from-the-env"
    assert privacy.resolve_salt("explicit-salt") == "explicit-salt"


def test_pseudonymize_is_a_salted_sha256_of_each_value(frame):
    data = frame({"email": ["ada@example.com", "ada@example.com", None], "city": ["上海", "北京", "广州"]})
    out = privacy.pseudonymize(data, salt="pepper-123")
    expected = "h_" + hashlib.sha256(b"pepper-123\x1fada@example.com").hexdigest()[:20]
    assert list(out["email"])[:2] == [expected, expected]
    assert list(out["email"])[2] is None or pd.isna(list(out["email"])[2])
    assert list(out["city"]) == ["上海", "北京", "广州"]  # not PII: untouched
    assert type(out) is type(data)
    other = privacy.pseudonymize(data, salt="another-salt")
    assert list(other["email"])[0] != expected


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text(), st.sampled_from(["", " ", "张小明", "ﬁ", "a\x1fb", "\x00"])),
                      min_size=1, max_size=30),
       numbers=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=30),
       salt=st.text(min_size=8))
def test_vectorized_hash_equals_hash_value(texts, numbers, salt):
    def reference(values):
        return [None if v is None else privacy.hash_value(str(v), salt) for v in values]
    out = privacy.pseudonymize(pl.DataFrame({"t": texts}, schema={"t": pl.String}), ["t"], salt=salt)
    assert out["t"].to_list() == reference(texts)
    ints = pl.DataFrame({"n": numbers}, schema={"n": pl.Int64})
    assert ints.select(privacy.hash_expr(pl.col("n"), salt))["n"].to_list() == reference(numbers)
    pandas_out = privacy.pseudonymize(pd.DataFrame({"t": texts}, dtype=object), ["t"], salt=salt)["t"]
    assert [None if pd.isna(v) else v for v in pandas_out] == reference(texts)


def test_pseudonymize_hashes_non_text_values_as_their_text():
    # booleans were compared as 'True' against their text 'true' and came out null
    out = privacy.pseudonymize(pl.DataFrame({"flag": [True, None], "n": [7, 8]}), ["flag", "n"], salt="pepper-123")
    assert out.row(0) == (privacy.hash_value("true", "pepper-123"), privacy.hash_value("7", "pepper-123"))
    assert out["flag"][1] is None


def test_pseudonymize_names_missing_columns():
    with pytest.raises(InputError, match=r"cannot pseudonymize missing columns \['phone'\]"):
        privacy.pseudonymize(pl.DataFrame({"email": ["x"]}), ["phone"], salt="pepper-123")


def test_masking_keeps_only_what_a_reader_needs():
    values = pl.Series(["+8613800138000", "Ada.Lovelace@Example.com", "张小明", None, "h_745fecc5059c9de81e99"])
    assert privacy.mask_values(values).to_list()[:4] == ["+86138****8000", "A***@Example.com", "张**", None]
    assert privacy.mask_values(values[4:], "hash").to_list() == ["h_745fec…"]
    spaced = privacy.mask_values(pl.Series(["138 0013 8000", "+86-138-0013-8000"]), "phone").to_list()
    assert spaced == ["138****8000", "+86138****8000"]  # never more than the first 3 and last 4 digits
    with pytest.raises(InputError, match=r"kind must be one of .*got 'ssn'"):
        privacy.mask_values(values, "ssn")


def test_mask_pii_masks_every_pii_column_and_nothing_else(frame):
    data = frame({"phone": ["13800138000"], "email": ["bo@x.cn"], "name": ["王芳"], "city": ["杭州"]})
    out = privacy.mask_pii(data)
    assert type(out) is type(data)
    assert [list(out[c])[0] for c in ["phone", "email", "name", "city"]] == ["138****8000", "b***@x.cn", "王*", "杭州"]


def test_small_groups_are_suppressed(frame):
    data = frame({"segment": ["a", "b", "c"], "persons": [10, 9, 120], "spend": [1.0, 2.0, 3.0]})
    out = pl.from_pandas(privacy.suppress_small_groups(data)) if isinstance(data, pd.DataFrame) else \
        privacy.suppress_small_groups(data)
    assert out["suppressed"].to_list() == [False, True, False]
    assert out["spend"].to_list()[1] is None and out["persons"].to_list() == [10, None, 120]
    with pytest.raises(InputError, match=r"missing column 'n' to suppress small groups"):
        privacy.suppress_small_groups(data, count_col="n")


def test_formula_injection_is_neutralized(frame):
    data = frame({"v": ["=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "safe", "a=b"], "n": [1] * 7})
    out = privacy.neutralize_formulas(data)
    assert list(out["v"]) == ["'=1+1", "'+86 138", "'-2", "'@SUM(A1)", "'\tx", "safe", "a=b"]
    assert list(out["n"]) == [1] * 7


def test_ad_platform_hashes_are_sha256_of_trimmed_lower_case_emails_and_e164_phones():
    emails = privacy.hash_for_ads(pl.Series([" Ada@Example.COM", None, "  "]), "email").to_list()
    assert emails == [hashlib.sha256(b"ada@example.com").hexdigest(), None, None]
    phones = privacy.hash_for_ads(pl.Series(["138 0013-8000", "+86 13800138000", "0086１３８００１３８０００"]),
                                  "phone").to_list()
    assert set(phones) == {hashlib.sha256(b"+8613800138000").hexdigest()}
    assert privacy.normalize_contact("+44 20 7946 0958", "phone") == "+442079460958"
    with pytest.raises(InputError, match=r"kind must be one of \['phone', 'email'\], got 'name'"):
        privacy.normalize_contact("x", "name")


def test_consent_filter_keeps_only_explicit_yes():
    frame = pd.DataFrame({"person_id": ["a", "b", "c"], "consent_marketing": [True, False, None]})
    frame["consent_marketing"] = frame["consent_marketing"].astype("boolean")
    assert privacy.filter_consent(frame)["person_id"].tolist() == ["a"]
    with pytest.raises(InputError, match="missing consent column 'consent'"):
        privacy.filter_consent(pl.DataFrame({"person_id": ["a"]}), consent_col="consent")
    with pytest.raises(InputError, match="must be true / false"):
        privacy.filter_consent(pl.DataFrame({"consent_marketing": ["是"]}))


def test_small_exports_are_refused():
    privacy.check_export_size(10)
    with pytest.raises(InputError, match="holds 9 persons, fewer than min_group_size 10"):
        privacy.check_export_size(9)
