"""What persons do: app sessions with the planted channel effect, orders and order lines, the
randomized campaign with its potential outcomes, and reviews that follow their ratings."""

from __future__ import annotations

import numpy as np
import polars as pl

from persona_kit.synth.base import (
    _ARMS,
    _CHANNELS,
    DAY,
    PERSONAS,
    _Clock,
    _config,
    _mat,
    _pick,
    _pick_rows,
    _stamp,
    _times,
)
from persona_kit.synth.population import _categories, _product_for

__all__: list[str] = []  # internal; the public API is persona_kit.synth


def _sessions(rng: np.random.Generator, pp: dict, clock: _Clock, prod_cat: np.ndarray) -> dict[str, np.ndarray]:
    """App sessions with the planted channel effect; per-session event counts and the buy time."""
    P = _config()[0]
    persona = pp["persona"]
    lo_lam = _mat("sessions")
    n_s = np.where(pp["has"][:, 2], lo_lam[persona, 0] + rng.poisson(lo_lam[persona, 1]), 0).astype(np.int64)
    person = np.repeat(np.arange(len(persona)), n_s)
    sp = persona[person]
    ts = _times(rng, sp, clock)
    order = np.lexsort((ts, person))
    person, sp, ts = person[order], sp[order], ts[order]
    channel = _pick(rng, _mat("channels", _CHANNELS), sp)
    cat = _categories(rng, sp, ~pp["female"][person])
    focal = _product_for(rng, cat, prod_cat)
    ce = P["channel_effect"]
    is_x = channel == _CHANNELS.index(ce["channel"])
    last = np.maximum.accumulate(np.where(is_x, np.arange(len(ts)), -1))
    touch = (last >= 0) & (person[np.maximum(last, 0)] == person) & (ts - ts[np.maximum(last, 0)] <= ce["carryover_days"] * DAY)
    buy = rng.random(len(ts)) < np.minimum(_mat("buy")[sp] * np.where(touch, ce["multiplier"], 1.0), 0.95)
    s = len(ts)
    counts = np.column_stack([
        rng.poisson(1.2, s), rng.random(s) < 0.25, 1 + rng.poisson(_mat("views")[sp]), rng.poisson(_mat("clicks")[sp]),
        rng.random(s) < 0.08, buy | (rng.random(s) < 0.1), buy, rng.random(s) < 0.04]).astype(np.int32)
    total = counts.sum(1)
    dur = rng.integers(60, 1500, s)
    buy_ts = ts + dur * counts[:, :6].sum(1) // total
    return dict(person=person, persona=sp, ts=ts, channel=channel, cat=cat, focal=focal, touch=touch, buy=buy,
                counts=counts, dur=dur, buy_ts=buy_ts)


