"""Tests for persona_kit.models.interests: decay arithmetic, shares, no leakage, tags, the sample's personas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from persona_kit.errors import InputError
from persona_kit.models import DEFAULT_TYPE_WEIGHTS, interest_scores, interest_tags, interest_wide, interests

ROOT = Path(__file__).resolve().parents[1]
D = dt.datetime
AS_OF = "2024-06-30"  # rows are aged from 2024-07-01 00:00

EVENTS = {
    "person_id": ["a", "a", "a", "a", "b", "b", "a"],
    "event_type": ["view", "cart", "fav", "buy", "exposure", "view", "cart"],
    "category": ["护肤", "香水", "护肤", "彩妆", "香水", None, "彩妆"],
    "event_ts": [D(2024, 6, 1), D(2024, 5, 2), D(2024, 6, 30, 12), D(2024, 6, 1), D(2024, 6, 30), D(2024, 6, 30),
                 D(2024, 7, 1)],
}
ORDERS = {"person_id": ["a", "c"], "category": ["彩妆", "护肤"], "order_ts": [D(2024, 5, 2), D(2024, 7, 2)]}


def _pl(out) -> pl.DataFrame:
    return out if isinstance(out, pl.DataFrame) else pl.from_pandas(out)


def _scores(out) -> dict:
    return {(p, c): s for p, c, s in _pl(out).select("person_id", "category", "score").iter_rows()}


def test_decayed_weights_known_answers(frame):
    out = interest_scores(frame(EVENTS), as_of=AS_OF, half_life_days=30)
    s = _scores(out)
    fav = 3 * 0.5 ** (0.5 / 30)
    assert s[("a", "护肤")] == pytest.approx(1 * 0.5 + fav)  # view 30 days old + fav half a day old
    assert s[("a", "香水")] == pytest.approx(4 * 0.25)  # cart two half-lives old
    assert s[("a", "彩妆")] == pytest.approx(6 * 0.5)  # a buy event; the 07-01 cart is after as_of
    assert ("b", "香水") not in s  # exposures weigh 0 and b's view has no category: b has no interest
    df = _pl(out)
    assert df.group_by("person_id").agg(pl.col("share").sum())["share"].to_list() == pytest.approx([1.0])
    a = df.filter(pl.col("person_id") == "a")
    assert a["category"].to_list() == ["护肤", "彩妆", "香水"] and a["affinity"][0] == 1.0
    assert a["affinity"].to_list() == pytest.approx([1, 3 / (0.5 + fav), 1 / (0.5 + fav)])


def test_orders_replace_buy_events_and_nothing_after_as_of_counts(frame):
    out = _scores(interest_scores(frame(EVENTS), frame(ORDERS), as_of=AS_OF, half_life_days=30))
    assert out[("a", "彩妆")] == pytest.approx(6 * 0.25)  # the order line (60 days), not the buy event
    assert ("c", "护肤") not in out  # c's only order is after as_of
    later = {k: v + [v[-1]] for k, v in EVENTS.items()}
    later["event_ts"][-1] = D(2030, 1, 1)
    assert _scores(interest_scores(frame(later), as_of=AS_OF)) == _scores(interest_scores(frame(EVENTS), as_of=AS_OF))


def test_half_life_and_weights_change_the_ranking():
    ev = pl.DataFrame(EVENTS)
    slow = _pl(interest_scores(ev, as_of=AS_OF, half_life_days=1000)).filter(pl.col("person_id") == "a")
    assert slow["category"][0] == "彩妆"  # with little decay the buy (6) beats view + fav (4)
    flat = interest_scores(ev, as_of=AS_OF, type_weights={"view": 1.0}, half_life_days=30)
    assert _scores(flat) == pytest.approx({("a", "护肤"): 0.5})
    assert DEFAULT_TYPE_WEIGHTS["buy"] > DEFAULT_TYPE_WEIGHTS["cart"] > DEFAULT_TYPE_WEIGHTS["fav"] > 1


def test_tags_and_wide(frame):
    scores = interest_scores(frame(EVENTS), as_of=AS_OF, half_life_days=30)
    tags = _pl(interest_tags(scores, top_n=4))
    assert tags.rows() == [("a", "护肤", "彩妆", "香水", None)]
    assert _pl(interest_tags(scores, top_n=3, min_share=0.2)).row(0) == ("a", "护肤", "彩妆", None)
    wide = _pl(interest_wide(scores, value="affinity"))
    assert wide.columns == ["person_id", "interest_彩妆", "interest_护肤", "interest_香水"]
    assert wide["interest_护肤"].to_list() == [1.0]
    both = _pl(interests(frame(EVENTS), as_of=AS_OF, top_n=2))
    assert both.columns == ["person_id", "interest_top1", "interest_top2", "interest_彩妆", "interest_护肤",
                            "interest_香水"]
    assert sum(both.row(0)[3:]) == pytest.approx(1.0)


def test_lazy_in_lazy_out():
    out = interest_scores(pl.LazyFrame(EVENTS), as_of=AS_OF)
    assert isinstance(out, pl.LazyFrame)
    assert isinstance(interest_tags(out), pl.LazyFrame) and isinstance(interest_wide(out), pl.LazyFrame)


def test_errors(frame):
    ev = frame(EVENTS)
    with pytest.raises(InputError, match=r"^interest_scores needs events or purchases$"):
        interest_scores(as_of=AS_OF)
    with pytest.raises(InputError, match=r"^half_life_days must be a positive number of days, got 0$"):
        interest_scores(ev, as_of=AS_OF, half_life_days=0)
    with pytest.raises(InputError, match=r"^type_weights must be non-negative numbers, got \{'view': -1\}$"):
        interest_scores(ev, as_of=AS_OF, type_weights={"view": -1})
    with pytest.raises(InputError, match=r"^as_of must be a date 'YYYY-MM-DD', got '2024-13-01'$"):
        interest_scores(ev, as_of="2024-13-01")
    with pytest.raises(InputError, match=r"^events: missing columns \['category'\]; available: "):
        interest_scores(frame({k: v for k, v in EVENTS.items() if k != "category"}), as_of=AS_OF)
    scores = interest_scores(ev, as_of=AS_OF)
    with pytest.raises(InputError, match=r"^top_n must be a whole number >= 1, got 0$"):
        interest_tags(scores, top_n=0)
    with pytest.raises(InputError, match=r"^min_share must be in \[0, 1\), got 1$"):
        interest_tags(scores, min_share=1)
    with pytest.raises(InputError, match=r"^value must be one of \['share', 'affinity', 'score'\], got 'rank'$"):
        interest_wide(scores, value="rank")
    with pytest.raises(InputError, match=r"^events and purchases must be the same kind of frame"):
        interest_scores(pl.DataFrame(EVENTS), pl.DataFrame(ORDERS).to_pandas(), as_of=AS_OF)


def test_sample_personas_show_their_planted_interests():
    from persona_kit import clean, schema

    tables = clean.clean(schema.load_sources(ROOT / "data/sample/maps")).tables
    truth = pl.read_parquet(ROOT / "data/sample/truth/records.parquet").select(
        "source", "source_customer_id", "person_key", "persona")
    keyed = {n: tables[n].join(truth, on=["source", "source_customer_id"]) for n in ("events", "orders")}
    purchases = clean.netted_purchases(tables["orders"]).join(truth, on=["source", "source_customer_id"])
    tags = interests(keyed["events"], purchases, as_of="2026-06-30", person_col="person_key", top_n=1)
    persona = truth.unique("person_key").select("person_key", "persona")
    top = (tags.join(persona, on="person_key").group_by("persona", "interest_top1").len()
           .sort("len", descending=True).unique("persona", keep="first"))
    got = dict(top.select("persona", "interest_top1").iter_rows())
    assert got["luxury_fragrance"] == "香水" and got["skincare_loyalist"] == "护肤"
    assert got["makeup_trend"] == "彩妆"
    sums = tags.select(pl.sum_horizontal(pl.exclude("person_key", "interest_top1")))[:, 0]
    assert sums.to_list() == pytest.approx([1.0] * tags.height)
