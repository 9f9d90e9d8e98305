"""Review sentiment in [0, 1]: Chinese through SnowNLP, English through VADER; both ship their models.

``score_reviews`` adds ``sentiment`` (0 = negative … 1 = positive) and ``sentiment_label`` (``pos`` at
0.6 or above, ``neg`` at 0.4 or below, else ``neu``). Chinese text is scored by SnowNLP's naive Bayes model
(trained on shopping reviews, which is what we score); English by vaderSentiment's compound score mapped
linearly from [-1, 1] to [0, 1]. When the language column is missing or null, a text with any CJK ideograph
is Chinese, anything else English. Each distinct (language, text) is scored once per process (SnowNLP runs at
≈ 490 reviews / s, and reviews repeat). Nothing is downloaded at run time; the libraries load on first use.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import narwhals as nw

from persona_kit.errors import InputError, check_columns

__all__ = ["score_reviews", "score_text", "detect_lang", "POSITIVE_AT", "NEGATIVE_AT"]

POSITIVE_AT = 0.6
NEGATIVE_AT = 0.4
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_lang(text: str | None) -> str | None:
    """``'zh'`` if ``text`` holds a CJK ideograph, ``'en'`` otherwise, None for a missing text.

    >>> detect_lang("质地很清爽"), detect_lang("Love it!"), detect_lang(None)
    ('zh', 'en', None)
    """
    if text is None:
        return None
    return "zh" if _CJK.search(text) else "en"


@functools.cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@functools.cache
def _snownlp() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    from snownlp import SnowNLP

    return SnowNLP


@functools.lru_cache(maxsize=100_000)
def score_text(text: str, lang: str) -> float:
    """Sentiment of one text in [0, 1] (``lang`` 'zh' or 'en'); cached per (text, lang).

    >>> score_text("Great quality, I love it.", "en") > 0.5, score_text("太差了，再也不买了", "zh") < 0.5
    (True, True)
    """
    if lang == "zh":
        return float(_snownlp()(text).sentiments)
    if lang == "en":
        return (float(_vader().polarity_scores(text)["compound"]) + 1.0) / 2.0
    raise InputError(f"lang must be one of ['zh', 'en'], got {lang!r}")


def _label(score: float | None) -> str | None:
    if score is None:
        return None
    return "pos" if score >= POSITIVE_AT else "neg" if score <= NEGATIVE_AT else "neu"


def score_reviews(reviews: Any, *, text_col: str = "text", lang_col: str = "lang") -> Any:
    """Add ``sentiment`` in [0, 1] and ``sentiment_label`` (pos / neu / neg) to each review.

    Parameters
    ----------
    reviews : pandas or polars DataFrame (a polars LazyFrame is collected and returned lazy)
        One row per review with ``text_col``; ``lang_col`` ('zh' / 'en') is optional.
    text_col, lang_col : str
        Column names. Rows whose language is missing are detected from the text (CJK → zh).

    Returns
    -------
    The same kind of frame with ``sentiment`` (Float64, null for a missing text) and ``sentiment_label``.

    Raises
    ------
    InputError
        ``text_col`` missing, or a language other than zh / en.

    Examples
    --------
    >>> import polars as pl
    >>> r = pl.DataFrame({"text": ["物超所值，包装很精致，五星好评。", "差评，味道很刺鼻，不会再买了。",
    ...                            "Terrible, it broke after one day.", None]})
    >>> score_reviews(r)["sentiment_label"].to_list()
    ['pos', 'neg', 'neg', None]
    """
    try:
        native = nw.from_native(reviews)
    except TypeError as err:
        raise InputError(f"reviews: expected a pandas or polars DataFrame, got {type(reviews).__name__}") from err
    lazy = isinstance(native, nw.LazyFrame)
    df = native.collect() if lazy else native
    check_columns(df.columns, [text_col], where="reviews")
    texts = df[text_col].to_list()
    given = df[lang_col].to_list() if lang_col in df.columns else [None] * len(texts)
    langs = [g if isinstance(g, str) else detect_lang(t) for g, t in zip(given, texts, strict=True)]
    bad = sorted({g for g in langs if g is not None and g not in ("zh", "en")})
    if bad:
        raise InputError(f"{lang_col} must be one of ['zh', 'en'], got {bad}")
    distinct = {(t, g) for t, g in zip(texts, langs, strict=True) if isinstance(t, str)}
    scores = {key: score_text(*key) for key in sorted(distinct)}
    values = [scores.get((t, g)) if isinstance(t, str) else None for t, g in zip(texts, langs, strict=True)]
    ns = nw.get_native_namespace(df)
    out = df.with_columns(nw.new_series("sentiment", values, nw.Float64, backend=ns),
                          nw.new_series("sentiment_label", [_label(v) for v in values], nw.String, backend=ns))
    return (out.lazy() if lazy else out).to_native()
