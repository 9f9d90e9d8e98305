"""Chart builders, the house config, table(), save_chart() and the offline renderer."""

from __future__ import annotations

import datetime as dt
import json
import re

import altair as alt
import numpy as np
import pandas as pd
import polars as pl
import pytest

from persona_kit import charts
from persona_kit.charts import (
    FONT,
    MAX_ROWS,
    PALETTE,
    chart_bar,
    chart_heatmap,
    chart_hist,
    chart_line,
    chart_ranges,
    enable_offline,
    save_chart,
    table,
)
from persona_kit.errors import InputError


@pytest.fixture
def restore_renderer():
    before = alt.renderers.active
    yield
    alt.renderers.enable(before)


SOURCES = {"source": ["app", "web", "app", "门店"], "table": ["orders", "orders", "events", "events"],
           "rows": [1200, 800, 300, 5000]}


# --- builders ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "x_title", "y_title", "legend"),
                         [("zh", "数据源", "行数", "数据表"), ("en", "Source", "Rows", "Table")])
def test_bar_titles_are_translated(frame, lang, x_title, y_title, legend):
    spec = chart_bar(frame(SOURCES), x="source", y="rows", color="table", lang=lang).to_dict()
    enc = spec["encoding"]
    assert (enc["x"]["title"], enc["y"]["title"], enc["color"]["title"]) == (x_title, y_title, legend)


def test_bar_untranslated_field_keeps_its_name_and_title_is_a_label_key(frame):
    spec = chart_bar(frame({"zz_custom": ["a"], "rows": [1]}), x="zz_custom", y="rows", lang="en",
                     title="index.title").to_dict()
    assert spec["encoding"]["x"]["title"] == "zz_custom"
    assert spec["title"] == "Run report"
    with pytest.raises(InputError, match="no label 'not.a.key'"):
        chart_bar(frame({"a": ["x"], "rows": [1]}), x="a", y="rows", title="not.a.key")


def test_bar_sums_per_category_in_input_order(frame):
    spec = chart_bar(frame(SOURCES), x="source", y="rows", lang="en").to_dict()
    assert spec["data"]["values"] == [{"source": "app", "rows": 1500}, {"source": "web", "rows": 800},
                                      {"source": "门店", "rows": 5000}]
    assert spec["encoding"]["x"]["sort"] == ["app", "web", "门店"]


def test_bar_horizontal_grouped_and_stacked(frame):
    grouped = chart_bar(frame(SOURCES), x="source", y="rows", color="table", horizontal=True).to_dict()
    assert grouped["encoding"]["y"]["field"] == "source" and grouped["encoding"]["x"]["field"] == "rows"
    assert grouped["encoding"]["yOffset"]["field"] == "table"
    assert grouped["encoding"]["x"]["stack"] is None
    stacked = chart_bar(frame(SOURCES), x="source", y="rows", color="table", stack=True).to_dict()
    assert "xOffset" not in stacked["encoding"] and stacked["encoding"]["y"]["stack"] == "zero"


def test_house_config_is_applied_per_chart_without_global_theme(frame):
    theme_before = alt.theme.active
    spec = chart_bar(frame(SOURCES), x="source", y="rows").to_dict()
    assert spec["config"]["font"] == FONT == "Noto Sans CJK SC, Noto Sans, sans-serif"
    assert spec["config"]["range"]["category"] == PALETTE
    assert spec["config"]["axis"]["labelFontSize"] >= 12
    assert spec["width"] == 640
    assert alt.theme.active == theme_before


def test_heatmap_cells_labels_and_duplicates(frame):
    df = frame({"table": ["orders", "orders", "events"], "column": ["amount", "channel", "amount"],
                "missing_share": [0.0, 0.25, 0.5]})
    spec = chart_heatmap(df, x="column", y="table", value="missing_share", lang="en").to_dict()
    rect, text = spec["layer"]
    assert rect["encoding"]["color"]["title"] == "Missing share"
    assert rect["encoding"]["color"]["legend"]["format"] == ".0%"
    assert text["encoding"]["text"]["format"] == ".0%"
    assert len(spec["data"]["values"]) == 3
    assert text["transform"] == [{"filter": 'isValid(datum["missing_share"])'}]  # no "null" written in a cell
    dup = frame({"table": ["orders", "orders"], "column": ["amount", "amount"], "missing_share": [0.1, 0.2]})
    with pytest.raises(InputError, match=r"each \(column, table\) pair must appear once"):
        chart_heatmap(dup, x="column", y="table", value="missing_share")


