"""Altair chart builders with one house look, zh / en labels, and offline rendering.

Every builder reads pandas or polars (through narwhals), **aggregates in Python first** and embeds
only the aggregated rows, so a report never carries raw data and Altair's 5,000-row limit
(``MaxRowsError``) is never reached; a builder refuses (:class:`~persona_kit.errors.InputError`) an
input whose aggregate would still exceed :data:`MAX_ROWS` rows. The data is embedded inline as
JSON records, so Altair's global data-transformer settings do not change what a builder produces.

Axis and legend titles come from the translation table (``col.<field>`` when present, else the field
name); ``title`` is a label key. One house config (font, sizes, palette, width) is applied to each chart
by :func:`_finish` — there is no global theme.

:func:`enable_offline` registers and enables the ``"persona_kit"`` Altair renderer: the first chart of a
page (one kernel = one notebook = one page) carries the vega / vega-lite / vega-embed bundle inline, and
every chart is a ``<div class="pk-chart">`` plus a small script calling that bundle's ``vegaEmbed`` —
no CDN, so exported HTML reports render with no network.

Examples
--------
>>> import polars as pl
>>> df = pl.DataFrame({"source": ["app", "web", "app"], "rows": [3, 2, 1]})
>>> spec = chart_bar(df, x="source", y="rows", lang="en").to_dict()
>>> spec["encoding"]["x"]["title"], spec["encoding"]["y"]["title"]
('Source', 'Rows')
>>> spec["data"]["values"]
[{'source': 'app', 'rows': 4}, {'source': 'web', 'rows': 2}]
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import html
import json
import math
import os
from functools import cache
from pathlib import Path
from typing import Any

import altair as alt
import narwhals.stable.v2 as nw
import numpy as np
from IPython.display import HTML

from persona_kit.errors import InputError, check_columns
from persona_kit.i18n import label_or, t
from persona_kit.io import write_atomic
from persona_kit.report import _fmt_number

__all__ = [
    "FONT", "PALETTE", "MAX_ROWS", "RENDERER", "enable_offline", "bundle_script",
    "chart_bar", "chart_heatmap", "chart_ranges", "chart_hist", "chart_line", "chart_flow", "chart_k_choice", "table",
    "save_chart",
]

FONT = "Noto Sans CJK SC, Noto Sans, sans-serif"
"""House font stack; Noto Sans CJK SC keeps Chinese text in the Simplified Chinese face."""
PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
           "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"]
"""The one categorical palette (vega's tableau10)."""
MAX_ROWS = 5000
"""Most rows a builder embeds after aggregating (Altair's own default limit)."""
RENDERER = "persona_kit"
"""Name of the offline Altair renderer registered by :func:`enable_offline`."""

_WIDTH = 640
_BUNDLE_MARK = "data-pk-bundle"


# --- offline rendering -------------------------------------------------------------------------------

@cache
def _bundle() -> str:
    """Return the vl-convert bundle (vega + vega-lite + vega-embed; ~0.9 MB) for Altair's Vega-Lite."""
    import vl_convert as vlc

    version = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    known = vlc.get_vegalite_versions()
    return vlc.javascript_bundle(vl_version=version if version in known else None)


def bundle_script() -> str:
    """Return the ``<script>`` that defines ``window.vegaEmbed``, guarded to run once per page.

    vl-convert's bundle is a classic script whose top-level ``const`` / ``function`` declarations
    would clash if it ran twice on a page; it is wrapped in a function (so nothing but
    ``window.vegaEmbed`` / ``vega`` / ``vegaLite`` leaks) behind a ``window`` flag.
    """
    code = _bundle().replace("</script", "<\\/script")
    return (f'<script {_BUNDLE_MARK}="1">if(!window.__pkVegaBundle){{window.__pkVegaBundle=true;'
            f"(function(){{\n{code}\n}})();}}</script>")


_EMBED_JS = """<script>(function(){
var id=%(id)s, spec=%(spec)s, tries=0;
function fail(err){
  var el=document.getElementById(id), msg=%(msg)s+": "+((err&&err.message)||err);
  console.error("persona-kit chart "+id+": "+msg, err);
  if(el){el.className+=" pk-chart-error";el.setAttribute("data-pk-error",msg);
    el.style.cssText="color:#b00020;border:1px solid #b00020;padding:8px;font:13px sans-serif";
    el.textContent=msg;}
}
function go(){
  if(typeof window.vegaEmbed!=="function"||!document.getElementById(id)){
    if(++tries>200){fail(typeof window.vegaEmbed!=="function"?%(nobundle)s:"no element #"+id);return;}
    setTimeout(go,50);return;
  }
  try{window.vegaEmbed("#"+id,spec,{renderer:"svg",actions:false,mode:"vega-lite"}).catch(fail);}
  catch(err){fail(err);}
}
go();
})();</script>"""


def _js(value: object) -> str:
    """JSON for inline ``<script>``: ``<`` escaped, so ``</script>`` inside data cannot close the tag."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).replace("<", "\\u003c")


class _OfflineRenderer:
    """Altair renderer: bundle once per page, then one ``vegaEmbed`` call per chart.

    Ids are ``pk-chart-<sha256(spec)[:12]>-<n>`` with ``n`` counting charts in this process, so one run
    of a notebook always produces the same HTML, and two identical charts on a page stay distinct.
    """

    def __init__(self) -> None:
        self.count = 0
        self.bundle_sent = False

    def new_page(self) -> None:
        """Make the next chart carry the bundle again (e.g. after *Restart and run all* in Lab)."""
        self.bundle_sent = False

    def __call__(self, spec: dict[str, Any], **_: Any) -> dict[str, str]:
        self.count += 1
        text = _js(spec)
        chart_id = f"pk-chart-{hashlib.sha256(text.encode()).hexdigest()[:12]}-{self.count}"
        error = f"{t('charts.render_error', 'zh')} / {t('charts.render_error', 'en')}"
        snippet = (f'<div class="pk-chart" id="{chart_id}"></div>'
                   + _EMBED_JS % {"id": _js(chart_id), "spec": text, "msg": _js(error),
                                  "nobundle": _js(t("charts.no_bundle", "en"))})
        if not self.bundle_sent:
            snippet = bundle_script() + snippet
            self.bundle_sent = True
        title = spec.get("title")
        title = title.get("text") if isinstance(title, dict) else title
        plain = f"<chart {title!r}: {t('charts.plain', 'en')}>" if title else f"<chart: {t('charts.plain', 'en')}>"
        return {"text/html": snippet, "text/plain": plain}


def enable_offline() -> None:
    """Register and enable the offline ``"persona_kit"`` renderer (call once, at the top of a notebook).

    Calling it again keeps the chart counter (ids stay unique on the page) and makes the next chart
    carry the bundle again. The renderer emits only ``text/html`` + ``text/plain``, which papermill and
    nbformat accept (Altair's ``mimetype`` renderer emits a Vega-Lite mimetype nbformat rejects).

    Examples
    --------
    >>> enable_offline()
    >>> alt.renderers.active
    'persona_kit'
    >>> _ = alt.renderers.enable("default")  # leave the doctest process as it was
    """
    current = alt.renderers.get() if alt.renderers.active == RENDERER else None
    if isinstance(current, _OfflineRenderer):
        current.new_page()
    else:
        alt.renderers.register(RENDERER, _OfflineRenderer())
    alt.renderers.enable(RENDERER)


# --- reading frames ----------------------------------------------------------------------------------

def _read(df: Any, columns: list[str]) -> nw.DataFrame[Any]:
    """Narwhals eager frame with only ``columns`` (lazy inputs collected after the select)."""
    try:
        frame = nw.from_native(df)
    except TypeError as err:
        raise InputError(f"expected a pandas or polars DataFrame, got {type(df).__name__}") from err
    check_columns(frame.columns, columns, where="chart input")
    frame = frame.select(list(dict.fromkeys(columns)))
    return frame.collect() if isinstance(frame, nw.LazyFrame) else frame


def _jsonable(value: Any) -> Any:
    """A plain JSON value; timestamps as local wall-clock ISO strings (how Vega reads them)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or type(value).__name__ == "NaTType":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00"
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: nw.DataFrame[Any]) -> list[dict[str, Any]]:
    if len(frame) > MAX_ROWS:
        raise InputError(f"{len(frame):,} rows to chart after aggregating (limit {MAX_ROWS:,}); "
                         "filter to the top categories first")
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.rows(named=True)]


