"""Ground shared by every stage of the synthetic sample: constants, the persona parameters and
vocabularies (``resources/synth_*.yaml``), the observation clock and the vectorized draw primitives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import polars as pl
import yaml

from persona_kit.errors import InputError

__all__: list[str] = []  # internal; the public API is persona_kit.synth

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