def test_ranges_take_min_start_and_max_end(frame):
    df = frame({"source": ["app", "app", "web"],
                "first": [dt.datetime(2024, 1, 5), dt.datetime(2023, 12, 1), dt.datetime(2024, 2, 1)],
                "last": [dt.datetime(2024, 3, 1, 12, 30), dt.datetime(2024, 2, 1), dt.datetime(2024, 2, 2)]})
    spec = chart_ranges(df, start="first", end="last", y="source", lang="zh").to_dict()
    assert spec["data"]["values"] == [
        {"source": "app", "pk_start": "2023-12-01T00:00:00", "pk_end": "2024-03-01T12:30:00"},
        {"source": "web", "pk_start": "2024-02-01T00:00:00", "pk_end": "2024-02-02T00:00:00"}]
    assert spec["layer"][0]["encoding"]["y"]["title"] == "数据源"


def test_ranges_keep_wall_clock_of_aware_timestamps_and_show_the_year():
    ts = pl.Series([dt.datetime(2010, 12, 1, 8, 26), dt.datetime(2011, 12, 9, 12, 50)]).dt.replace_time_zone(
        "Europe/London")
    spec = chart_ranges(pl.DataFrame({"file": ["a", "a"], "ts": ts}), start="ts", end="ts", y="file").to_dict()
    assert spec["data"]["values"] == [{"file": "a", "pk_start": "2010-12-01T08:26:00",
                                       "pk_end": "2011-12-09T12:50:00"}]
    assert spec["layer"][0]["encoding"]["x"]["axis"]["format"] == "%Y-%m"


def test_integer_values_get_whole_ticks(frame):
    small = chart_bar(frame({"reason": ["a", "a"], "k": ["x", "y"], "rows": [2, 1]}), x="reason", y="rows",
                      color="k", stack=True).to_dict()
    assert small["encoding"]["y"]["axis"] == {"tickCount": 3, "format": "d"}
    large = chart_bar(frame({"reason": ["a"], "rows": [200]}), x="reason", y="rows").to_dict()
    assert large["encoding"]["y"]["axis"] == {"tickMinStep": 1}
    shares = chart_bar(frame({"reason": ["a"], "share": [0.5]}), x="reason", y="share").to_dict()
    assert "axis" not in shares["encoding"]["y"]


def test_hist_aggregates_large_input(frame):
    rng = np.random.default_rng(7)
    values = rng.lognormal(4, 1, 100_000)
    spec = chart_hist(frame({"amount": values}), x="amount", bins=30, lang="en").to_dict()
    rows = spec["data"]["values"]
    assert len(rows) <= 30
    assert sum(r["count"] for r in rows) == 100_000
    assert spec["encoding"]["x"]["title"] == "Amount" and spec["encoding"]["y"]["title"] == "Count"
    assert len(json.dumps(spec)) < 20_000  # no raw rows embedded


def test_hist_drops_nulls_and_rejects_text(frame):
    spec = chart_hist(frame({"amount": [1.0, None, 3.0]}), x="amount", bins=2).to_dict()
    assert [r["count"] for r in spec["data"]["values"]] == [1, 1]
    with pytest.raises(InputError, match="chart_hist needs a numeric column"):
        chart_hist(frame({"amount": ["a", "b"]}), x="amount")
    with pytest.raises(InputError, match="bins must be a positive integer, got 0"):
        chart_hist(frame({"amount": [1.0]}), x="amount", bins=0)