def _label(field: str, lang: str) -> str:
    """``t("col.<field>")`` when that label exists, else the field name itself."""
    return label_or(f"col.{field}", lang, field)


def _order(frame: nw.DataFrame[Any], column: str) -> list[Any]:
    """Distinct values of ``column`` in order of first appearance (the caller's order)."""
    return [_jsonable(v) for v in dict.fromkeys(frame.get_column(column).to_list())]


def _count_axis(top: float) -> alt.Axis:
    """Whole-number ticks for counts: Vega ignores ``tickMinStep`` here (0.5 steps for a top of 2),
    so small counts get one tick per unit."""
    return alt.Axis(tickCount=int(top), format="d") if 0 < top <= 15 else alt.Axis(tickMinStep=1)


def _finish(chart: Any, *, lang: str, title: str | None, width: int | None = _WIDTH,
            height: int | None = None) -> Any:
    """Apply the house config: title, size, font, readable sizes, the palette."""
    props: dict[str, Any] = {}
    if title is not None:
        props["title"] = t(title, lang)
    if width is not None:
        props["width"] = width
    if height is not None:
        props["height"] = height
    return (chart.properties(**props)
            .configure(font=FONT)
            .configure_axis(labelFont=FONT, titleFont=FONT, labelFontSize=12, titleFontSize=13,
                            labelLimit=260, titlePadding=8)
            .configure_legend(labelFont=FONT, titleFont=FONT, labelFontSize=12, titleFontSize=13,
                              labelLimit=260)
            .configure_title(font=FONT, fontSize=16, anchor="start", offset=12)
            .configure_range(category=PALETTE)
            .configure_view(stroke=None))


