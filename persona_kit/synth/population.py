"""Who is in the sample: the product catalogue, persons, their records per source system with
linking identifiers, and the noise (phone and email formats, addresses) real exports carry."""

from __future__ import annotations

import numpy as np
import polars as pl

from persona_kit.synth.base import (
    _PREFIXES,
    CATEGORIES,
    DAY,
    PERSONAS,
    SOURCES,
    _Clock,
    _config,
    _digits,
    _mat,
    _pick,
    _rand_str,
    _scramble,
)

__all__: list[str] = []  # internal; the public API is persona_kit.synth


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


def _addresses(rng: np.random.Generator, pp: dict, person: np.ndarray) -> pl.Series:
    V, k = _config()[1], len(person)
    cities = [c for t in range(1, 5) for c in V["cities"][t]]
    c = pp["city"][person]
    pick = lambda xs: np.array(xs)[rng.integers(0, len(xs), k)]  # noqa: E731
    return pl.Series(np.char.add(np.char.add(np.char.add(np.char.add(
        np.array([f"{x[2]} {x[0]}市 " for x in cities])[c], pick(V["districts"])), pick(V["roads"])),
        rng.integers(1, 999, k).astype(str)), np.char.add(np.char.add("号", rng.integers(1, 30, k).astype(str)),
                                                         np.char.add("栋", np.char.add(rng.integers(101, 2801, k).astype(str), "室")))))