def test_line_sorts_points_draws_the_diagonal_and_refuses_text(frame):
    curve = frame({"share": [1.0, 0.0, 0.5, 0.5], "gain": [1.0, 0.0, 0.7, 0.4], "model": ["m", "m", "m", "r"]})
    spec = chart_line(curve, x="share", y="gain", color="model", diagonal=True, lang="en").to_dict()
    line, ref = spec["layer"]
    assert [r["share"] for r in line["data"]["values"]] == [0.0, 0.5, 0.5, 1.0]
    assert ref["data"]["values"] == [{"share": 0.0, "gain": 0.0}, {"share": 1.0, "gain": 1.0}]
    assert line["encoding"]["color"]["sort"] == ["m", "r"]
    days = frame({"day": pd.to_datetime(["2024-01-02", "2024-01-01"]), "n": [2, 1]})
    assert chart_line(days, x="day", y="n").to_dict()["encoding"]["x"]["type"] == "temporal"
    with pytest.raises(InputError, match="chart_line needs a numeric y column"):
        chart_line(frame({"share": [0.1], "gain": ["a"]}), x="share", y="gain")


def test_builders_name_missing_columns(frame):
    with pytest.raises(InputError, match=r"missing columns \['rowz'\].*did you mean 'rows' for 'rowz'"):
        chart_bar(frame(SOURCES), x="source", y="rowz")
    with pytest.raises(InputError, match="expected a pandas or polars DataFrame, got dict"):
        chart_bar(SOURCES, x="source", y="rows")


def test_too_many_categories_are_refused(frame):
    n = MAX_ROWS + 1
    with pytest.raises(InputError, match=r"5,001 rows to chart after aggregating \(limit 5,000\)"):
        chart_bar(frame({"k": [f"c{i}" for i in range(n)], "rows": [1] * n}), x="k", y="rows")


def test_polars_lazyframe_is_accepted():
    spec = chart_bar(pl.LazyFrame(SOURCES), x="source", y="rows").to_dict()
    assert len(spec["data"]["values"]) == 3


# --- table -------------------------------------------------------------------------------------------

def test_table_truncates_with_a_translated_note(frame):
    df = frame({"source": ["a<b>"] * 1234, "rows": list(range(1234)), "share": [0.123456] * 1234})
    zh = table(df, max_rows=20).data
    assert zh.count("<tr>") == 21  # header + 20 rows
    assert "显示前 20 行，共 1,234 行" in zh
    assert re.search(r'<th style="[^"]*text-align:left[^"]*" scope="col">数据源</th>', zh)
    assert "a&lt;b&gt;" in zh and "a<b>" not in zh
    en = table(df, lang="en", max_rows=20, title="index.inputs").data
    assert "showing 20 of 1,234 rows" in en and re.search(r"<caption[^>]*>Input files</caption>", en)
    assert re.search(r'<td class="pk-num" style="[^"]*text-align:right[^"]*">19</td>', en)
    assert re.search(r'<th class="pk-num" style="[^"]*" scope="col">Share</th>', en)
    assert "12.35%" in en  # share columns are percentages


def test_table_formats_thousands_and_no_note_when_complete(frame):
    out = table(frame({"rows": [1234567], "amount": [1234.5]}), lang="en").data
    assert "1,234,567" in out and "1,234.50" in out and "showing" not in out


@pytest.mark.parametrize(("value", "text"), [(3.691e-06, "0.000003691"), (0.2493, "0.2493"), (0.25, "0.25"),
                                             (12.345, "12.35"), (5.0, "5"), (float("nan"), ""), (None, "")])
def test_table_numbers_never_use_scientific_notation(value, text):
    out = table(pd.DataFrame({"value": [value, 1.5]}), lang="en").data
    assert re.search(rf'<td class="pk-num" style="[^"]*">{re.escape(text)}</td>', out), out


def test_table_shows_share_columns_as_percentages():
    out = table(pl.DataFrame({"share": [0.2493], "quarantined_share": [3.691e-06], "rows": [3]}), lang="en").data
    cells = re.findall(r'<td class="pk-num" style="[^"]*">([^<]*)</td>', out)
    assert cells == ["24.93%", "0.00%", "3"]
    rates = table(pl.DataFrame({"purchase_rate": [0.125], "step_conversion": [0.5], "bounce_rate_30d": [0.5]}),
                  lang="en").data
    assert re.findall(r'<td class="pk-num" style="[^"]*">([^<]*)</td>', rates) == ["12.50%", "50.00%", "0.5"]