# --- builders ----------------------------------------------------------------------------------------

def chart_bar(df: Any, *, x: str, y: str, color: str | None = None, lang: str = "zh",
              title: str | None = None, horizontal: bool = False, stack: bool = False) -> alt.Chart:
    """Bar chart of ``y`` summed per ``x`` (and ``color``); categories keep the input's order.

    Parameters
    ----------
    df : pandas or polars DataFrame (or polars LazyFrame)
    x : category column (on the vertical axis when ``horizontal``)
    y : numeric column, summed per category
    color : optional second category; bars are grouped side by side, or stacked if ``stack``
    lang : ``"zh"`` or ``"en"``, for axis and legend titles
    title : label key for the chart title
    horizontal : bars left to right, for long category names
    stack : stack the ``color`` groups instead of placing them side by side

    Returns
    -------
    alt.Chart

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"table": ["orders", "events"], "rows": [1200, 56000]})
    >>> chart_bar(df, x="table", y="rows", horizontal=True).to_dict()["encoding"]["y"]["title"]
    '数据表'
    """
    keys = [x] + ([color] if color else [])
    frame = _read(df, keys + [y])
    cats = _order(frame, x)
    groups = _order(frame, color) if color else []
    agg = frame.group_by(keys).agg(nw.col(y).sum())
    rank = {v: i for i, v in enumerate(cats)}
    rows = sorted(_records(agg), key=lambda r: (rank[r[x]], groups.index(r[color]) if color else 0))
    cat_title, val_title = _label(x, lang), _label(y, lang)
    tips = [alt.Tooltip(f, type="nominal", title=_label(f, lang)) for f in keys]
    tips.append(alt.Tooltip(y, type="quantitative", title=val_title, format=","))
    totals: dict[Any, float] = {}  # the longest bar: per category when stacked, else per bar
    for r in rows:
        bar = r[x] if stack or not color else (r[x], r[color])
        totals[bar] = totals.get(bar, 0) + (r[y] or 0)
    whole = frame.schema[y].is_integer()
    val = dict(field=y, type="quantitative", title=val_title, stack="zero" if stack else None,
               axis=_count_axis(max(totals.values(), default=0)) if whole else alt.Undefined)
    if horizontal:
        # the category title sits above the labels, right-aligned to the axis: long labels never hide it
        side = alt.Axis(titleAngle=0, titleAlign="right", titleBaseline="bottom", titleX=0, titleY=-6)
        enc: dict[str, Any] = {"y": alt.Y(x, type="nominal", title=cat_title, sort=cats, axis=side),
                               "x": alt.X(**val)}
    else:
        enc = {"x": alt.X(x, type="nominal", title=cat_title, sort=cats, axis=alt.Axis(labelAngle=0)),
               "y": alt.Y(**val)}
    enc["tooltip"] = tips
    if color:
        enc["color"] = alt.Color(color, type="nominal", title=_label(color, lang), sort=groups)
        if not stack and horizontal:
            enc["yOffset"] = alt.YOffset(color, type="nominal", sort=groups)
        elif not stack:
            enc["xOffset"] = alt.XOffset(color, type="nominal", sort=groups)
    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(**enc)
    bands = len(cats) * (len(groups) if color and not stack else 1)
    height = max(120, 22 * bands) if horizontal else 320
    return _finish(chart, lang=lang, title=title, height=height)


