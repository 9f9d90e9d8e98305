"""Paths and attribution: sessions, paths, flows, funnels, time to convert, rule-based credit on hand-built
journeys, Markov removal effects on the textbook example, and the planted channel effect of the sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from persona_kit import journeys as jr
from persona_kit.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SALT = "synthetic-sample-salt-not-a-secret"


def _ts(day: int, minute: int = 0, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 1, day, hour, minute)


def _native(frame, df: pl.DataFrame):
    return df.to_pandas() if frame.__name__ == "DataFrame" and frame.__module__.startswith("pandas") else df


# --- sessions, paths, flows ------------------------------------------------------------------------------

def _pv_log() -> pl.DataFrame:
    """A log with only pv / fav / cart / buy (the Taobao user-behaviour shape)."""
    rows = [  # person, day, minute, type
        ("a", 1, 0, "pv"), ("a", 1, 1, "pv"), ("a", 1, 2, "cart"), ("a", 1, 3, "buy"),
        ("a", 3, 0, "pv"), ("a", 3, 5, "fav"),
        ("b", 1, 0, "pv"), ("b", 1, 1, "fav"), ("b", 1, 2, "cart"), ("b", 2, 0, "buy"),
        ("c", 1, 0, "pv"), ("c", 1, 1, "cart"), ("c", 9, 0, "buy"),
        ("d", 1, 0, "cart"), ("d", 1, 1, "pv"),
    ]
    return pl.DataFrame({"person_id": [r[0] for r in rows], "event_ts": [_ts(r[1], r[2]) for r in rows],
                         "event_type": [r[3] for r in rows]})


def test_sessionize_cuts_at_the_gap_and_keeps_the_frame_kind(frame):
    log = _native(frame, _pv_log())
    out = jr.sessionize(log, gap_minutes=30)
    assert type(out) is type(log)
    got = pl.from_pandas(out) if not isinstance(out, pl.DataFrame) else out
    assert got.filter(pl.col("person_id") == "a")["session_no"].to_list() == [1, 1, 1, 1, 2, 2]
    assert got.group_by("person_id").agg(pl.col("session_no").max()).sort("person_id")["session_no"].to_list() \
        == [2, 2, 2, 1]
    lazy = jr.sessionize(_pv_log().lazy())
    assert isinstance(lazy, pl.LazyFrame)
    with pytest.raises(InputError, match="gap_minutes must be a positive number"):
        jr.sessionize(_pv_log(), gap_minutes=0)
    with pytest.raises(InputError, match=r"missing columns \['event_ts'\]"):
        jr.sessionize(_pv_log().rename({"event_ts": "ts"}))


def test_top_paths_before_purchase_per_session_and_per_person():
    log = _pv_log()
    per_session = jr.top_paths(log, target="buy", steps=3)
    # sessions: a1 pv,cart→buy; a3 pv,fav; b1 pv,fav,cart; b2 (buy only: no step before it); c1 pv,cart;
    # c9 buy only; d1 cart,pv
    assert per_session.select("path", "sessions", "purchases").rows() == [
        ("pv → cart", 2, 1), ("cart → pv", 1, 0), ("pv → fav", 1, 0), ("pv → fav → cart", 1, 0)]
    assert per_session["purchase_rate"][0] == 0.5
    assert jr.top_paths(log, steps=3, n=2).height == 2 and jr.top_paths(log, steps=3, n=None).height == 4
    per_person = jr.top_paths(log, target="buy", unit="person", steps=2)
    # a: pv, cart (bought); b: fav, cart (bought); c: pv, cart (bought); d: cart, pv
    assert per_person.select("path", "persons", "purchases").rows() == [
        ("pv → cart", 2, 2), ("fav → cart", 1, 1), ("cart → pv", 1, 0)]
    assert per_person["outcome_share"].to_list() == pytest.approx([2 / 3, 1 / 3, 0.0])


def test_top_paths_before_churn():
    log = _pv_log()
    out = jr.top_paths(log, outcome="churn", as_of="2026-01-10", churn_days=5, steps=2)
    # cut-off 2026-01-05 10:00: a (last event day 3), b (day 2), d (day 1) are silent after it; c buys on day 9
    assert out.select("path", "persons", "churned").sort("path").rows() == [
        ("buy", 1, 1), ("cart → pv", 1, 1), ("pv → cart", 1, 0), ("pv → fav", 1, 1)]
    with pytest.raises(InputError, match="needs as_of"):
        jr.top_paths(log, outcome="churn")
    with pytest.raises(InputError, match="outcome must be one of"):
        jr.top_paths(log, outcome="buy")


def test_flow_links_follow_sessions_from_the_start_event():
    out = jr.flow_links(_pv_log(), start="pv", steps=3)
    links = {(s, a, b): n for s, a, b, n in out.rows()}
    # from the first pv of each session: a1 pv,cart,buy · a3 pv,fav · b1 pv,fav,cart · c1 pv,cart · d1 pv
    assert links == {(1, "pv", "cart"): 2, (1, "pv", "fav"): 2, (1, "pv", "(exit)"): 1,
                     (2, "cart", "buy"): 1, (2, "cart", "(exit)"): 1, (2, "fav", "cart"): 1,
                     (2, "fav", "(exit)"): 1}
    tie = pl.DataFrame({"person_id": ["a"] * 3, "event_type": ["view", "exposure", "click"],
                        "event_ts": [_ts(1), _ts(1), _ts(1, 1)]})
    # an event at the same second as the start event never becomes step 1
    assert set(jr.flow_links(tie, start="exposure", steps=2)["node"]) == {"exposure"}
    other = jr.flow_links(_pv_log(), start="pv", steps=2, top=1)
    assert set(other["next_node"]) == {"(other)", "(exit)"}


def test_time_to_convert_and_second_purchase():
    out = jr.time_to_convert(_pv_log(), start="pv", target="buy")
    assert dict(out.select("person_id", "hours").rows()) == {"a": pytest.approx(3 / 60), "b": 24.0,
                                                            "c": 8 * 24.0, "d": None}
    first_is_buy = pl.DataFrame({"person_id": ["z", "z"], "event_type": ["buy", "buy"], "event_ts": [_ts(1), _ts(2)]})
    assert jr.time_to_convert(first_is_buy)["hours"].to_list() == [0.0]
    buys = pl.DataFrame({"person_id": ["x", "x", "x", "y"], "event_type": ["buy"] * 4,
                         "event_ts": [_ts(1), _ts(4), _ts(9), _ts(2)]})
    again = jr.time_to_convert(buys, start="buy", target="buy")
    assert again["hours"].to_list() == [72.0, None]


# --- funnels ---------------------------------------------------------------------------------------------

def test_funnel_loose_and_strict_with_window(frame):
    log = _native(frame, _pv_log())
    loose = jr.funnel(log, ["pv", "cart", "buy"], mode="loose", window_hours=48)
    got = loose if isinstance(loose, pl.DataFrame) else pl.from_pandas(loose)
    # pv: a b c d; then cart: a b c (d's cart came before its pv); then buy within 48 h: a b (c buys on day 9)
    assert got.select("funnel_step", "persons", "drop_off").rows() == [("pv", 4, 0), ("cart", 3, 1), ("buy", 2, 1)]
    assert got["step_conversion"].to_list() == pytest.approx([1.0, 0.75, 2 / 3])
    assert got["overall_conversion"].to_list() == pytest.approx([1.0, 0.75, 0.5])
    strict = jr.funnel(_pv_log(), ["pv", "cart", "buy"], mode="strict", window_hours=48)
    # strict: a pv,pv,cart,buy → collapsed pv,cart,buy ✓; b pv,fav,cart ✗ at cart; c pv,cart ✓, buy too late
    assert strict["persons"].to_list() == [4, 2, 1]
    # a's last event (fav) is followed in the frame by b's first (pv): another person, not a next step
    assert jr.funnel(_pv_log(), ["fav", "pv"], mode="strict", window_hours=24 * 30)["persons"].to_list() == [2, 0]
    wide = jr.funnel(_pv_log(), ["pv", "cart", "buy"], window_hours=24 * 30)
    assert wide["persons"].to_list() == [4, 3, 3]


def test_funnel_repeated_steps_and_segments():
    buys = pl.DataFrame({"person_id": ["x", "x", "x", "y", "y", "z"], "event_type": ["buy"] * 6,
                         "event_ts": [_ts(1), _ts(4), _ts(9), _ts(2), _ts(3), _ts(2)]})
    assert jr.funnel(buys, ["buy", "buy", "buy"], window_hours=24 * 30)["persons"].to_list() == [3, 2, 1]
    seg = pl.DataFrame({"person_id": ["x", "y", "z"], "tier": ["gold", "gold", "basic"]})
    out = jr.funnel(buys, ["buy", "buy"], window_hours=24 * 30, segments=seg, segment_col="tier")
    assert out.select("tier", "step_no", "persons").rows() == [
        ("basic", 1, 1), ("basic", 2, 0), ("gold", 1, 2), ("gold", 2, 2)]
    with pytest.raises(InputError, match="at least 2 steps"):
        jr.funnel(buys, ["buy"])
    with pytest.raises(InputError, match="give segment_col"):
        jr.funnel(buys, ["buy", "buy"], segments=seg)
    with pytest.raises(InputError, match="mode must be one of"):
        jr.funnel(buys, ["buy", "buy"], mode="any")


# --- journeys and rule-based attribution -----------------------------------------------------------------

def _journeys() -> pl.DataFrame:
    """J1: A (day 1), B (day 5), C (day 8) → converts day 10 for 100; J2: B → day 10 for 50;
    J3: A, C → day 10 for 10; J4: D, never converts."""
    touches = pl.DataFrame({
        "person_id": ["p1", "p1", "p1", "p2", "p3", "p3", "p4"],
        "touch_ts": [_ts(1), _ts(5), _ts(8), _ts(9), _ts(3), _ts(6), _ts(2)],
        "channel": ["A", "B", "C", "B", "A", "C", "D"],
        "campaign": [None, "Q1:coupon", None, None, None, None, None]})
    conv = pl.DataFrame({"person_id": ["p1", "p2", "p3"], "conversion_ts": [_ts(10)] * 3,
                         "revenue": [100.0, 50.0, 10.0]})
    return jr.build_journeys(touches, conv, lookback_days=30)


def _credit(model: str, **kw) -> dict[str, tuple[float, float]]:
    out = jr.attribute(_journeys(), model=model, **kw)
    return {c: (n, r) for c, _, n, r in out.rows()}


def test_build_journeys_windows_and_positions():
    j = _journeys()
    assert j.filter(pl.col("converted"))["journey_id"].n_unique() == 3
    assert j.filter(pl.col("person_id") == "p1")["position"].to_list() == [1, 2, 3]
    assert j.filter(~pl.col("converted"))["channel"].to_list() == ["D"]
    touches = pl.DataFrame({"person_id": ["p"] * 4, "touch_ts": [_ts(1), _ts(2), _ts(20), _ts(22)],
                            "channel": ["A", "B", "C", "D"]})
    conv = pl.DataFrame({"person_id": ["p", "p"], "conversion_ts": [_ts(3), _ts(21)], "revenue": [1.0, 2.0]})
    short = jr.build_journeys(touches, conv, lookback_days=7)
    # A, B → conversion 1; C → conversion 2; D after the last conversion leads nowhere
    assert short.group_by("journey_id").agg("channel", "converted").sort("journey_id").select(
        pl.col("channel").list.join(","), pl.col("converted").list.first()).rows() == [
        ("A,B", True), ("C", True), ("D", False)]
    far = jr.build_journeys(touches.with_columns(touch_ts=pl.Series([_ts(1), _ts(2), _ts(5), _ts(22)])),
                            conv.head(0), lookback_days=7)
    # no conversions: touches more than 7 days apart start a new non-converting journey
    assert far["journey_id"].n_unique() == 2 and not far["converted"].any()


def test_first_and_last_touch():
    # channels of converting journeys that get no credit are listed with 0, so models line up side by side
    assert _credit("first") == {"A": (2.0, 110.0), "B": (1.0, 50.0), "C": (0.0, 0.0)}
    assert _credit("last") == {"C": (2.0, 110.0), "B": (1.0, 50.0), "A": (0.0, 0.0)}


def test_linear_credit():
    got = _credit("linear")
    assert got["A"] == pytest.approx((1 / 3 + 1 / 2, 100 / 3 + 5))
    assert got["B"] == pytest.approx((1 / 3 + 1, 100 / 3 + 50))
    assert got["C"] == pytest.approx((1 / 3 + 1 / 2, 100 / 3 + 5))
    assert "D" not in got and sum(n for n, _ in got.values()) == pytest.approx(3)


def test_time_decay_credit_by_half_life():
    # J1 ages 9, 5, 2 days; J3 ages 7, 4 days; weight 2^(-age / 7), normalized per journey
    w1 = np.array([2 ** (-9 / 7), 2 ** (-5 / 7), 2 ** (-2 / 7)])
    w1 = w1 / w1.sum()
    w3 = np.array([2 ** (-7 / 7), 2 ** (-4 / 7)])
    w3 = w3 / w3.sum()
    got = _credit("time_decay", half_life_days=7)
    assert got["A"] == pytest.approx((w1[0] + w3[0], 100 * w1[0] + 10 * w3[0]))
    assert got["B"] == pytest.approx((w1[1] + 1, 100 * w1[1] + 50))
    assert got["C"] == pytest.approx((w1[2] + w3[1], 100 * w1[2] + 10 * w3[1]))
    # a shorter half-life gives the touch nearest the conversion more
    assert _credit("time_decay", half_life_days=1)["C"][0] > got["C"][0]


def test_position_based_credit():
    got = _credit("position")
    assert got["A"] == pytest.approx((0.4 + 0.5, 40 + 5))
    assert got["B"] == pytest.approx((0.2 + 1, 20 + 50))
    assert got["C"] == pytest.approx((0.4 + 0.5, 40 + 5))
    skew = _credit("position", first_weight=0.6, last_weight=0.2)
    assert skew["A"][0] == pytest.approx(0.6 + 0.75) and skew["C"][0] == pytest.approx(0.2 + 0.25)
    with pytest.raises(InputError, match="sum to at most 1"):
        jr.attribute(_journeys(), model="position", first_weight=0.8, last_weight=0.4)


def test_credit_per_campaign_and_per_touch():
    by_campaign = dict(jr.attribute(_journeys(), model="linear", by="campaign").select("campaign", "credited_conversions").rows())
    assert by_campaign == pytest.approx({"(none)": 3 - 1 / 3, "Q1:coupon": 1 / 3})
    by_touch = dict(jr.attribute(_journeys(), model="first", by="touch").select("touch", "credited_conversions").rows())
    assert by_touch == {"A": 2.0, "B": 1.0, "C": 0.0, "Q1:coupon": 0.0}
    with pytest.raises(InputError, match="model must be one of"):
        jr.attribute(_journeys(), model="markov")


# --- Markov removal effects ------------------------------------------------------------------------------

def _textbook() -> pl.DataFrame:
    """The three-path example: C1 → C2 → C3 → conversion; C1 → null; C2 → C3 → null."""
    paths = [(["C1", "C2", "C3"], True), (["C1"], False), (["C2", "C3"], False)]
    rows = [{"journey_id": str(i), "channel": c, "campaign": None, "position": k + 1, "converted": won,
             "revenue": 30.0 if won else 0.0, "touch_ts": _ts(1), "n_touches": len(p),
             "conversion_ts": _ts(2) if won else None}
            for i, (p, won) in enumerate(paths) for k, c in enumerate(p)]
    return pl.DataFrame(rows)


def test_markov_removal_effects_match_the_hand_computation():
    # transitions: start→C1 2/3, start→C2 1/3; C1→C2 1/2, C1→null 1/2; C2→C3 1; C3→conv 1/2, C3→null 1/2
    # P(conv) = 2/3·1/2·1·1/2 + 1/3·1·1/2 = 1/3
    # without C1: 1/3·1·1/2 = 1/6 → removal effect 1 − (1/6)/(1/3) = 1/2; without C2 or C3: 0 → effect 1
    out = jr.markov_removal(_textbook())
    got = {c: (e, s) for c, e, s, _ in out.rows()}
    assert out["p_conversion"][0] == pytest.approx(1 / 3)
    assert got["C1"] == pytest.approx((0.5, 0.2))
    assert got["C2"] == pytest.approx((1.0, 0.4)) and got["C3"] == pytest.approx((1.0, 0.4))
    credit = jr.markov_attribution(_textbook(), n_boot=50, seed=1)
    assert dict(credit.select("channel", "credited_conversions").rows()) == pytest.approx({"C1": 0.2, "C2": 0.4, "C3": 0.4})
    assert dict(credit.select("channel", "credited_revenue").rows()) == pytest.approx({"C1": 6.0, "C2": 12.0, "C3": 12.0})
    assert (credit["credited_conversions_low"] <= credit["credited_conversions_high"]).all()


def test_markov_with_a_loop_matches_a_linear_solve_by_hand():
    # paths A A B conv, A null, A B null → from A: A→A 1/4, A→B 2/4, A→null 1/4; B→conv 1/2, B→null 1/2
    # P(reach B from A) = (1/2)/(1 − 1/4) = 2/3 → P(conv) = 2/3 · 1/2 = 1/3; removing A or B → 0: effects 1
    paths = [(["A", "A", "B"], True), (["A"], False), (["A", "B"], False)]
    rows = [{"journey_id": str(i), "channel": c, "campaign": None, "position": k + 1, "converted": won,
             "revenue": 1.0 if won else 0.0} for i, (p, won) in enumerate(paths) for k, c in enumerate(p)]
    out = jr.markov_removal(pl.DataFrame(rows))
    assert out["p_conversion"][0] == pytest.approx(1 / 3)
    assert out["removal_effect"].to_list() == pytest.approx([1.0, 1.0])


def test_compare_models_has_every_model_and_the_same_total():
    out = jr.compare_models(_journeys(), n_boot=20)
    totals = out.group_by("model").agg(pl.col("credited_conversions").sum(), pl.col("credited_revenue").sum())
    assert set(totals["model"]) == set(jr.MODELS)
    assert totals["credited_conversions"].to_list() == pytest.approx([3.0] * 6)
    assert totals["credited_revenue"].to_list() == pytest.approx([160.0] * 6)


def test_markov_bad_input():
    with pytest.raises(InputError, match="no journeys with touches"):
        jr.markov_removal(_textbook().head(0))
    with pytest.raises(InputError, match="n_boot must be a non-negative integer"):
        jr.markov_attribution(_textbook(), n_boot=-1)
    with pytest.raises(InputError, match=r"journeys: missing columns \['journey_id'\]"):
        jr.markov_removal(_textbook().drop("journey_id"))


# --- the synthetic sample: the planted channel effect ----------------------------------------------------

@pytest.fixture(scope="module")
def sample_tables():
    from persona_kit import clean, identity, schema
    tables = clean.clean(schema.load_sources(ROOT / "data/sample/maps")).tables
    result = identity.link(identity.collect_identifiers(tables), records=identity.record_keys(tables), salt=SALT)
    return identity.pseudonymize_tables(tables, result, salt=SALT)


def test_planted_channel_effect_ranks_first_under_markov(sample_tables):
    truth = pl.read_csv(ROOT / "data/sample/truth/channel_effect.csv")
    planted = truth.filter(~pl.col("group").str.contains("touch")).sort("buy_rate", descending=True)["group"][0]
    events, orders, campaigns = (sample_tables[n] for n in ("events", "orders", "campaigns"))
    touches = pl.concat([jr.touches_from_events(events), jr.touches_from_campaigns(campaigns)])
    tracked = set(events["source"].unique()) | set(campaigns["source"].unique())
    conversions = jr.conversions_from_orders(orders, sources=sorted(tracked))
    journeys = jr.build_journeys(touches, conversions, lookback_days=7)
    markov = jr.markov_attribution(journeys, n_boot=100, seed=0)
    assert markov["channel"][0] == planted == "xiaohongshu"
    # the planted channel's bootstrap interval lies above every other channel's interval
    assert markov["credited_conversions_low"][0] > markov["credited_conversions_high"][1:].max()
    # the untreated control arm is not a touch
    assert not jr.touches_from_campaigns(campaigns)["campaign"].str.ends_with(":control").any()


def test_chart_flow_draws_nodes_as_tall_as_their_flow():
    from persona_kit import charts
    links = jr.flow_links(_pv_log(), start="pv", steps=3)
    spec = charts.chart_flow(links, lang="en").to_dict()
    bands, boxes = spec["layer"][0]["data"]["values"], spec["layer"][1]["data"]["values"]
    height = {r["node"] + str(round(r["x0"])): r["y1"] - r["y0"] for r in boxes}
    unit = height["pv0"] / 5  # five sessions start from pv
    assert {k: round(v / unit, 6) for k, v in height.items() if v >= unit / 2} == {
        "pv0": 5, "cart253": 2, "fav253": 2, "(exit)253": 1, "buy506": 1, "cart506": 1, "(exit)506": 2}
    # a band is as wide as its flow at both ends
    first = [p for p in bands if p["source"] == "pv" and p["target"] == "cart"]
    assert {round((p["y2"] - p["y"]) / unit, 6) for p in first} == {2}
    with pytest.raises(InputError, match="no links with a positive value"):
        charts.chart_flow(links.head(0))


def test_attribution_chain_takes_pandas_and_lazy_frames_and_gives_the_same_credit():
    touches = pl.DataFrame({"person_id": ["p1", "p1", "p2"], "touch_ts": [_ts(1), _ts(2), _ts(3)],
                            "channel": ["A", "B", "A"], "campaign": [None, None, None]})
    conv = pl.DataFrame({"person_id": ["p1"], "conversion_ts": [_ts(4)], "revenue": [10.0]})
    eager = jr.attribute(jr.build_journeys(touches, conv), model="linear")
    pandas = jr.build_journeys(touches.to_pandas(), conv.to_pandas())
    assert type(pandas).__module__.startswith("pandas")
    assert pl.from_pandas(jr.attribute(pandas, model="linear")).equals(eager)
    lazy = jr.build_journeys(touches.lazy(), conv.lazy())
    assert isinstance(lazy, pl.LazyFrame)
    assert jr.attribute(lazy, model="linear").equals(eager)
    assert jr.markov_removal(pandas)["removal_effect"].tolist() == pytest.approx([1.0, 1.0])


def test_channel_paths_per_person_and_touches_from_events():
    ev = pl.DataFrame({"person_id": ["a", "a", "a", "b", "b"],
                       "event_ts": [_ts(1), _ts(2), _ts(3), _ts(1), _ts(2)],
                       "event_type": ["view", "view", "buy", "view", "view"],
                       "channel": ["douyin", "xiaohongshu", "xiaohongshu", "douyin", "douyin"]})
    out = jr.top_paths(ev, by="channel", unit="person", steps=3)
    # a: douyin → xiaohongshu before buying (its buy session's own channel comes at the buy itself);
    # b: douyin, douyin collapsed to one step
    assert out.select("path", "persons", "purchases").rows() == [("douyin → xiaohongshu", 1, 1), ("douyin", 1, 0)]
    touches = jr.touches_from_events(ev)
    assert touches["channel"].to_list() == ["douyin", "xiaohongshu", "xiaohongshu", "douyin", "douyin"]
    assert jr.translate_path(out, prefix="jr.channel", lang="en")["path"][0] == "Douyin → Xiaohongshu"


def test_credit_is_identical_whatever_the_row_order():
    rng = np.random.default_rng(3)
    rows = []
    for j in range(3000):
        n = int(rng.integers(1, 5))
        won = bool(rng.random() < 0.3)
        rows += [{"journey_id": f"j{j}", "touch_ts": _ts(1 + k), "channel": str(rng.choice(list("ABCDE"))),
                  "campaign": None, "position": k + 1, "n_touches": n, "converted": won,
                  "conversion_ts": _ts(9) if won else None, "revenue": round(float(rng.random() * 300), 2) if won else 0.0}
                 for k in range(n)]
    journeys = pl.DataFrame(rows)
    first = jr.compare_models(journeys, n_boot=30)
    for seed in (1, 2):
        assert jr.compare_models(journeys.sample(fraction=1.0, shuffle=True, seed=seed), n_boot=30).equals(first)


def test_markov_matches_an_independent_power_iteration_on_random_journeys():
    rng = np.random.default_rng(11)
    names, rows = list("ABCD"), []
    for j in range(400):
        path = [str(c) for c in rng.choice(names, int(rng.integers(1, 6)))]
        won = bool(rng.random() < 0.35)
        rows += [{"journey_id": f"j{j}", "channel": c, "campaign": None, "position": k + 1, "converted": won,
                  "revenue": 1.0 if won else 0.0} for k, c in enumerate(path)]
    journeys = pl.DataFrame(rows)
    # independent: count transitions by hand, make the absorbing chain, take its 200th power
    states = ["start", *names, "conv", "null"]
    counts = np.zeros((7, 7))
    for _, g in journeys.group_by("journey_id"):
        seq = ["start", *g.sort("position")["channel"], "conv" if g["converted"][0] else "null"]
        for a, b in zip(seq[:-1], seq[1:], strict=False):
            counts[states.index(a), states.index(b)] += 1
    counts[5, 5] = counts[6, 6] = 1

    def p_conv(removed: str | None) -> float:
        m = counts.copy()
        if removed:
            i = states.index(removed)
            m[:, 6] += m[:, i]
            m[:, i] = 0
            m[i] = 0
            m[i, 6] = 1
        m = m / m.sum(axis=1, keepdims=True)
        return float(np.linalg.matrix_power(m, 200)[0, 5])

    base = p_conv(None)
    expected = {c: 1 - p_conv(c) / base for c in names}
    out = jr.markov_removal(journeys)
    assert out["p_conversion"][0] == pytest.approx(base, rel=1e-9)
    assert dict(out.select("channel", "removal_effect").rows()) == pytest.approx(expected, rel=1e-9)
