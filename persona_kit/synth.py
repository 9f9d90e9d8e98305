"""Deterministic synthetic multi-channel sample with planted truths, the test bed of every pipeline step.

:func:`generate` writes what a China-based beauty brand gets from Tmall, its WeChat mini-program, its app
and its stores (``raw/``), one column map per (raw file, canonical table) (``maps/``), the planted truths
that only tests read (``truth/``) and ``DATA_DICTIONARY.md``. The same arguments give byte-identical files.
Everything is vectorized (numpy draws, polars frames); persona parameters live in
``resources/synth_personas.yaml`` and vocabularies in ``resources/synth_vocab.yaml``.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     summary = generate(tmp, people=60, seed=1)
>>> summary["persons"], summary["personas"]["lapsed"]
(60, 10)
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import yaml

from persona_kit.errors import InputError

__all__ = ["generate", "PERSONAS", "SOURCES", "CATEGORIES"]

log = logging.getLogger(__name__)

PERSONAS = ("skincare_loyalist", "makeup_trend", "luxury_fragrance", "bargain_hunter", "lapsed", "browser")
SOURCES = ("tmall", "wechat", "app", "pos")
CATEGORIES = ("skincare", "makeup", "fragrance", "body", "tools", "men")
_EVENTS = ("exposure", "search", "view", "click", "fav", "cart", "buy", "share")
_CHANNELS = ("douyin", "xiaohongshu", "wechat", "search", "live", "push")
_ARMS = ("control", "coupon", "reminder")
DAY = 86_400
_BLOCK = 250_000  # app sessions per block of app_events.parquet (bounds memory at a million persons)
_PREFIXES = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 156, 157, 158, 159,
                      166, 170, 173, 176, 177, 178, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191, 198, 199])


@cache
def _config() -> tuple[dict, dict]:
    root = resources.files("persona_kit").joinpath("resources")
    return tuple(yaml.safe_load(root.joinpath(f"synth_{n}.yaml").read_text("utf-8")) for n in ("personas", "vocab"))


def _mat(key: str, names: tuple[str, ...] | None = None) -> np.ndarray:
    rows = [_config()[0]["personas"][p][key] for p in PERSONAS]
    return np.array([[r.get(k, 0.0) for k in names] for r in rows] if names else rows, dtype=float)


def _pick(rng: np.random.Generator, probs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """One index per row: a draw from the probability row ``probs[groups[i]]``."""
    cum = np.cumsum(np.asarray(probs, float), axis=1)
    cum = cum / np.where(cum[:, -1:] > 0, cum[:, -1:], 1)
    u, out = rng.random(len(groups)), np.zeros(len(groups), np.int64)
    for g in np.unique(groups):
        m = groups == g
        out[m] = np.searchsorted(cum[g], u[m], side="right")
    return np.minimum(out, cum.shape[1] - 1)


def _pick_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, axis=1)
    cum = cum / np.where(cum[:, -1:] > 0, cum[:, -1:], 1)
    return np.minimum((rng.random(len(weights))[:, None] >= cum).sum(1), weights.shape[1] - 1)


def _scramble(idx: np.ndarray, digits: int, key: int = 0) -> np.ndarray:
    """A bijection of [0, 10**digits): unique, random-looking numbers for unique indices."""
    mod = 10 ** digits
    return (idx.astype(np.int64) * 7_654_321 + key * 1_234_567 + 98_765) % mod


def _digits(n: int) -> int:
    return max(6, len(str(max(n, 1))) + 1)


def _rand_str(rng: np.random.Generator, n: int, length: int, alphabet: str) -> np.ndarray:
    codes = np.frombuffer(alphabet.encode(), np.uint8)[rng.integers(0, len(alphabet), (n, length))]
    return np.ascontiguousarray(codes).view(f"S{length}").ravel().astype(str)


def _gather(values: object, idx: np.ndarray) -> pl.Series:
    """``values[idx]`` as a polars string column (no fixed-width numpy unicode copy per row)."""
    return pl.Series(np.asarray(values), dtype=pl.String).gather(pl.Series(idx, dtype=pl.Int64))


def _stamp(ts: np.ndarray | pl.Series, fmt: str) -> pl.Series:
    return pl.from_epoch(pl.Series(ts, dtype=pl.Int64), time_unit="s").dt.strftime(fmt)


def _money(cents: pl.Expr) -> pl.Expr:
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    a = cents.abs()
    return sign + (a // 100).cast(pl.String) + "." + (a % 100).cast(pl.String).str.zfill(2)


@dataclass(frozen=True)
class _Clock:
    t0: int  # window start (s since epoch, naive Asia/Shanghai)
    t1: int  # window end, exclusive
    windows: np.ndarray  # promotion windows: start, end (exclusive), peak day
    campaign: int  # campaign assignment time

    def in_promo(self, ts: np.ndarray) -> np.ndarray:
        w = self.windows
        return ((ts[:, None] >= w[:, 0]) & (ts[:, None] < w[:, 1])).any(1)


def _clock(start: str, end: str) -> _Clock:
    try:
        d0, d1 = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except (TypeError, ValueError) as err:
        raise InputError(f"start and end must be dates like '2024-07-01', got {start!r}, {end!r}") from err
    if (d1 - d0).days < 400:
        raise InputError(f"end must be at least 400 days after start (one year + a campaign), got {start} .. {end}")
    sec = lambda d: int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp())  # noqa: E731
    t0, t1 = sec(d0), sec(d1) + DAY
    wins = []
    for y in range(d0.year, d1.year + 1):
        for a, b, p in (((5, 20), (6, 21), (6, 18)), ((10, 20), (11, 12), (11, 11))):
            s, e = max(sec(dt.date(y, *a)), t0), min(sec(dt.date(y, *b)), t1)
            if e > s:
                wins.append((s, e, sec(dt.date(y, *p))))
    days = _config()[0]["campaign"]["days_before_end"]
    return _Clock(t0, t1, np.array(wins, np.int64).reshape(-1, 3), t1 - DAY * (days + 1) + 10 * 3600)


def _times(rng: np.random.Generator, persona: np.ndarray, clock: _Clock) -> np.ndarray:
    """Activity times following each persona's window (all / first year / recent) and promotion share."""
    P = _config()[0]
    kinds = np.array([("all", "first_year", "recent").index(P["personas"][p]["active"]) for p in PERSONAS])
    bounds = np.array([[clock.t0, clock.t1], [clock.t0, min(clock.t0 + 365 * DAY, clock.t1)],
                       [clock.t1 - P["recent_days"] * DAY, clock.t1]], np.int64)
    kind = kinds[persona]
    lo, hi = bounds[kind, 0], bounds[kind, 1]
    t = lo + rng.random(len(persona)) * (hi - lo)
    w = clock.windows
    overlap = np.clip(np.minimum(w[None, :, 1], bounds[:, 1:]) - np.maximum(w[None, :, 0], bounds[:, :1]), 0, None)
    promo = (rng.random(len(persona)) < _mat("promo_share")[persona]) & (overlap.sum(1)[kind] > 0)
    if promo.any():
        win = _pick(rng, overlap + (overlap.sum(1, keepdims=True) == 0), kind[promo])
        a, b = np.maximum(w[win, 0], lo[promo]), np.minimum(w[win, 1], hi[promo])
        tp = a + rng.random(len(win)) * (b - a)
        peak = (rng.random(len(win)) < 0.35) & (w[win, 2] >= lo[promo]) & (w[win, 2] < hi[promo])
        t[promo] = np.where(peak, w[win, 2], tp)
    hour = _pick(rng, np.array([P["hours"]]), np.zeros(len(t), np.int64))
    return (t // DAY * DAY).astype(np.int64) + hour * 3600 + rng.integers(0, 3600, len(t))


def _products(rng: np.random.Generator) -> pl.DataFrame:
    V = _config()[1]
    rows = []
    for ci, cat in enumerate(CATEGORIES):
        c = V["categories"][cat]
        for _ in range(c["count"]):
            zh, en = V["brands"][c["brands"][rng.integers(len(c["brands"]))]]
            name = (f"{zh}{c['series'][rng.integers(len(c['series']))]}{c['items'][rng.integers(len(c['items']))]}"
                    f" {c['sizes'][rng.integers(len(c['sizes']))]}")
            price = int(rng.uniform(*c["price"]) // 10 * 10 + 9)
            rows.append((ci, name, c["zh"], c["en"], c["path"], f"{zh} {en}", price * 100))
    frame = pl.DataFrame(rows, schema=["cat", "name", "zh", "en", "path", "brand", "price_c"], orient="row")
    return frame.with_columns(product_id=pl.format("P{}", pl.int_range(10001, 10001 + pl.len())))


def _product_for(rng: np.random.Generator, cat: np.ndarray, prod_cat: np.ndarray) -> np.ndarray:
    start = np.searchsorted(prod_cat, np.arange(len(CATEGORIES)))
    size = np.bincount(prod_cat, minlength=len(CATEGORIES))
    return start[cat] + (size[cat] * rng.random(len(cat)) ** 1.6).astype(np.int64)


def _categories(rng: np.random.Generator, persona: np.ndarray, male: np.ndarray) -> np.ndarray:
    base = _mat("categories", CATEGORIES)
    w = _config()[0]["men_weight"]
    probs = np.vstack([base, base * (1 - w) + w * (np.arange(len(CATEGORIES)) == CATEGORIES.index("men"))])
    return _pick(rng, probs, persona + len(PERSONAS) * male)


def _people(rng: np.random.Generator, n: int, clock: _Clock) -> dict[str, np.ndarray]:
    P, V = _config()
    share = _mat("share")
    counts = np.floor(share / share.sum() * n).astype(int)
    counts[np.argsort(-(share / share.sum() * n - counts), kind="stable")[: n - counts.sum()]] += 1
    persona = rng.permutation(np.repeat(np.arange(len(PERSONAS)), counts))
    female = rng.random(n) < _mat("female")[persona]
    ages = _mat("age")[persona]
    birth_day = (clock.t1 - (ages[:, 0] + rng.random(n) * (ages[:, 1] - ages[:, 0])) * 365.25 * DAY) // DAY
    tier = _pick(rng, _mat("tier"), persona)
    sizes = np.array([len(V["cities"][t + 1]) for t in range(4)])
    city = np.concatenate([[0], np.cumsum(sizes)])[tier] + (rng.random(n) * sizes[tier]).astype(np.int64)
    store = P["shared"]["store_phone"]
    phone = _unique(rng, n, lambda m: _PREFIXES[rng.integers(0, len(_PREFIXES), m)] * 10**8
                    + rng.integers(0, 10**8, m), exclude=int(store))
    has = rng.random((n, 4)) < _mat("sources", SOURCES)[persona]
    none = ~has.any(1)
    has[none, np.argmax(_mat("sources", SOURCES)[persona[none]], axis=1)] = True
    sur, gf, gm = (np.array(list(V[k])) for k in ("surnames", "given_female", "given_male"))
    given = np.where(female, gf[rng.integers(0, len(gf), n)], gm[rng.integers(0, len(gm), n)])
    given2 = np.where(female, gf[rng.integers(0, len(gf), n)], gm[rng.integers(0, len(gm), n)])
    name = np.char.add(np.char.add(sur[rng.integers(0, len(sur), n)], given),
                       np.where(rng.random(n) < 0.6, given2, ""))
    domain = rng.integers(0, len(V["email_domains"]), n)
    words = np.array(V["email_words"])[rng.integers(0, len(V["email_words"]), n)]
    number = _scramble(np.arange(n), _digits(n), key=3).astype(str)
    local = np.where(domain == 0, (10**8 + _scramble(np.arange(n), 9, key=4)).astype(str), np.char.add(words, number))
    email = np.char.add(np.char.add(local, "@"), np.array(V["email_domains"])[domain])
    return dict(persona=persona, female=female, birth_day=birth_day.astype(np.int64), tier=tier, city=city,
                phone=phone, email=email, has_email=rng.random(n) < 0.65, has=has, name=name)


def _unique(rng: np.random.Generator, n: int, draw, exclude: int) -> np.ndarray:
    m = int(n * 1.2) + 16
    while True:
        c = draw(m)
        c = c[c != exclude]
        _, first = np.unique(c, return_index=True)
        if len(first) >= n:
            return c[np.sort(first)[:n]]
        m *= 2


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


def _records(rng: np.random.Generator, pp: dict, lines: dict) -> dict[str, np.ndarray]:
    """One record per (person, source) — two store cards for some — with linking identifiers."""
    P = _config()[0]
    n = len(pp["persona"])
    has = pp["has"].copy()
    has[:, 0] = np.bincount(lines["person"][lines["src"] == 0], minlength=n) > 0
    person, src = np.nonzero(has)
    dup = np.flatnonzero((src == 3) & (rng.random(len(src)) < 0.04))
    person, src = np.concatenate([person, person[dup]]), np.concatenate([src, src[dup]])
    second = np.r_[np.zeros(len(person) - len(dup), bool), np.ones(len(dup), bool)]
    order = np.lexsort((second, person, src))
    person, src, second = person[order], src[order], second[order]
    r = len(person)
    n_rec = np.bincount(person, minlength=n)[person]
    phone_on = rng.random(r) < np.array([1.0, 0.75, 0.8, 0.95])[src]
    email_on = pp["has_email"][person] & (rng.random(r) < np.array([0.0, 0.0, 0.6, 0.45])[src])
    union_on = (src == 1) | ((src == 2) & has[person, 1] & (rng.random(r) < 0.35))
    two_cards = np.bincount(person[second], minlength=n)[person] > 0
    phone_on |= (src == 3) & two_cards
    hub_email = np.bincount(person[email_on & phone_on], minlength=n)[person] > 0
    hub_union = np.bincount(person[union_on & phone_on], minlength=n)[person] > 0
    linked = phone_on | (email_on & hub_email) | (union_on & hub_union)
    phone_on |= (n_rec > 1) & ~linked
    phone = np.where(phone_on, pp["phone"][person].astype(str), "")
    email = np.where(email_on, pp["email"][person], "")
    shared = np.full(r, "", dtype=object)
    sh = P["shared"]
    for kind, s, value, k in (("store_phone", 3, sh["store_phone"], sh["store_phone_records"]),
                              ("test_email", 2, sh["test_email"], sh["test_email_records"])):
        cand = np.flatnonzero((src == s) & (n_rec == 1) & (phone_on if kind == "store_phone" else True))
        pick = np.sort(rng.choice(cand, min(k, len(cand)), replace=False))
        shared[pick] = kind
        (phone if kind == "store_phone" else email)[pick] = value
        if kind == "test_email":
            email_on[pick] = True
    union = np.where(union_on, "o" + _rand_str(rng, n, 27, _B64)[person], "")
    return dict(person=person, src=src, second=second, phone=phone, email=email, union=union, shared=shared)


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _noisy_phone(rng: np.random.Generator, phone: pl.Series) -> pl.Series:
    kind = pl.Series(_pick(rng, np.array([[62, 8, 3, 5, 3, 7, 6, 6]]), np.zeros(len(phone), np.int64)))
    p = pl.col("p")
    spaced = p.str.slice(0, 3) + " " + p.str.slice(3, 4) + " " + p.str.slice(7)
    wide = p.str.replace_many(list("0123456789"), list("０１２３４５６７８９"))
    forms = [p, "+86 " + p, "+86-" + p, "0086" + p, "86" + p, spaced, spaced.str.replace_all(" ", "-"), wide]
    expr = pl.when(pl.col("k") == 0).then(forms[0])
    for i, f in enumerate(forms[1:], 1):
        expr = expr.when(pl.col("k") == i).then(f)
    out = pl.DataFrame({"p": phone, "k": kind}).select(pl.when(pl.col("p") == "").then(pl.lit("")).otherwise(expr))
    return out.to_series()


def _noisy_email(rng: np.random.Generator, email: pl.Series) -> pl.Series:
    k = pl.Series(rng.integers(0, 100, len(email)))
    e = pl.col("e")
    return pl.DataFrame({"e": email, "k": k}).select(
        pl.when(pl.col("k") < 8).then(e.str.to_uppercase()).when(pl.col("k") < 16).then(" " + e + " ")
        .when(pl.col("k") < 20).then(e.str.to_titlecase()).otherwise(e)).to_series()


def _customers(rng: np.random.Generator, pp: dict, rec: dict, lines: dict, ses: dict, clock: _Clock) -> dict:
    """Source keys, register times, consent, store and profile fields of every record."""
    V, n, r = _config()[1], len(pp["persona"]), len(rec["person"])
    person, src, persona = rec["person"], rec["src"], pp["persona"][rec["person"]]
    first = np.full((4, n), -1)
    first[src[~rec["second"]], person[~rec["second"]]] = np.flatnonzero(~rec["second"])
    second = np.full(n, -1)
    second[person[rec["second"]]] = np.flatnonzero(rec["second"])
    lrec = first[lines["src"], lines["person"]]
    alt = (lines["src"] == 3) & (second[lines["person"]] >= 0) & (rng.random(len(lrec)) < 0.5)
    lines["rec"] = np.where(alt, second[lines["person"]], lrec)
    lo = np.where(persona == PERSONAS.index("browser"), clock.t1 - 270 * DAY, clock.t0 - 730 * DAY)
    hi = np.where(persona == PERSONAS.index("lapsed"), clock.t0 + 300 * DAY, clock.t1 - 60 * DAY)
    hi = np.where(persona == PERSONAS.index("browser"), clock.t1 - DAY, hi)
    reg = (lo + rng.random(r) * (hi - lo)).astype(np.int64)
    seen = np.full(r, np.iinfo(np.int64).max)
    np.minimum.at(seen, lines["rec"], lines["ts"])
    np.minimum.at(seen, first[2, ses["person"]], ses["ts"])
    reg = np.minimum(reg, seen - DAY - rng.integers(0, DAY, r))
    d, stores = _digits(r), V["stores"]
    key = np.select([src == 0, src == 1, src == 2], [
        np.where(rng.random(r) < 0.5, np.char.add("tb", _scramble(np.arange(r), 10, 5).astype(str)),
                 np.char.add(np.char.add(np.array(V["nick_words"])[rng.integers(0, len(V["nick_words"]), r)], "_"),
                             _scramble(np.arange(r), d, 6).astype(str))),
        np.char.add("o", _rand_str(rng, r, 27, _B64)), np.char.add("U", _scramble(np.arange(r), d, 7).astype(str))],
        np.char.add("8860", _scramble(np.arange(r), d, 8).astype(str)))
    cities = [c for t in range(1, 5) for c in V["cities"][t]]
    city_names = np.array([c[0] for c in cities])[pp["city"][person]]
    home = {c: i for i, (_, c) in reversed(list(enumerate(stores)))}
    local = np.array([home.get(c[0], -1) for c in cities])[pp["city"][person]]
    store = np.where(local >= 0, local, rng.integers(0, len(stores), r))
    level = _pick(rng, np.array([[.2, .4, .3, .1], [.5, .35, .13, .02], [.1, .2, .4, .3], [.6, .3, .1, 0],
                                 [.5, .3, .15, .05], [.85, .13, .02, 0]]), persona)
    return dict(first=first, key=key, reg=reg, store=store, city_name=city_names, level=level,
                consent=rng.random(r) < 0.75)


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


_STATUS = {"tmall": ("交易成功", "交易关闭", "退款成功"), "wechat": ("已完成", "已取消", "已退款"),
           "app": ("PAID", "CANCELLED", "REFUNDED"), "pos": ("completed", "void", "returned")}


def _cols(file: str) -> list[str]:
    return list(_config()[1]["columns"][file])


def _order_files(rng: np.random.Generator, pp: dict, lines: dict, rec: dict, cus: dict, prods: pl.DataFrame
                 ) -> dict[str, pl.DataFrame]:
    """The four order exports (Tmall, mini-program, app, store) from the order lines."""
    V, r = _config()[1], lines["rec"]
    nord = int(lines["order"].max()) + 1
    d = _digits(nord)
    store_of_order = np.where(rng.random(nord) < 0.85, -1, rng.integers(0, len(V["stores"]), nord))
    store = np.where(store_of_order[lines["order"]] >= 0, store_of_order[lines["order"]], cus["store"][r])
    f = pl.DataFrame({
        "_o": lines["order"], "_p": lines["person"], "_t": lines["ts"], "_s": lines["status"], "_src": lines["src"],
        "_dirty": pl.Series(lines["dirty"].tolist(), dtype=pl.String), "line_no": lines["line_no"],
        "key": _gather(cus["key"], r), "prod": lines["product"], "qty": lines["qty"], "price": lines["price"],
        "disc": lines["disc"], "session": lines["session"], "coupon": lines["coupon"],
        "store": _gather([s[0] for s in V["stores"]], store), "scr": _scramble(lines["order"], d),
        "tm": _scramble(lines["order"], 10, 1) * 10**7 + rng.integers(0, 10**7, nord)[lines["order"]],
        "wide": rng.random(nord)[lines["order"]] < 0.3, "alt": rng.random(nord)[lines["order"]] < 0.15})
    f = f.with_columns(_a=pl.col("price") * pl.col("qty") - pl.col("disc"), _k=pl.int_range(pl.len()) * 4,
                       date=_stamp(lines["ts"], "%Y%m%d"), scr=pl.col("scr").cast(pl.String).str.zfill(d))
    p = prods.with_row_index("prod").with_columns(pl.col("prod").cast(pl.Int64))
    f = f.join(p.select("prod", "product_id", "name", "zh"), on="prod", how="left", maintain_order="left")
    money = {c: _money(pl.col(c)) for c in ("price", "disc", "_a")}
    status = lambda s: pl.col("_s").replace_strict(range(3), _STATUS[s], return_dtype=pl.String)  # noqa: E731
    hidden = [pl.col(c) for c in ("_o", "_p", "_t", "_s", "_a", "_k", "_dirty")]
    tm = rec["src"] == 0
    nick = pl.DataFrame({"key": cus["key"][tm], "收货人姓名": np.where(
        rng.random(tm.sum()) < 0.9, pp["name"][rec["person"][tm]], pp["name"][rng.integers(0, len(pp["name"]), tm.sum())]),
        "联系手机": _noisy_phone(rng, pl.Series(rec["phone"][tm])), "收货地址": _addresses(rng, pp, rec["person"][tm])})
    ts = pl.from_epoch("_t")
    out = {"tmall_orders.csv": [pl.lit("2") + pl.col("tm").cast(pl.String).str.zfill(17), pl.col("key"), "收货人姓名",
                                "联系手机", "收货地址", "product_id", "name", "zh", "qty", money["price"], money["disc"],
                                money["_a"], status("tmall"), ts.dt.strftime("%Y-%m-%d %H:%M:%S")],
           "wechat_orders.csv": ["WX" + pl.col("date") + pl.col("scr"), "line_no", "key", "product_id", "name", "qty",
                                 money["price"], money["disc"], money["_a"],
                                 pl.when((pl.col("_s") == 0) & pl.col("alt")).then(pl.lit("已发货")).otherwise(status("wechat")),
                                 ts.dt.strftime("%Y-%m-%dT%H:%M:%S"),
                                 pl.when(pl.col("coupon")).then(pl.lit("CP2026Q1")).otherwise(pl.lit(""))],
           "app_orders.csv": ["AP" + pl.col("date") + pl.col("scr"), "line_no", "key", "S" + pl.col("session").cast(
               pl.String).str.zfill(9), "product_id", "qty", money["price"], money["disc"], money["_a"], status("app"),
               ts.dt.strftime("%Y-%m-%d %H:%M:%S")],
           "pos_orders.csv": [pl.col("store") + "-" + pl.col("date") + "-" + pl.col("scr"), "line_no", "key", "store",
                              "product_id", "qty", money["price"], money["_a"], status("pos"),
                              pl.when(pl.col("wide")).then(ts.dt.strftime("%Y/%-m/%-d %H:%M"))
                              .otherwise(ts.dt.strftime("%Y-%m-%d %H:%M:%S"))]}
    f = f.join(nick, on="key", how="left", maintain_order="left")
    return {k: f.filter(pl.col("_src") == SOURCES.index(k.split("_")[0]))
            .select([(pl.col(e) if isinstance(e, str) else e).cast(pl.String).alias(c)
                     for e, c in zip(v, _cols(k), strict=True)] + hidden) for k, v in out.items()}


def _addresses(rng: np.random.Generator, pp: dict, person: np.ndarray) -> pl.Series:
    V, k = _config()[1], len(person)
    cities = [c for t in range(1, 5) for c in V["cities"][t]]
    c = pp["city"][person]
    pick = lambda xs: np.array(xs)[rng.integers(0, len(xs), k)]  # noqa: E731
    return pl.Series(np.char.add(np.char.add(np.char.add(np.char.add(
        np.array([f"{x[2]} {x[0]}市 " for x in cities])[c], pick(V["districts"])), pick(V["roads"])),
        rng.integers(1, 999, k).astype(str)), np.char.add(np.char.add("号", rng.integers(1, 30, k).astype(str)),
                                                         np.char.add("栋", np.char.add(rng.integers(101, 2801, k).astype(str), "室")))))


def _customer_files(rng: np.random.Generator, pp: dict, rec: dict, cus: dict) -> dict[str, pl.DataFrame]:
    V = _config()[1]
    person, src = rec["person"], rec["src"]
    cities = [c for t in range(1, 5) for c in V["cities"][t]]
    base = pl.DataFrame({"_p": person, "_t": cus["reg"], "src": src, "key": cus["key"], "union": rec["union"],
                         "female": pp["female"][person], "city": cus["city_name"], "consent": cus["consent"],
                         "province": np.array([c[1] for c in cities])[pp["city"][person]], "name": pp["name"][person],
                         "level": np.array(V["member_levels"])[cus["level"]], "store": cus["store"],
                         "birth": pp["birth_day"][person] * DAY, "u": rng.random(len(person)),
                         "v": rng.random(len(person)), "w": rng.integers(0, 4, len(person))})
    base = base.with_columns(phone=_noisy_phone(rng, pl.Series(rec["phone"])),
                             email=_noisy_email(rng, pl.Series(rec["email"])),
                             _k=pl.int_range(pl.len()) * 4, _dirty=pl.lit(None, pl.String))
    blank = lambda c, p: pl.when(pl.col("u") < p).then(pl.lit("")).otherwise(c)  # noqa: E731
    stamp = pl.from_epoch("_t").dt.strftime("%Y-%m-%d %H:%M:%S")
    day = pl.from_epoch("_t")
    nick = np.char.add(np.array(V["nick_words"])[rng.integers(0, len(V["nick_words"]), len(person))],
                       np.array(V["nick_marks"])[rng.integers(0, len(V["nick_marks"]), len(person))])
    base = base.with_columns(nick=pl.Series(nick), device=pl.Series(_rand_str(rng, len(person), 32, "0123456789ABCDEF")))
    hidden = ["_p", "_t", "_k", "_dirty"]
    wx = (1, [
        "key", "union", "phone", "nick",
        pl.when(pl.col("v") < 0.05).then(pl.lit("0")).when(pl.col("female")).then(pl.lit("2")).otherwise(pl.lit("1")),
        blank(pl.col("city"), 0.15), blank(pl.col("province"), 0.15), stamp, "level",
        pl.when(pl.col("consent")).then(pl.lit("是")).otherwise(pl.lit("否"))])
    dev = pl.col("device")
    app = (2, [
        "key", dev.str.slice(0, 8) + "-" + dev.str.slice(8, 4) + "-" + dev.str.slice(12, 4) + "-" + dev.str.slice(16, 4)
        + "-" + dev.str.slice(20, 12), "phone", "email", "union",
        pl.when(pl.col("v") < 0.55).then(pl.lit("iOS")).otherwise(pl.lit("Android")), stamp])
    serial = (pl.col("_t") // DAY + 25569).cast(pl.String)
    pos = (3, [
        "key", "name", "phone", "email", blank(pl.from_epoch("birth").dt.strftime("%Y-%m-%d"), 0.1),
        pl.when(pl.col("v") < 0.03).then(pl.lit("")).when(pl.col("female")).then(pl.lit("F")).otherwise(pl.lit("M")),
        pl.col("store").replace_strict(range(len(V["stores"])), [s[1] for s in V["stores"]], return_dtype=pl.String),
        pl.col("store").replace_strict(range(len(V["stores"])), [s[0] for s in V["stores"]], return_dtype=pl.String),
        pl.when(pl.col("w") == 0).then(day.dt.strftime("%Y/%-m/%-d")).when(pl.col("w") == 1).then(day.dt.strftime("%Y%m%d"))
        .when(pl.col("v") < 0.1).then(serial).otherwise(day.dt.strftime("%Y-%m-%d"))])
    out = {"wechat_members.csv": wx, "app_users.csv": app, "pos_members.csv": pos}
    return {k: base.filter(pl.col("src") == i).select(
        [(pl.col(e) if isinstance(e, str) else e).cast(pl.String).alias(c) for e, c in zip(v, _cols(k), strict=True)]
        + hidden) for k, (i, v) in out.items()}



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


_DIRTY_COLS = {
    "tmall_orders.csv": {"date": "下单时间", "amount": "实付金额", "id": "订单编号", "text": ("宝贝标题", "收货地址"),
                         "money": ("单价", "优惠金额", "实付金额")},
    "wechat_orders.csv": {}, "wechat_members.csv": {"id": "openid"}, "pos_members.csv": {"date": "register_date"},
    "pos_orders.csv": {"date": "txn_time", "amount": "amount", "text": ("sku",), "money": ("price", "amount")},
    "app_events.parquet": {"id": "user_id", "event": "event_name"},
}


def _inject(rng: np.random.Generator, frame: pl.DataFrame, file: str, people: int) -> pl.DataFrame:
    """Plant the dirty rows of ``file``; copies go right after their original (hidden columns mark them)."""
    spec, cols = _config()[0]["dirty"].get(file, {}), _DIRTY_COLS.get(file, {})
    frame = frame.with_columns(_i=pl.int_range(pl.len()), _col=pl.lit(None, pl.String), _orig=pl.lit(None, pl.Int64),
                               _det=pl.lit(None, pl.String))
    perm = rng.permutation(frame.filter(pl.col("_dirty").is_null())["_i"].to_numpy())
    pos, copies = 0, []
    bad = {"date": ["2025-02-30 14:00:00", "待定", None, "2025-13-45 10:00:00"], "event": _config()[1]["bad_event_names"]}
    if file == "pos_members.csv":
        bad["date"] = ["2025-02-30", "待定", None, "0000-00-00"]
    for kind, base in spec.items():
        k = min(len(perm) - pos, max(1, min(4 * base, round(base * people / 5000))))
        idx, pos = pl.Series(perm[pos:pos + k], dtype=pl.Int64), pos + k
        sel = pl.col("_i").is_in(idx.implode())
        mark = {"_dirty": pl.when(sel).then(pl.lit(kind)).otherwise("_dirty")}
        if kind.endswith("duplicate"):
            c = frame.filter(sel).with_columns(_orig=pl.col("_k"), _k=pl.col("_k") + 1 + (kind == "near_duplicate"),
                                               _dirty=pl.lit(kind))
            if kind == "near_duplicate":
                c = c.with_columns([pl.col(x) + " " for x in cols["text"]] + [pl.col(x).str.replace(r"\.00$", "").str.replace(
                    r"(\.\d)0$", "${1}") for x in cols["money"]])
            copies.append(c)
            continue
        col = {"bad_date": "date", "missing_id": "id", "bad_event_type": "event", "negative_amount": "amount",
               "zero_amount": "amount"}[kind]
        name = cols[col]
        if kind in ("bad_date", "missing_id", "bad_event_type"):
            values = bad.get(col, [None])
            patch = pl.DataFrame({"_i": idx, "_v": [values[j % len(values)] for j in range(k)]},
                                 schema={"_i": pl.Int64, "_v": pl.String})
            frame = frame.join(patch, on="_i", how="left", maintain_order="left").with_columns(
                pl.when(sel).then(pl.col("_v")).otherwise(pl.col(name)).alias(name),
                _det=pl.when(sel).then(pl.format("value {}", pl.col("_v").fill_null("(empty)"))).otherwise("_det"),
                **mark).drop("_v")
        elif kind == "negative_amount":
            frame = frame.with_columns(pl.when(sel).then("-" + pl.col(name)).otherwise(pl.col(name)).alias(name), **mark)
        else:
            frame = frame.with_columns([pl.when(sel).then(pl.lit("0.00")).otherwise(pl.col(x)).alias(x) for x in cols["money"]]
                                       + [pl.when(sel).then("【赠品】" + pl.col("宝贝标题")).otherwise("宝贝标题").alias("宝贝标题")],
                                       **mark)
        frame = frame.with_columns(_col=pl.when(sel).then(pl.lit(name)).otherwise("_col"))
    return pl.concat([frame, *copies]).sort("_t", "_k").drop("_i")


def _dirty_rows(frame: pl.DataFrame, file: str, offset: int, start: int = 0) -> pl.DataFrame:
    f = frame.with_row_index("row_index", offset=start).with_columns(pl.col("row_index").cast(pl.Int64))
    rows = dict(zip(f["_k"].to_list(), f["row_index"].to_list(), strict=True))
    d = f.filter(pl.col("_dirty").is_not_null())
    return pl.DataFrame({
        "file": [file] * d.height, "row": (d["row_index"] + offset).to_list(), "row_index": d["row_index"].to_list(),
        "kind": d["_dirty"], "column": d["_col"] if "_col" in d.columns else [None] * d.height,
        "key": d[d.columns[1]].cast(pl.String),
        "detail": [f"copy of row {rows[o] + offset}" if o is not None else det for o, det in zip(
            d["_orig"] if "_orig" in d.columns else [None] * d.height,
            d["_det"] if "_det" in d.columns else [None] * d.height, strict=True)]},
        schema={"file": pl.String, "row": pl.Int64, "row_index": pl.Int64, "kind": pl.String, "column": pl.String,
                "key": pl.String, "detail": pl.String})


def _write_events(path: Path, seq: np.random.SeedSequence, ses: dict, pp: dict, cus: dict, prods: pl.DataFrame,
                  people: int) -> tuple[int, pl.DataFrame, np.ndarray]:
    """Expand sessions into app events block by block and write them as one Parquet file."""
    V = _config()[1]
    prod_cat, pid = prods["cat"].to_numpy(), prods["product_id"].to_numpy()
    queries = [V["queries"][c] for c in CATEGORIES]
    qstart = np.cumsum([0] + [len(q) for q in queries])
    zh = np.array([V["categories"][c]["zh"] for c in CATEGORIES])
    names = np.array([V["event_names"][e] for e in _EVENTS])
    s_all = len(ses["ts"])
    blocks = [(a, min(a + _BLOCK, s_all)) for a in range(0, max(s_all, 1), _BLOCK)]
    writer, total, dirty = None, 0, []
    n_events = np.zeros(len(pp["persona"]), np.int64)
    for b, (a, z) in enumerate(blocks):
        rng = np.random.default_rng(seq.spawn(1)[0])
        cnt = ses["counts"][a:z]
        tot = cnt.sum(1)
        etype = np.repeat(np.tile(np.arange(len(_EVENTS)), z - a), cnt.ravel())
        sess = np.repeat(np.arange(a, z), tot)
        rank = np.arange(len(etype)) - np.repeat(np.cumsum(tot) - tot, tot)
        jit = rng.random(len(etype))
        jit[etype == _EVENTS.index("buy")] = 0
        ts = ses["ts"][sess] + (ses["dur"][sess] * (rank + jit) / tot[sess - a]).astype(np.int64)
        person, persona, cat = ses["person"][sess], ses["persona"][sess], ses["cat"][sess]
        browse = _product_for(rng, cat, prod_cat)
        exposed = _product_for(rng, _categories(rng, persona, ~pp["female"][person]), prod_cat)
        item = np.where(etype == 0, exposed, np.where(np.isin(etype, [2, 3]) & (rng.random(len(etype)) < 0.6),
                                                       browse, ses["focal"][sess]))
        search = etype == _EVENTS.index("search")
        dwell = np.where(etype == 2, rng.lognormal(np.log(_mat("dwell")[persona]), 0.6),
                         np.where(etype == 3, rng.lognormal(np.log(5), 0.5), np.nan)).round(1)
        query = (qstart[cat] + (rng.random(len(cat)) * (qstart[cat + 1] - qstart[cat]))).astype(np.int64)
        n_events += np.bincount(person, minlength=len(n_events))
        frame = pl.DataFrame({
            "user_id": _gather(cus["key"], cus["first"][2, person]),
            "event_time": pl.from_epoch(pl.Series(ts), time_unit="s").cast(pl.Datetime("ms")),
            "event_name": _gather(names, etype), "item_id": _gather(pid, item),
            "category": _gather(zh, np.where(search, cat, prod_cat[item])),
            "session_id": "S" + pl.Series(sess).cast(pl.String).str.zfill(9),
            "dwell_seconds": pl.Series(dwell).fill_nan(None),
            "traffic_source": _gather([V["channels"][c] for c in _CHANNELS], ses["channel"][sess]),
            "search_query": _gather([q for qs in queries for q in qs], query), "_search": search,
            "_t": ts, "_k": (np.arange(len(ts)) + total) * 4}
        ).with_columns(_dirty=pl.lit(None, pl.String), item_id=pl.when(~pl.col("_search")).then("item_id"),
                       search_query=pl.when("_search").then("search_query"))
        if b == 0:
            frame = _inject(rng, frame, "app_events.parquet", people)
            dirty.append(_dirty_rows(frame, "app_events.parquet", 1, total))
        else:
            frame = frame.sort("_t", "_k")
        table = frame.select(pl.exclude("^_.*$")).to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd", compression_level=9)
        writer.write_table(table, row_group_size=1_000_000)
        total += frame.height
    writer.close()
    return total, pl.concat(dirty), n_events


def _write(frame: pl.DataFrame, path: Path, encoding: str = "utf-8") -> int:
    visible = frame.select(pl.exclude("^_.*$")).with_columns(pl.col(pl.String).replace("", None))
    if path.suffix == ".xlsx":
        _write_xlsx(visible, path)
    else:
        with path.open("wb") as fh:
            for i in range(0, max(visible.height, 1), 500_000):
                fh.write(visible.slice(i, 500_000).write_csv(include_header=i == 0).encode(encoding if i == 0 else
                                                                                            encoding.replace("-sig", "")))
    return visible.height


def _write_xlsx(frame: pl.DataFrame, path: Path) -> None:
    """Write one sheet with openpyxl, then re-zip with fixed timestamps so the bytes are reproducible."""
    import re

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "products"
    sheet.append(frame.columns)
    for row in frame.iter_rows():
        sheet.append(list(row))
    raw = io.BytesIO()
    book.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    path.write_bytes(out.getvalue())


def generate(out_dir: str | Path, *, people: int = 5000, seed: int = 7, start: str = "2024-07-01",
             end: str = "2026-06-30") -> dict:
    """Write a deterministic synthetic multi-channel sample with planted truths into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write ``raw/``, ``maps/``, ``truth/`` and ``DATA_DICTIONARY.md`` into (created if needed;
        files of an earlier sample are overwritten).
    people
        Number of real persons (at least 30); rows scale linearly (~40 events, ~5 order lines a person).
    seed
        Seed of the one ``numpy.random.SeedSequence`` every draw descends from.
    start, end
        First and last day of the observation window (at least 400 days apart); the campaign is assigned
        120 days before ``end``.

    Returns
    -------
    dict
        ``persons``, ``seed``, ``start``, ``end``, ``personas`` (persons per persona), ``files`` (rows per
        written file, by path relative to ``out_dir``), ``dirty_rows``, ``campaign`` (id, file, members).

    Raises
    ------
    InputError
        If ``people`` is below 30 or the dates are malformed or too close.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     summary = generate(tmp, people=40, seed=3)
    >>> summary["files"]["raw/tmall_orders.csv"] > 0, summary["persons"]
    (True, 40)
    """
    if isinstance(people, bool) or not isinstance(people, int) or people < 30:
        raise InputError(f"people must be an integer of at least 30, got {people!r}")
    clock = _clock(start, end)
    P, V = _config()
    root = Path(out_dir)
    for sub in ("raw", "maps", "truth"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    seqs = np.random.SeedSequence(seed).spawn(10)
    rng = [np.random.default_rng(s) for s in seqs[:9]]
    prods = _products(rng[0])
    pp = _people(rng[1], people, clock)
    ses = _sessions(rng[2], pp, clock, prods["cat"].to_numpy())
    lines = _orders(rng[3], pp, ses, prods, clock)
    lines.update(coupon=np.zeros(len(lines["order"]), bool), dirty=np.full(len(lines["order"]), None, object))
    lines = _concat([lines, _big_order(rng[3], lines, prods, clock)])
    rec = _records(rng[4], pp, lines)
    cus = _customers(rng[4], pp, rec, lines, ses, clock)
    extra, camp = _campaign(rng[5], pp, rec, cus, lines, prods, clock)
    extra["dirty"] = np.full(len(extra["order"]), None, object)
    lines = _concat([lines, {k: extra[k] for k in lines}])
    files = {**_order_files(rng[6], pp, lines, rec, cus, prods), **_customer_files(rng[6], pp, rec, cus)}
    files["reviews.csv"] = _reviews(rng[7], pp, files["tmall_orders.csv"], clock)
    files["products.xlsx"] = prods.select("product_id", "name", "zh", "en", "path", "brand", (
        pl.col("price_c") // 100).cast(pl.String)).rename(dict(zip(["product_id", "name", "zh", "en", "path", "brand", "price_c"],
                                                                   _cols("products.xlsx"), strict=True)))
    stem = f"campaign_{dt.datetime.fromtimestamp(clock.campaign, dt.UTC):%Y}q{(dt.datetime.fromtimestamp(clock.campaign, dt.UTC).month - 1) // 3 + 1}"
    C = P["campaign"]
    files[f"{stem}.csv"] = camp.sort("assigned_ts", "source_customer_id").select(
        pl.lit(C["id"]).alias("campaign_id"), pl.col("source_customer_id").alias("openid"), "arm",
        _stamp(camp.sort("assigned_ts", "source_customer_id")["assigned_ts"], "%Y-%m-%d %H:%M:%S").alias("assigned_at"),
        pl.col("arm").replace_strict(C["channel"]).alias("channel"),
        pl.col("arm").replace_strict({k: f"{v:.2f}" for k, v in C["cost"].items()}).alias("cost"))
    counts, dirty = {}, []
    for name in sorted(files):
        frame = files[name]
        if name in P["dirty"] or "_dirty" in frame.columns:
            frame = _inject(rng[8], frame, name, people) if name in P["dirty"] else frame.sort("_t", "_k")
            dirty.append(_dirty_rows(frame, name, 2))
            files[name] = frame
        enc = {"tmall_orders.csv": "gb18030", "wechat_members.csv": "utf-8-sig"}.get(name, "utf-8")
        counts[f"raw/{name}"] = _write(frame, root / "raw" / name, enc)
        files[name] = frame.select(pl.col("^_.*$"), *(["评分"] if name == "reviews.csv" else []))  # free the text
    n_ev, ev_dirty, n_events = _write_events(root / "raw" / "app_events.parquet", seqs[9], ses, pp, cus, prods, people)
    counts["raw/app_events.parquet"] = n_ev
    dirty = pl.concat([*dirty, ev_dirty]).filter(pl.col("kind").is_not_null()).sort("file", "row")
    for spec in V["maps"]:
        name = spec["file"].format(campaign=stem)
        doc = {"source": spec["source"], "table": spec["table"], "file": f"../raw/{name}"}
        doc.update({k: spec[k] for k in ("encoding",) if k in spec})
        doc["timezone"] = "Asia/Shanghai"
        doc.update({k: spec[k] for k in ("columns", "values", "constants", "formats") if k in spec})
        path = root / "maps" / f"{Path(name).stem}.{spec['table']}.yaml"
        path.write_text("# Column map written by persona_kit.synth (format: see persona_kit/schema.py)\n"
                        + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
        counts[f"maps/{path.name}"] = len(doc["columns"])
    truth = _truth(root / "truth", pp, rec, cus, files, ses, n_events, camp, dirty, clock, seed, start, end)
    counts.update(truth)
    summary = {"out_dir": str(root), "persons": people, "seed": seed, "start": start, "end": end,
               "personas": {p: int((pp["persona"] == i).sum()) for i, p in enumerate(PERSONAS)},
               "files": dict(sorted(counts.items())), "dirty_rows": dirty.height,
               "campaign": {"id": C["id"], "file": f"raw/{stem}.csv", "members": camp.height}}
    (root / "DATA_DICTIONARY.md").write_text(_dictionary(summary, dirty, stem), encoding="utf-8")
    log.info("wrote synthetic sample %s (%d persons, %d files)", root, people, len(counts))
    return summary


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


_ORDER_FILES = ("tmall_orders.csv", "wechat_orders.csv", "app_orders.csv", "pos_orders.csv")


def _truth(folder: Path, pp: dict, rec: dict, cus: dict, files: dict, ses: dict, n_events: np.ndarray,
           camp: pl.DataFrame, dirty: pl.DataFrame, clock: _Clock, seed: int, start: str, end: str) -> dict[str, int]:
    """Write truth/: what each record really is, personas, campaign and channel effects, dirty rows."""
    P, V = _config()
    n = len(pp["persona"])
    key = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    names = np.array(PERSONAS)
    records = pl.DataFrame({
        "source": np.array(SOURCES)[rec["src"]], "source_customer_id": cus["key"], "person_key": key[rec["person"]],
        "persona": names[pp["persona"][rec["person"]]], "second_card": rec["second"],
        "shared_identifier": pl.Series(rec["shared"].tolist(), dtype=pl.String).replace("", None)}).sort("source", "source_customer_id")
    o = pl.concat([files[f].select("_p", "_o", "_a", "_s", "_dirty") for f in _ORDER_FILES])
    agg = o.filter(pl.col("_dirty").is_null() & (pl.col("_s") == 0)).group_by("_p").agg(
        pl.col("_o").n_unique().alias("n"), pl.col("_a").sum().alias("a")).sort("_p")
    n_orders, spend = np.zeros(n, np.int64), np.zeros(n, np.int64)
    n_orders[agg["_p"].to_numpy()], spend[agg["_p"].to_numpy()] = agg["n"].to_numpy(), agg["a"].to_numpy()
    cities = [(c[0], c[1], t) for t in range(1, 5) for c in V["cities"][t]]
    arm = np.full(n, None, object)
    arm[camp["person"].to_numpy()] = camp["arm"].to_numpy()
    srcs = np.zeros((n, 4), bool)
    srcs[rec["person"], rec["src"]] = True
    persons = pl.DataFrame({
        "person_key": key, "persona": names[pp["persona"]], "gender": np.where(pp["female"], "female", "male"),
        "birth_date": pl.Series(pp["birth_day"], dtype=pl.Int32).cast(pl.Date),
        "city": [cities[c][0] for c in pp["city"]], "province": [cities[c][1] for c in pp["city"]],
        "city_tier": pp["tier"] + 1, "n_records": np.bincount(rec["person"], minlength=n),
        "sources": ["|".join(s for s, h in zip(SOURCES, row, strict=True) if h) for row in srcs],
        "n_orders": n_orders, "net_spend": spend / 100, "n_sessions": np.bincount(ses["person"], minlength=n),
        "n_events": n_events, "campaign_arm": pl.Series(arm.tolist(), dtype=pl.String)})
    camp = camp.with_columns(person_key=pl.Series(key)[camp["person"]]).select(
        "person_key", pl.exclude("person", "person_key")).sort("person_key")
    rows = []
    for pname in (*PERSONAS, "all"):
        g = camp if pname == "all" else camp.filter(pl.col("persona") == pname)
        ctrl = g.filter(pl.col("arm") == "control")
        for a in _ARMS[1:]:
            t = g.filter(pl.col("arm") == a)
            rows.append({
                "persona": pname, "arm": a, "n_eligible": g.height, "n_arm": t.height, "n_control": ctrl.height,
                "planted_extra_order_prob": P["personas"][pname]["campaign"][a] if pname != "all" else None,
                "true_conversion_uplift": float((g[f"converted_if_{a}"].cast(int) - g["converted_if_control"].cast(int)).mean() or 0),
                "true_revenue_uplift": float((g[f"revenue_if_{a}"] - g["revenue_if_control"]).mean() or 0),
                "observed_conversion_arm": float(t[f"converted_if_{a}"].mean() or 0),
                "observed_conversion_control": float(ctrl["converted_if_control"].mean() or 0)})
    effects = pl.DataFrame(rows).with_columns(
        observed_uplift=pl.col("observed_conversion_arm") - pl.col("observed_conversion_control")).with_columns(
        pl.col(pl.Float64).round(4))
    s = pl.DataFrame({"channel": np.array(_CHANNELS)[ses["channel"]], "touch": ses["touch"], "buy": ses["buy"]})
    chan = pl.concat([
        s.group_by("channel").agg(sessions=pl.len(), buy_sessions=pl.col("buy").sum()).rename({"channel": "group"}),
        s.group_by("touch").agg(sessions=pl.len(), buy_sessions=pl.col("buy").sum()).select(
            pl.when("touch").then(pl.lit("xiaohongshu_touch_7d")).otherwise(pl.lit("no_xiaohongshu_touch")).alias("group"),
            "sessions", "buy_sessions")]).with_columns(
        buy_rate=(pl.col("buy_sessions") / pl.col("sessions")).round(4)).sort("group")
    sh = P["shared"]
    shared = records.filter(pl.col("shared_identifier").is_not_null()).group_by("shared_identifier").agg(
        n_records=pl.len(), n_persons=pl.col("person_key").n_unique()).sort("shared_identifier").select(
        pl.col("shared_identifier").replace_strict({"store_phone": "phone", "test_email": "email"}).alias("id_type"),
        pl.col("shared_identifier").replace_strict({"store_phone": sh["store_phone"], "test_email": sh["test_email"]}).alias("id_value"),
        "n_records", "n_persons")
    rv = files["reviews.csv"]
    reviews = pl.DataFrame({"row": np.arange(rv.height) + 2, "row_index": np.arange(rv.height),
                            "person_key": key[rv["_p"].to_numpy()], "rating": rv["评分"].cast(pl.Int64),
                            "lang": rv["_lang"], "sentiment": rv["_sent"]})
    out = {"records.parquet": records, "persons.parquet": persons, "campaign.parquet": camp,
           "campaign_effects.csv": effects, "channel_effect.csv": chan, "dirty_rows.csv": dirty,
           "shared_identifiers.csv": shared, "reviews.parquet": reviews}
    for name, frame in out.items():
        (frame.write_parquet(folder / name, compression="zstd") if name.endswith(".parquet")
         else frame.write_csv(folder / name))
    ce = P["channel_effect"]
    rate = dict(zip(chan["group"], chan["buy_rate"], strict=True))
    doc = {
        "generator": {"seed": seed, "people": n, "start": start, "end": end, "module": "persona_kit.synth"},
        "person_key": "P + 7 digits; records.parquet maps every (source, source_customer_id) to it",
        "personas": {p: int((pp["persona"] == i).sum()) for i, p in enumerate(PERSONAS)},
        "campaign": {"id": P["campaign"]["id"], "assigned_on": f"{dt.datetime.fromtimestamp(clock.campaign, dt.UTC):%Y-%m-%d}",
                     "eligible": f"WeChat members registered >= {P['campaign']['min_tenure_days']} days before, consent 是",
                     "arms": P["campaign"]["arms"], "window_days": P["campaign"]["window_days"],
                     "members": camp.height, "effects": effects.filter(pl.col("persona") != "all").to_dicts()},
        "channel_effect": {**ce, "buy_rate_with_touch": rate.get("xiaohongshu_touch_7d"),
                           "buy_rate_without_touch": rate.get("no_xiaohongshu_touch")},
        "shared_identifiers": shared.to_dicts(),
        "dirty_rows": {f"{r['file']}:{r['kind']}": r["n"] for r in dirty.group_by("file", "kind").agg(
            n=pl.len()).sort("file", "kind").to_dicts()},
        "definitions": {"net_spend": "sum of amount over paid order lines that are not planted dirty rows",
                        "row": "the row number io.read_raw gives (CSV/Excel: file line, header = 1; Parquet: 1-based)"}}
    (folder / "truth.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return {f"truth/{k}": v.height for k, v in out.items()}


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in rows])


def _dictionary(summary: dict, dirty: pl.DataFrame, stem: str) -> str:
    """Render DATA_DICTIONARY.md from the vocabularies, the persona parameters and the written counts."""
    P, V = _config()
    enc = {"tmall_orders.csv": "GB18030", "wechat_members.csv": "UTF-8 with BOM", "app_events.parquet": "Parquet",
           "products.xlsx": "Excel"}
    parts = [f"# Synthetic sample — data dictionary\n\nA fictional beauty brand seen through Tmall, its WeChat "
             f"mini-program, its app and its stores: {summary['persons']:,} real persons, seed {summary['seed']}, "
             f"{summary['start']} .. {summary['end']} (Asia/Shanghai). Written by `persona_kit.synth.generate`; "
             f"regenerate with\n\n    persona-kit generate --people {summary['persons']} --seed {summary['seed']} "
             f"--out data/sample\n\nSame arguments give byte-identical files. `raw/` is what the brand exports, "
             "`maps/` maps each raw file to a canonical table (`persona_kit/schema.py`), `truth/` holds the planted "
             "truths — **only tests read truth/; the pipeline never does**.\n",
             "## Files\n\n" + _table(["file", "rows", "encoding / format"], [
                 [f"`{k}`", f"{v:,}", enc.get(Path(k).name, "UTF-8" if k.startswith("raw/") else "")]
                 for k, v in summary["files"].items() if not k.startswith("maps/")])]
    for file, cols in V["columns"].items():
        name = f"{stem}.csv" if file == "campaign.csv" else file
        parts.append(f"### raw/{name}\n\n" + _table(["column", "中文", "meaning"], [[f"`{c}`", zh, en] for c, (zh, en) in cols.items()]))
    maps = [[f"`maps/{Path(m['file'].format(campaign=stem)).stem}.{m['table']}.yaml`", m["source"], m["table"],
             ", ".join(f"{k}: {v}" for k, v in m.get("constants", {}).items())] for m in V["maps"]]
    parts.append("## Column maps\n\n" + _table(["map", "source", "table", "constants"], maps) + (
        "\n\nNotes for loaders: `tmall_orders.csv` is GB18030 and has no line number (the loader numbers lines "
        "within an order); its `实付金额` is the paid amount net of `优惠金额`. `wechat_members.csv` starts with a BOM. "
        "A raw column may feed two canonical columns (`买家会员名: [source_customer_id, taobao_nick]`). "
        "`pos_members.register_date` mixes `%Y-%m-%d`, `%Y/%m/%d` (unpadded, 2024/1/5), `%Y%m%d` and Excel serial "
        "days (`excel` token, days since 1899-12-30); `pos_orders.txn_time` mixes `%Y-%m-%d %H:%M:%S` and "
        "`%Y/%m/%d %H:%M`. Phones carry +86 / 0086 / 86 prefixes, spaces, dashes and full-width digits; emails "
        "vary in case and surrounding spaces. `app_events.event_time` is a naive Parquet timestamp in Asia/Shanghai. "
        "`app_orders.csv` is the app's own order table (its `pay_success` events are these orders). "
        "POS amounts are net of discount (no discount column). Campaign coupons show as `coupon_id = CP2026Q1` "
        "in `wechat_orders.csv`."))
    pers = [[p, f"{P['personas'][p]['share']:.0%}", summary["personas"][p], f"{P['personas'][p]['female']:.0%}",
             "-".join(map(str, P["personas"][p]["age"])), P["personas"][p]["active"], P["personas"][p]["promo_share"],
             P["personas"][p]["orders"][0] + P["personas"][p]["orders"][1], P["personas"][p]["discount"],
             max(P["personas"][p]["categories"], key=P["personas"][p]["categories"].get),
             P["personas"][p]["sessions"][0] + P["personas"][p]["sessions"][1], P["personas"][p]["buy"]]
            for p in PERSONAS]
    ce, C = P["channel_effect"], P["campaign"]
    parts.append("## Planted truths (`truth/`)\n\n" + _table(["file", "what"], [
        ["`records.parquet`", "every source record (source, source_customer_id) → its true `person_key`, persona, "
         "second store card, over-shared identifier"],
        ["`persons.parquet`", "each person: persona, gender, birth date, city / tier, sources, clean paid orders and "
         "net spend, sessions, events, campaign arm"],
        ["`campaign.parquet`", "every campaign member: arm, assignment time and both potential outcomes (30-day "
         "conversion and revenue under control / coupon / reminder)"],
        ["`campaign_effects.csv`", "per persona × treatment arm: planted incremental-order probability, true and "
         "observed conversion uplift, true revenue uplift"],
        ["`channel_effect.csv`", "app sessions and purchase rate per traffic source and with / without a recent 小红书 touch"],
        ["`dirty_rows.csv`", "every planted dirty row: file, row (as `io.read_raw` numbers it), kind, column, key"],
        ["`shared_identifiers.csv`", "identifiers typed on records of different persons"],
        ["`reviews.parquet`", "language and true sentiment of each review row"],
        ["`truth.yaml`", "summary of all of the above"]]))
    parts.append("### Personas\n\nLabels: `persona.<name>` in `persona_kit/resources/labels.yaml`. Parameters: "
                 "`persona_kit/resources/synth_personas.yaml`.\n\n" + _table(
                     ["persona", "share", "persons", "female", "age", "active", "promo share", "orders (mean)",
                      "discount", "top category", "app sessions (mean)", "session buy rate"], pers))
    parts.append(f"### Campaign `{C['id']}` (`raw/{stem}.csv`)\n\nAssigned {C['days_before_end']} days before the end "
                 f"among WeChat members registered ≥ {C['min_tenure_days']} days earlier with marketing consent, at "
                 f"random with P(arm) = {C['arms']}. Treated members get an extra (incremental) mini-program order "
                 f"within {C['window_days']} days with the planted probability below (coupon orders carry a "
                 f"{C['coupon_discount']:.0%} discount); control gets nothing. The effect is large for bargain hunters "
                 "and lapsed members and about zero for the rest.\n\n" + _table(
                     ["persona", "coupon", "reminder"], [[p, P["personas"][p]["campaign"]["coupon"],
                                                          P["personas"][p]["campaign"]["reminder"]] for p in PERSONAS]))
    parts.append(f"### Channel effect\n\nAn app session within {ce['carryover_days']} days after a session from "
                 f"{ce['channel']} (小红书, the session itself included) ends in a purchase {ce['multiplier']}× as often "
                 "as otherwise (see `truth/channel_effect.csv`).")
    parts.append(f"### Identity\n\nEach person has one record per source system they use (Tmall buyers: those with a "
                 f"Tmall order) and ~4 % of store members hold two cards with the same phone. Every record of a person "
                 f"with several records shares a phone, email or unionid (after normalization) with another of them; "
                 f"different persons never share one, except the store phone {P['shared']['store_phone']} typed on "
                 f"store cards of different persons and {P['shared']['test_email']} on app accounts of different persons.")
    counts = dirty.group_by("file", "kind").agg(n=pl.len()).sort("file", "kind")
    parts.append("### Dirty data\n\n" + _table(["file", "kind", "rows", "what"], [
        [f, k, c, V["dirty_kinds"][k]] for f, k, c in counts.iter_rows()]) + "\n\nCancelled (交易关闭 / 已取消 / void) "
                 "and refunded orders are ordinary data, not dirty rows; net spend in `truth/persons.parquet` counts "
                 "paid lines only.")
    return "\n\n".join(parts) + "\n"