def chart_heatmap(df: Any, *, x: str, y: str, value: str, lang: str = "zh", title: str | None = None,
                  fmt: str = ".0%") -> alt.LayerChart:
    """Heatmap of ``value`` per ``x`` × ``y`` cell, each cell labelled with ``value`` formatted by ``fmt``.

    Each (x, y) pair must appear once (e.g. the missing share per table × column); duplicates raise
    :class:`InputError` rather than being silently averaged.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"table": ["orders", "orders"], "column": ["amount", "channel"],
    ...                    "missing_share": [0.0, 0.25]})
    >>> spec = chart_heatmap(df, x="column", y="table", value="missing_share", lang="en").to_dict()
    >>> spec["layer"][0]["encoding"]["color"]["title"]
    'Missing share'
    """
    frame = _read(df, [x, y, value])
    if len(frame.unique([x, y])) != len(frame):
        raise InputError(f"chart_heatmap: each ({x}, {y}) pair must appear once; aggregate first")
    xs, ys = _order(frame, x), _order(frame, y)
    rows = _records(frame)
    vals = [r[value] for r in rows if r[value] is not None]
    mid = (min(vals) + max(vals)) / 2 if vals else 0
    tips = [alt.Tooltip(x, type="nominal", title=_label(x, lang)),
            alt.Tooltip(y, type="nominal", title=_label(y, lang)),
            alt.Tooltip(value, type="quantitative", title=_label(value, lang), format=fmt)]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X(x, type="nominal", title=_label(x, lang), sort=xs,
                axis=alt.Axis(labelAngle=-40 if len(xs) > 6 else 0, orient="top")),
        y=alt.Y(y, type="nominal", title=_label(y, lang), sort=ys))
    rect = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color(value, type="quantitative", title=_label(value, lang),
                        scale=alt.Scale(scheme="blues", zero=True), legend=alt.Legend(format=fmt)),
        tooltip=tips)
    text = base.transform_filter(f"isValid(datum[{json.dumps(value)}])").mark_text(fontSize=11).encode(
        text=alt.Text(value, type="quantitative", format=fmt),
        color=alt.condition(alt.datum[value] > mid, alt.value("white"), alt.value("#222")))
    longest = max((len(str(v)) for v in xs), default=1)  # wide enough for the column labels, then rotate
    width = min(_WIDTH, max(160, max(56, 8 * min(longest, 12)) * len(xs)))
    return _finish(alt.layer(rect, text), lang=lang, title=title, width=width,
                   height=max(60, 26 * len(ys)))


def chart_ranges(df: Any, *, start: str, end: str, y: str, lang: str = "zh",
                 title: str | None = None) -> alt.LayerChart:
    """Horizontal bars from the earliest ``start`` to the latest ``end`` per ``y`` (e.g. per source).

    ``start`` and ``end`` may name the same column, so raw rows give each group's date coverage.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"source": ["app", "app", "web"],
    ...                    "order_ts": pd.to_datetime(["2024-01-05", "2024-03-01", "2024-02-10"])})
    >>> spec = chart_ranges(df, start="order_ts", end="order_ts", y="source", lang="en").to_dict()
    >>> spec["data"]["values"][0]
    {'source': 'app', 'pk_start': '2024-01-05T00:00:00', 'pk_end': '2024-03-01T00:00:00'}
    """
    frame = _read(df, [y, start, end])
    ys = _order(frame, y)
    agg = frame.group_by(y).agg(nw.col(start).min().alias("pk_start"), nw.col(end).max().alias("pk_end"))
    rank = {v: i for i, v in enumerate(ys)}
    rows = sorted(_records(agg), key=lambda r: rank[r[y]])
    data = alt.Data(values=rows)
    yenc = alt.Y(y, type="nominal", title=_label(y, lang), sort=ys)
    same = start == end
    tips = [alt.Tooltip(y, type="nominal", title=_label(y, lang)),
            alt.Tooltip("pk_start", type="temporal", format="%Y-%m-%d",
                        title=t("col.first_ts", lang) if same else _label(start, lang)),
            alt.Tooltip("pk_end", type="temporal", format="%Y-%m-%d",
                        title=t("col.last_ts", lang) if same else _label(end, lang))]
    xtitle = _label(start, lang) if same else f"{_label(start, lang)} – {_label(end, lang)}"
    bar = alt.Chart(data).mark_bar(height=14, cornerRadius=2).encode(
        x=alt.X("pk_start", type="temporal", title=xtitle, axis=alt.Axis(format=_date_format(rows))),
        x2="pk_end", y=yenc,
        color=alt.Color(y, type="nominal", legend=None, sort=ys), tooltip=tips)
    ends = alt.Chart(data).transform_fold(["pk_start", "pk_end"]).mark_tick(thickness=2, size=18).encode(
        x=alt.X("value", type="temporal"), y=yenc, color=alt.Color(y, type="nominal", legend=None, sort=ys))
    return _finish(alt.layer(bar, ends), lang=lang, title=title, height=max(60, 30 * len(ys)))


def _date_format(rows: list[dict[str, Any]]) -> str:
    """Axis format that always shows the year: ``%Y`` / ``%Y-%m`` / ``%Y-%m-%d`` by the span covered."""
    days = [dt.datetime.fromisoformat(r[k]) for r in rows for k in ("pk_start", "pk_end") if r[k]]
    span = (max(days) - min(days)).days if days else 0
    return "%Y" if span > 3 * 365 else "%Y-%m" if span > 90 else "%Y-%m-%d"