def test_table_counts_a_lazyframe_without_collecting_it_all():
    out = table(pl.LazyFrame({"rows": range(50)}), lang="en", max_rows=5).data
    assert "showing 5 of 50 rows" in out


# --- save_chart --------------------------------------------------------------------------------------

def test_save_chart_svg_png_and_bad_extension(tmp_path, frame):
    chart = chart_bar(frame(SOURCES), x="source", y="rows", title="index.title")
    svg = save_chart(chart, tmp_path / "c.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "运行报告" in svg
    png = save_chart(chart, tmp_path / "sub" / "c.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["c.png", "c.svg", "sub"]  # no temp files left
    with pytest.raises(InputError, match="save_chart writes .svg or .png, got '.pdf'"):
        save_chart(chart, tmp_path / "c.pdf")


# --- offline renderer --------------------------------------------------------------------------------

def _two_charts():
    df = pd.DataFrame(SOURCES)
    return chart_bar(df, x="source", y="rows"), chart_hist(df, x="rows", bins=5)


def test_renderer_sends_the_bundle_once_with_deterministic_ids():
    first, second = charts._OfflineRenderer(), charts._OfflineRenderer()
    a, b = _two_charts()
    out1 = [first(c.to_dict()) for c in (a, b)]
    out2 = [second(c.to_dict()) for c in (a, b)]
    assert out1 == out2  # same charts in a fresh process → identical HTML
    html = [o["text/html"] for o in out1]
    assert html[0].count("data-pk-bundle") == 1 and "data-pk-bundle" not in html[1]
    assert "window.vegaEmbed=" in html[0] and len(html[0]) > 500_000 and len(html[1]) < 20_000
    ids = [re.search(r'<div class="pk-chart" id="(pk-chart-[0-9a-f]{12}-\d+)"></div>', h).group(1) for h in html]
    assert ids[0].endswith("-1") and ids[1].endswith("-2")
    assert all('vegaEmbed("#"+id' in h and '"svg"' in h and "actions:false" in h for h in html)
    assert set(out1[0]) == {"text/html", "text/plain"}


def test_same_chart_twice_gets_distinct_ids_and_new_page_resends_bundle():
    r = charts._OfflineRenderer()
    a, _ = _two_charts()
    h1, h2 = r(a.to_dict())["text/html"], r(a.to_dict())["text/html"]
    id1, id2 = (re.search(r'id="(pk-chart-[^"]+)"', h).group(1) for h in (h1, h2))
    assert id1 != id2 and id1.rsplit("-", 1)[0] == id2.rsplit("-", 1)[0]
    r.new_page()
    assert "data-pk-bundle" in r(a.to_dict())["text/html"]


def test_bundle_is_a_guarded_classic_script():
    script = charts.bundle_script()
    assert script.startswith('<script data-pk-bundle="1">if(!window.__pkVegaBundle)')
    assert "</script" not in script[:-len("</script>")] and "import(" not in script
    assert external_hosts(script) <= {"vega.github.io", "github.com", "www.w3.org"}  # strings, not loads


def external_hosts(text: str) -> set[str]:
    return set(re.findall(r"https?://([a-z0-9.-]+)", text))


def test_spec_text_cannot_close_the_script_tag():
    r = charts._OfflineRenderer()
    r.bundle_sent = True
    chart = chart_bar(pd.DataFrame({"source": ["</script><b>x"], "rows": [1]}), x="source", y="rows")
    html = r(chart.to_dict())["text/html"]
    assert html.count("</script>") == 1 and "\\u003c/script>\\u003cb>x" in html


def test_enable_offline_registers_the_renderer(restore_renderer):
    enable_offline()
    assert alt.renderers.active == "persona_kit"
    renderer = alt.renderers.get()
    enable_offline()  # again: same renderer, counter kept, bundle re-sent on the next chart
    assert alt.renderers.get() is renderer and renderer.bundle_sent is False
    a, b = _two_charts()
    bundle = a._repr_mimebundle_()
    assert "data-pk-bundle" in bundle["text/html"]
    assert "data-pk-bundle" not in b._repr_mimebundle_()["text/html"]
    assert not any(k.startswith("application/vnd.vegalite") for k in bundle)