def _lines(rng: np.random.Generator, pp: dict, o_person: np.ndarray, o_ts: np.ndarray, prods: pl.DataFrame,
           clock: _Clock, *, n_lines: np.ndarray | None = None, discount: np.ndarray | None = None) -> dict:
    """Order lines for orders (person, time): products by persona and gender, prices, discounts."""
    persona = pp["persona"][o_person]
    if n_lines is None:
        n_lines = np.minimum(1 + rng.poisson(_mat("lines")[persona]), 5)
    order = np.repeat(np.arange(len(o_person)), n_lines)
    lp, person = persona[order], o_person[order]
    prod_cat = prods["cat"].to_numpy()
    product = _product_for(rng, _categories(rng, lp, ~pp["female"][person]), prod_cat)
    qty = _pick(rng, np.array([_config()[0]["quantity"]]), np.zeros(len(order), np.int64)) + 1
    qty[lp == PERSONAS.index("luxury_fragrance")] = 1
    price = prods["price_c"].to_numpy()[product]
    if discount is None:
        rate = _mat("discount")[lp] + _config()[0]["promo_bonus"] * clock.in_promo(o_ts[order])
        discount = np.clip(rate + rng.normal(0, 0.03, len(order)), 0, 0.6)
    else:
        discount = discount[order]
    disc = np.round(price * qty * discount).astype(np.int64)
    line_no = np.arange(len(order)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    return dict(order=order, person=person, ts=o_ts[order], product=product, qty=qty, price=price, disc=disc,
                line_no=line_no)


def _concat(parts: list[dict]) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _orders(rng: np.random.Generator, pp: dict, ses: dict, prods: pl.DataFrame, clock: _Clock) -> dict:
    """Store, Tmall and mini-program orders by persona, plus the app orders of buying sessions."""
    persona, n = pp["persona"], len(pp["persona"])
    w = _mat("order_source", ("tmall", "wechat", "app", "pos"))[persona] * pp["has"]
    w[:, 2] = 0
    lo_lam = _mat("orders")
    n_o = np.where(w.sum(1) > 0, lo_lam[persona, 0] + rng.poisson(lo_lam[persona, 1]), 0).astype(np.int64)
    o_person = np.repeat(np.arange(n), n_o)
    o_ts = _times(rng, persona[o_person], clock)
    o_src = _pick_rows(rng, w[o_person])
    u = rng.random(len(o_person))
    cancel, refund = _mat("cancel")[persona[o_person]], _mat("refund")[persona[o_person]]
    o_status = np.where(u < cancel, 1, np.where(u < cancel + refund, 2, 0))
    base = _lines(rng, pp, o_person, o_ts, prods, clock)
    base.update(src=o_src[base["order"]], status=o_status[base["order"]], session=np.full(len(base["order"]), -1))
    b = np.flatnonzero(ses["buy"])
    app = _lines(rng, pp, ses["person"][b], ses["buy_ts"][b], prods, clock, n_lines=np.ones(len(b), np.int64))
    app["product"] = ses["focal"][b]
    app["price"] = prods["price_c"].to_numpy()[app["product"]]
    app["disc"] = np.round(app["price"] * app["qty"] * _mat("discount")[pp["persona"][app["person"]]]).astype(np.int64)
    app.update(src=np.full(len(b), 2), status=np.where(rng.random(len(b)) < 0.03, 2, 0), session=b,
               order=app["order"] + len(o_person))
    return _concat([base, app])


def _big_order(rng: np.random.Generator, lines: dict, prods: pl.DataFrame, clock: _Clock) -> dict:
    tm = np.flatnonzero(lines["src"] == 0)
    who = lines["person"][tm[rng.integers(0, len(tm))]] if len(tm) else 0
    top = np.argsort(-prods["price_c"].to_numpy(), kind="stable")[:3]
    k = len(top)
    return dict(order=np.full(k, lines["order"].max() + 1), person=np.full(k, who),
                ts=np.full(k, clock.t0 + rng.integers(30, 300) * DAY + 21 * 3600), product=top, qty=np.full(k, 20),
                price=prods["price_c"].to_numpy()[top], disc=np.zeros(k, np.int64), line_no=np.arange(1, k + 1),
                src=np.zeros(k, np.int64), status=np.ones(k, np.int64), session=np.full(k, -1),
                coupon=np.zeros(k, bool), dirty=np.full(k, "cancelled_big_order", object))


def _campaign(rng: np.random.Generator, pp: dict, rec: dict, cus: dict, lines: dict, prods: pl.DataFrame,
              clock: _Clock) -> tuple[dict, pl.DataFrame]:
    """Randomized arms among eligible members; incremental orders drawn as potential outcomes."""
    C = _config()[0]["campaign"]
    wrec = cus["first"][1]
    ok = wrec >= 0
    ok[ok] = (cus["reg"][wrec[ok]] < clock.campaign - C["min_tenure_days"] * DAY) & cus["consent"][wrec[ok]]
    who = np.flatnonzero(ok)
    persona = pp["persona"][who]
    arm = _pick(rng, np.array([[C["arms"][a] for a in _ARMS]]), np.zeros(len(who), np.int64))
    assigned = clock.campaign + rng.integers(0, 3600, len(who))
    eff = np.column_stack([np.zeros(len(PERSONAS))] + [[_config()[0]["personas"][p]["campaign"][a] for p in PERSONAS]
                                                         for a in _ARMS[1:]])
    extra = rng.random((len(who), 3)) < eff[persona]
    at = assigned + (1 + np.minimum(rng.exponential(5, len(who)), 28).astype(np.int64)) * DAY + rng.integers(0, DAY, len(who))
    disc = np.where(arm == 1, C["coupon_discount"], _mat("discount")[persona])
    new = _lines(rng, pp, who, at, prods, clock, discount=disc)
    gross = np.bincount(new["order"], new["price"] * new["qty"], minlength=len(who))
    value = np.column_stack([np.zeros(len(who)), gross * (1 - C["coupon_discount"]), gross * (1 - _mat("discount")[persona])])
    paid = (lines["status"] == 0)
    pos = np.searchsorted(who, lines["person"])
    hit = paid & (pos < len(who)) & (who[np.minimum(pos, len(who) - 1)] == lines["person"])
    hit[hit] &= (lines["ts"][hit] > assigned[pos[hit]]) & (lines["ts"][hit] <= assigned[pos[hit]] + C["window_days"] * DAY)
    base_rev = np.bincount(pos[hit], (lines["price"] * lines["qty"] - lines["disc"])[hit], minlength=len(who))
    y0 = base_rev > 0
    keep = extra[np.arange(len(who)), arm][new["order"]]
    new = {k: v[keep] for k, v in new.items()}
    new.update(src=np.full(keep.sum(), 1), status=np.zeros(keep.sum(), np.int64), session=np.full(keep.sum(), -1),
               coupon=(arm[new["order"]] == 1), order=new["order"] + lines["order"].max() + 1,
               rec=wrec[new["person"]])
    truth = pl.DataFrame({
        "person": who, "persona": np.array(PERSONAS)[persona], "source_customer_id": cus["key"][wrec[who]],
        "arm": np.array(_ARMS)[arm], "assigned_ts": assigned,
        **{f"converted_if_{a}": y0 | extra[:, i] if i else y0 for i, a in enumerate(_ARMS)},
        **{f"revenue_if_{a}": (base_rev + value[:, i] * extra[:, i]) / 100 for i, a in enumerate(_ARMS)}})
    return new, truth


def _reviews(rng: np.random.Generator, pp: dict, tmall: pl.DataFrame, clock: _Clock) -> pl.DataFrame:
    """Reviews by ~10 % of Tmall buyers; the text's sentiment follows the rating (hidden: _lang, _sent)."""
    V = _config()[1]
    t = tmall.filter(pl.col("_dirty").is_null() & (pl.col("_s") != 1))
    buyers = t["买家会员名"].unique(maintain_order=True)
    chosen = buyers.filter(pl.Series(rng.random(len(buyers)) < 0.1))
    c = t.filter(pl.col("买家会员名").is_in(chosen.implode()))
    c = c[rng.permutation(c.height)].with_columns(rank=pl.int_range(pl.len()).over("买家会员名"),
                                                   u=pl.Series(rng.random(c.height)))
    c = c.filter((pl.col("rank") == 0) | ((pl.col("rank") < 3) & (pl.col("u") < 0.3)))
    m, persona = c.height, pp["persona"][c["_p"].to_numpy()]
    rating = _pick(rng, _mat("ratings"), persona) + 1
    refunded = c["_s"].to_numpy() == 2
    rating[refunded] = 1 + (rng.random(refunded.sum()) < 0.3)
    u = rng.random(m)
    sent = np.where(rating >= 4, 0, np.where(rating == 3, 1, 2))
    sent[(rating == 4) & (u < 0.15)] = 1
    sent[(rating == 2) & (u < 0.2)] = 1
    lang = np.where(rng.random(m) < 0.03, 1, 0)
    text = np.empty(m, dtype=object)
    picks = rng.integers(0, 1000, (m, 4))
    for li, ln in enumerate(("zh", "en")):
        for si, sn in enumerate(("positive", "neutral", "negative")):
            mask = (lang == li) & (sent == si)
            ph = {k: np.array(v) for k, v in V["reviews"][ln][sn].items()}
            a = len(ph["aspect"])
            sep, end = ("，", "。") if ln == "zh" else (", ", ".")
            i = picks[mask]
            text[mask] = [f"{o}{sep}{x}{sep}{y}{sep}{z}{end}" for o, x, y, z in zip(
                ph["open"][i[:, 0] % len(ph["open"])], ph["aspect"][i[:, 1] % a],
                ph["aspect"][(i[:, 1] + 1 + i[:, 2] % (a - 1)) % a], ph["close"][i[:, 3] % len(ph["close"])], strict=True)]
    ts = c["_t"].to_numpy() + rng.integers(2 * DAY, 20 * DAY, m)
    out = pl.DataFrame({"买家会员名": c["买家会员名"], "订单编号": c["订单编号"], "商品ID": c["商品ID"],
                        "评分": rating.astype(str), "评价内容": pl.Series(text, dtype=pl.String),
                        "评价时间": _stamp(ts, "%Y-%m-%d %H:%M:%S"), "_t": ts, "_k": c["_k"], "_p": c["_p"],
                        "_lang": np.array(["zh", "en"])[lang], "_sent": np.array(["positive", "neutral", "negative"])[sent]})
    return out.filter(pl.col("_t") < clock.t1).sort("_t", "_k").with_columns(_dirty=pl.lit(None, pl.String))