def chart_hist(df: Any, *, x: str, lang: str = "zh", title: str | None = None,
               bins: int = 30) -> alt.Chart:
    """Histogram of numeric column ``x``, binned with numpy so at most ``bins`` rows are embedded.

    Nulls and infinities are left out; the y axis counts rows per bin.

    Examples
    --------
    >>> import polars as pl
    >>> spec = chart_hist(pl.DataFrame({"amount": [1.0, 2.0, 2.5, 9.0]}), x="amount", bins=4).to_dict()
    >>> [r["count"] for r in spec["data"]["values"]]
    [3, 0, 0, 1]
    """
    if not isinstance(bins, int) or bins < 1:
        raise InputError(f"bins must be a positive integer, got {bins!r}")
    frame = _read(df, [x])
    if not frame.schema[x].is_numeric():
        raise InputError(f"chart_hist needs a numeric column, got {frame.schema[x]}", column=x)
    values = frame.get_column(x).drop_nulls().to_numpy().astype(float)
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins)
    rows = [{"bin_start": float(a), "bin_end": float(b), "count": int(c)}
            for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar(binSpacing=1).encode(
        x=alt.X("bin_start", type="quantitative", bin="binned", title=_label(x, lang)),
        x2="bin_end",
        y=alt.Y("count", type="quantitative", title=t("common.count", lang),
                axis=_count_axis(int(counts.max()) if len(counts) else 0)),
        tooltip=[alt.Tooltip("bin_start", type="quantitative", title=_label(x, lang), format=",.4~g"),
                 alt.Tooltip("bin_end", type="quantitative", format=",.4~g"),
                 alt.Tooltip("count", type="quantitative", title=t("common.count", lang), format=",")])
    return _finish(chart, lang=lang, title=title, height=280)


def chart_line(df: Any, *, x: str, y: str, color: str | None = None, lang: str = "zh",
               title: str | None = None, diagonal: bool = False, points: bool = False,
               x_format: str | None = None, y_format: str | None = None) -> alt.Chart:
    """Line chart of numeric ``y`` over numeric or date ``x``, one line per ``color`` value.

    Use it for curves (ROC, gains, Qini, calibration, elbow) and for series over time; rows are
    embedded as given (the caller aggregates), in ``x`` order. ``diagonal`` draws the dashed line
    from the lowest to the highest (x, y) as a reference (random ranking, perfect calibration).

    Examples
    --------
    >>> import polars as pl
    >>> curve = pl.DataFrame({"share": [0.0, 0.5, 1.0], "gain": [0.0, 0.8, 1.0]})
    >>> spec = chart_line(curve, x="share", y="gain", diagonal=True, lang="en").to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['line', 'line']
    """
    keys = [x] + ([color] if color else [])
    frame = _read(df, keys + [y])
    if not frame.schema[y].is_numeric():
        raise InputError(f"chart_line needs a numeric y column, got {frame.schema[y]}", column=y)
    if len(frame) > MAX_ROWS:
        raise InputError(f"chart_line embeds at most {MAX_ROWS:,} points, got {len(frame):,}; "
                         "aggregate or sample the curve first", column=y)
    temporal = frame.schema[x] in (nw.Date, nw.Datetime)
    rows = sorted(_records(frame), key=lambda r: (r[x] is None, r[x]))
    x_type = "temporal" if temporal else "quantitative"
    groups = _order(frame, color) if color else []
    x_axis = alt.Axis(format=x_format) if x_format else alt.Undefined
    y_axis = alt.Axis(format=y_format) if y_format else alt.Undefined
    enc: dict[str, Any] = {
        "x": alt.X(x, type=x_type, title=_label(x, lang), axis=x_axis),
        "y": alt.Y(y, type="quantitative", title=_label(y, lang), axis=y_axis),
        "tooltip": [alt.Tooltip(f, type="nominal", title=_label(f, lang)) for f in keys[1:]]
        + [alt.Tooltip(x, type=x_type, title=_label(x, lang)),
           alt.Tooltip(y, type="quantitative", title=_label(y, lang), format=",.4~g")]}
    if color:
        enc["color"] = alt.Color(color, type="nominal", title=_label(color, lang), sort=groups)
    chart: Any = alt.Chart(alt.Data(values=rows)).mark_line(point=points).encode(**enc)
    if diagonal:
        xs = [r[x] for r in rows if r[x] is not None]
        ys = [r[y] for r in rows if r[y] is not None]
        ends = [{x: min(xs, default=0), y: min(ys, default=0)}, {x: max(xs, default=1), y: max(ys, default=1)}]
        ref = alt.Chart(alt.Data(values=ends)).mark_line(strokeDash=[4, 4], color="#999").encode(
            x=alt.X(x, type=x_type), y=alt.Y(y, type="quantitative"))
        chart = alt.layer(chart, ref)
    return _finish(chart, lang=lang, title=title, height=300)


def chart_flow(df: Any, *, step: str = "step", source: str = "node", target: str = "next_node",
               value: str = "sessions", lang: str = "zh", title: str | None = None,
               height: int = 360) -> alt.LayerChart:
    """Sankey-style flow: one column of nodes per step, bands between them as wide as the flow.

    ``df`` holds links (``step`` = the 1-based column of ``source``; ``target`` sits in the next
    column). Node heights are the larger of the flow in and out; nodes are ordered by size. Altair has
    no Sankey mark: nodes are rectangles and bands are areas drawn in pixel coordinates.

    Examples
    --------
    >>> import polars as pl
    >>> links = pl.DataFrame({"step": [1, 1, 2], "node": ["view", "view", "cart"],
    ...                       "next_node": ["cart", "(exit)", "buy"], "sessions": [6, 4, 3]})
    >>> spec = chart_flow(links, lang="en").to_dict()
    >>> sorted({r["node"] for r in spec["layer"][1]["data"]["values"]})
    ['(exit)', 'buy', 'cart', 'view']
    """
    frame = _read(df, [step, source, target, value])
    links = [(int(r[step]), str(r[source]), str(r[target]), float(r[value] or 0))
             for r in frame.rows(named=True) if (r[value] or 0) > 0]
    if not links:
        raise InputError("chart_flow: no links with a positive value to draw", column=value)
    size: dict[tuple[int, str], list[float]] = {}  # (column, node) -> [in, out]
    for s, a, b, v in links:
        size.setdefault((s, a), [0.0, 0.0])[1] += v
        size.setdefault((s + 1, b), [0.0, 0.0])[0] += v
    cols = sorted({c for c, _ in size})
    first = cols[0]
    nodes = {k: max(v) for k, v in size.items()}
    pad, node_w, label_w = 8.0, 14.0, 120.0
    per_col = {c: sorted([n for (cc, n) in nodes if cc == c], key=lambda n: (n.startswith("("), -nodes[(c, n)], n))
               for c in cols}
    most = max(len(v) for v in per_col.values())
    scale = (height - pad * (most - 1)) / max(sum(nodes[(c, n)] for n in per_col[c]) for c in cols)
    span = (_WIDTH - node_w - label_w) / max(len(cols) - 1, 1)
    top: dict[tuple[int, str], float] = {}
    rects = []
    for c in cols:
        y = 0.0
        for n in per_col[c]:
            top[(c, n)] = y
            h = nodes[(c, n)] * scale
            x = (c - first) * span
            rects.append({"node": n, "x0": x, "x1": x + node_w, "y0": y, "y1": y + h, "ymid": y + h / 2,
                          "xl": x + node_w + 4, "value": nodes[(c, n)],
                          "label": f"{n} {nodes[(c, n)]:,.0f}" if h >= 6 else ""})  # tiny nodes: tooltip only
            y += h + pad
    out_off = {k: 0.0 for k in nodes}
    in_off = {k: 0.0 for k in nodes}
    points = []
    for i, (s, a, b, v) in enumerate(sorted(links, key=lambda r: (r[0], -r[3], r[1], r[2]))):
        w = v * scale
        y0 = top[(s, a)] + out_off[(s, a)] + w / 2
        y1 = top[(s + 1, b)] + in_off[(s + 1, b)] + w / 2
        out_off[(s, a)] += w
        in_off[(s + 1, b)] += w
        x0, x1 = (s - first) * span + node_w, (s + 1 - first) * span
        for k in range(17):
            f = k / 16
            mid = y0 + (y1 - y0) * f * f * (3 - 2 * f)
            half = max(w, 1.0) / 2
            points.append({"link": i, "x": x0 + (x1 - x0) * f, "y": mid - half, "y2": mid + half,
                           "source": a, "target": b, "value": v})
    if len(points) > MAX_ROWS:
        raise InputError(f"chart_flow: {len(links):,} links are too many to draw; keep fewer nodes per step")
    raw = alt.Scale(domain=[0, _WIDTH], range=[0, _WIDTH])
    ys = alt.Scale(domain=[0, height], range=[0, height])
    names = sorted({r["node"] for r in rects})
    color = alt.Color("node", type="nominal", title=_label(source, lang), sort=names, legend=None)
    val_title = _label(value, lang)
    bands = alt.Chart(alt.Data(values=points)).mark_area(opacity=0.35).encode(
        x=alt.X("x", type="quantitative", scale=raw, axis=None),
        y=alt.Y("y", type="quantitative", scale=ys, axis=None), y2="y2",
        detail=alt.Detail("link", type="nominal"),
        color=alt.Color("source", type="nominal", sort=names, scale=alt.Scale(domain=names), legend=None),
        tooltip=[alt.Tooltip("source", type="nominal", title=_label(source, lang)),
                 alt.Tooltip("target", type="nominal", title=_label(target, lang)),
                 alt.Tooltip("value", type="quantitative", title=val_title, format=",")])
    boxes = alt.Chart(alt.Data(values=rects)).mark_rect().encode(
        x=alt.X("x0", type="quantitative", scale=raw, axis=None), x2="x1",
        y=alt.Y("y0", type="quantitative", scale=ys, axis=None), y2="y1",
        color=color.scale(domain=names),
        tooltip=[alt.Tooltip("node", type="nominal", title=_label(source, lang)),
                 alt.Tooltip("value", type="quantitative", title=val_title, format=",")])
    labels = alt.Chart(alt.Data(values=rects)).mark_text(align="left", baseline="middle", fontSize=11).encode(
        x=alt.X("xl", type="quantitative", scale=raw, axis=None),
        y=alt.Y("ymid", type="quantitative", scale=ys, axis=None),
        text=alt.Text("label", type="nominal"))
    return _finish(alt.layer(bands, boxes, labels), lang=lang, title=title, height=height)


def chart_k_choice(df: Any, *, k: str = "k", metrics: tuple[str, ...] = ("silhouette", "inertia"),
                   best: str | None = "best", lang: str = "zh", title: str | None = None) -> alt.HConcatChart:
    """Choice of the number of clusters: one small line chart per metric over whole-number ``k``
    (silhouette, inertia for the elbow), the chosen k (``best`` true) marked in red on each.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"k": [2, 3, 4], "silhouette": [0.4, 0.6, 0.5], "inertia": [90.0, 40.0, 35.0],
    ...                    "best": [False, True, False]})
    >>> spec = chart_k_choice(df, lang="en").to_dict()
    >>> [p["layer"][0]["encoding"]["y"]["title"] for p in spec["hconcat"]], spec["hconcat"][0]["layer"][1]["data"]["values"]
    (['Silhouette', 'Inertia'], [{'k': 3, 'silhouette': 0.6, 'inertia': 40.0, 'best': True}])
    """
    frame = _read(df, [k, *metrics] + ([best] if best else []))
    rows = sorted(_records(frame), key=lambda r: r[k])
    ks = [r[k] for r in rows]
    axis = alt.Axis(values=ks, format="d")
    panels = []
    for metric in metrics:
        enc = {"x": alt.X(k, type="quantitative", title=_label(k, lang), axis=axis, scale=alt.Scale(nice=False)),
               "y": alt.Y(metric, type="quantitative", title=_label(metric, lang), scale=alt.Scale(zero=False)),
               "tooltip": [alt.Tooltip(k, type="quantitative", title=_label(k, lang)),
                           alt.Tooltip(metric, type="quantitative", title=_label(metric, lang), format=",.4~g")]}
        line = alt.Chart(alt.Data(values=rows)).mark_line(point=True).encode(**enc)
        chosen = [r for r in rows if best and r.get(best)]
        mark = alt.Chart(alt.Data(values=chosen)).mark_point(size=140, filled=True, color="#e45756").encode(
            x=enc["x"], y=enc["y"])
        panels.append(alt.layer(line, mark).properties(width=_WIDTH // 2 - 40, height=220))
    return _finish(alt.hconcat(*panels), lang=lang, title=title, width=None)


def chart_effects(df: Any, *, label: str, value: str = "lift", lang: str = "zh", title: str | None = None,
                  title_values: dict[str, Any] | None = None, percent: bool = True) -> alt.LayerChart:
    """Forest plot: each row's ``value`` as a point with its ``ci_low`` – ``ci_high`` interval, and a dashed
    zero line; rows keep the input's order. ``title`` is a label key, filled from ``title_values``.

    >>> import polars as pl
    >>> e = pl.DataFrame({"arm": ["a", "b"], "lift": [0.02, 0.1], "ci_low": [-0.01, 0.05], "ci_high": [0.05, 0.15]})
    >>> [layer["mark"]["type"] for layer in chart_effects(e, label="arm").to_dict()["layer"]]
    ['rule', 'rule', 'point']
    """
    frame = _read(df, [label, value, "ci_low", "ci_high"]).filter(~nw.col(value).is_null())
    rows = _records(frame.select(label, value, "ci_low", "ci_high"))
    order = _order(frame, label)
    fmt = ".1%" if percent else ",.2f"
    title_of = {c: _label(c, lang) for c in (label, value, "ci_low", "ci_high")}
    y = alt.Y(label, type="nominal", sort=order, title=title_of[label])
    tips = [alt.Tooltip(c, type="quantitative", format=fmt, title=title_of[c]) for c in (value, "ci_low", "ci_high")]
    data = alt.Data(values=rows)
    zero = alt.Chart(alt.Data(values=[{"x": 0}])).mark_rule(strokeDash=[4, 4], color="#999").encode(
        x=alt.X("x", type="quantitative"))
    bars = alt.Chart(data).mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low", type="quantitative", title=title_of[value], axis=alt.Axis(format=fmt)),
        x2="ci_high", y=y, tooltip=tips)
    points = alt.Chart(data).mark_point(filled=True, size=70).encode(
        x=alt.X(value, type="quantitative"), y=y,
        tooltip=[alt.Tooltip(label, type="nominal", title=title_of[label]), *tips])
    chart = _finish(alt.layer(zero, bars, points), lang=lang, title=None, height=max(60, 28 * len(rows)))
    return chart.properties(title=t(title, lang, **(title_values or {}))) if title else chart


# --- tables and static files -------------------------------------------------------------------------

# inline styles: JupyterLab's own table rules (right-aligned, specificity 0-2-1) beat a <style> block
_CELL = "padding:4px 10px;border-bottom:{border};text-align:{align};vertical-align:top"
_NUM = ";font-variant-numeric:tabular-nums;white-space:nowrap"
_TABLE_STYLE = f"border-collapse:collapse;font-family:{FONT};font-size:13px;margin:4px 0"
_NOTE_STYLE = f"color:#666;font-family:{FONT};font-size:12px;margin:2px 0 8px"


def _is_share(column: str) -> bool:
    """Columns shown as percentages: shares and rates (``*_share``, ``*_rate``, ``*_conversion``)."""
    return column in ("share", "rate", "conversion") or column.endswith(("_share", "_rate", "_conversion"))


def _cell(value: Any, *, percent: bool = False) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or type(value).__name__ == "NaTType":
        return ""
    if percent and isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.2%}"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | decimal.Decimal):
        return "" if not math.isfinite(value) else _fmt_number(float(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def table(df: Any, *, lang: str = "zh", max_rows: int = 20, title: str | None = None) -> HTML:
    """A readable HTML table: translated headers, thousands separators, at most ``max_rows`` rows.

    Columns named ``share`` or ``*_share`` hold fractions and are shown as percentages.

    Examples
    --------
    >>> import pandas as pd
    >>> out = table(pd.DataFrame({"rows": range(1234)}), lang="en", max_rows=2).data
    >>> "showing 2 of 1,234 rows" in out, out.count('<td class="pk-num"')
    (True, 2)
    >>> ">0.01%<" in table(pd.DataFrame({"quarantined_share": [0.000139]})).data
    True
    """
    if not isinstance(max_rows, int) or max_rows < 1:
        raise InputError(f"max_rows must be a positive integer, got {max_rows!r}")
    try:
        frame = nw.from_native(df)
    except TypeError as err:
        raise InputError(f"expected a pandas or polars DataFrame, got {type(df).__name__}") from err
    if isinstance(frame, nw.LazyFrame):
        total = int(frame.select(nw.len()).collect().item())
        head = frame.head(max_rows).collect()
    else:
        total, head = len(frame), frame.head(max_rows)
    numeric = {c: d.is_numeric() for c, d in head.schema.items()}

    def attrs(column: str, border: str) -> str:
        align = "right" if numeric[column] else "left"
        style = _CELL.format(border=border, align=align) + (_NUM if numeric[column] else "")
        cls = ' class="pk-num"' if numeric[column] else ""
        return f'{cls} style="{style}"'

    th = {c: attrs(c, "2px solid #888") + ' scope="col"' for c in head.columns}
    td = {c: attrs(c, "1px solid #ddd") for c in head.columns}
    out = [f'<table class="pk-table" style="{_TABLE_STYLE}">']
    if title is not None:
        out.append(f'<caption style="text-align:left;font-weight:600;padding:4px 0">'
                   f"{html.escape(t(title, lang))}</caption>")
    out.append("<thead><tr>" + "".join(f"<th{th[c]}>{html.escape(_label(c, lang))}</th>"
                                       for c in head.columns) + "</tr></thead><tbody>")
    for row in head.iter_rows(named=True):
        out.append("<tr>" + "".join(f"<td{td[c]}>{html.escape(_cell(v, percent=_is_share(c)))}</td>"
                                    for c, v in row.items())
                   + "</tr>")
    out.append("</tbody></table>")
    if total > len(head):
        out.append(f'<p class="pk-table-note" style="{_NOTE_STYLE}">'
                   f'{html.escape(t("charts.table_truncated", lang, shown=f"{len(head):,}", total=f"{total:,}"))}'
                   "</p>")
    return HTML("".join(out))


def save_chart(chart: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``chart`` as a static ``.svg`` or ``.png`` (2× scale) with vl-convert; atomic write.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> c = chart_bar(pd.DataFrame({"source": ["a"], "rows": [1]}), x="source", y="rows")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_chart(c, f"{d}/c.svg").read_text(encoding="utf-8").startswith("<svg")
    True
    """
    import vl_convert as vlc

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise InputError(f"save_chart writes .svg or .png, got {suffix or 'no extension'!r}", file=str(path))
    spec = chart.to_dict()
    data: bytes = (vlc.vegalite_to_svg(spec).encode("utf-8") if suffix == ".svg"
                   else vlc.vegalite_to_png(spec, scale=2))
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))
