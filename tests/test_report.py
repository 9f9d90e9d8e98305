"""Offline HTML export of an executed notebook, external_references(), and the run index."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from persona_kit import charts
from persona_kit.errors import InputError
from persona_kit.report import export_html, external_references, headline_chart, write_index

CODE_MARKER = "PK_CODE_MARKER = 1"
HIDDEN_MARKER = "SECRET-NOTE for analysts only"
PRINTED = "中文输出：数据质量良好"


def tiny_notebook() -> nbformat.NotebookNode:
    nb = new_notebook(cells=[
        new_markdown_cell("# 测试报告 · Test report\nA tiny notebook with two charts and a table."),
        new_code_cell('lang: str = "en"  # report language: zh or en', metadata={"tags": ["parameters"]}),
        new_code_cell(f"import pandas as pd\n\nfrom persona_kit import charts\n\ncharts.enable_offline()\n{CODE_MARKER}"),
        new_code_cell('df = pd.DataFrame({"source": ["app", "web", "门店"], "rows": [1200, 800, 5000]})\n'
                      'charts.chart_bar(df, x="source", y="rows", lang=lang, title="index.title")'),
        new_code_cell('charts.chart_hist(pd.DataFrame({"amount": range(10_000)}), x="amount", lang=lang)'),
        new_code_cell("charts.table(df, lang=lang, max_rows=2)"),
        new_markdown_cell(HIDDEN_MARKER, metadata={"tags": ["hide-in-report"]}),
        new_code_cell(f'print("{PRINTED}")'),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # fixed ids, like the committed notebooks (nbformat makes random ones)
    return nb


def execute(folder: Path) -> Path:
    import papermill as pm

    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(tiny_notebook(), folder / "tiny.ipynb")
    pm.execute_notebook(str(folder / "tiny.ipynb"), str(folder / "tiny.out.ipynb"), parameters={"lang": "zh"},
                        kernel_name="python3", progress_bar=False, cwd=str(folder))
    return folder / "tiny.out.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    return execute(tmp_path_factory.mktemp("run1"))


@pytest.fixture(scope="module")
def report_html(executed) -> Path:
    return export_html(executed, executed.parent / "tiny.html", lang="zh")


# --- export_html -------------------------------------------------------------------------------------

def test_export_is_offline_and_reads_as_a_report(report_html):
    html = report_html.read_text(encoding="utf-8")
    assert external_references(html) == []
    assert re.search(r"<html[^>]*>", html).group(0) == '<html lang="zh-CN">'
    assert "<title>测试报告 · Test report</title>" in html
    assert HIDDEN_MARKER not in html  # hide-in-report cell removed
    assert "PK_CODE_MARKER" not in html and 'class="highlight hl-ipython3"' not in html  # code hidden
    assert PRINTED in html and "显示前 2 行，共 3 行" in html
    assert html.count('class="pk-chart"') == 2 and html.count("data-pk-bundle") == 1
    for cdn in ("cdnjs", "require.min.js", "MathJax.js", "mermaid.esm", "unpkg", "jsdelivr"):
        assert cdn not in html, cdn


def test_export_show_code_and_english(executed, tmp_path):
    html = export_html(executed, tmp_path / "code.html", lang="en", show_code=True).read_text(encoding="utf-8")
    assert "PK_CODE_MARKER" in html and html.count('class="highlight hl-ipython3"') == 7
    assert '<html lang="en">' in html and HIDDEN_MARKER not in html
    assert external_references(html) == []


@pytest.mark.slow
def test_same_run_gives_identical_html(report_html, tmp_path):
    again = export_html(execute(tmp_path), tmp_path / "tiny.html", lang="zh")
    assert again.read_text(encoding="utf-8") == report_html.read_text(encoding="utf-8")


def test_export_strips_widgets_and_restores_a_removed_bundle(tmp_path):
    renderer = charts._OfflineRenderer()
    bar = charts.chart_bar(pd.DataFrame({"source": ["a"], "rows": [1]}), x="source", y="rows")
    first, second = renderer(bar.to_dict()), renderer(bar.to_dict())
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                            "version_minor": 0},
              "text/plain": "IntSlider(value=3)"}
    nb = new_notebook(cells=[
        new_markdown_cell("Intro without a heading"),
        new_code_cell("chart_one", metadata={"tags": ["hide-in-report"]},
                      outputs=[new_output("display_data", data=first)]),
        new_code_cell("chart_two", outputs=[new_output("display_data", data=second)]),
        new_code_cell("slider", outputs=[new_output("display_data", data=widget)]),
        new_code_cell("md", outputs=[new_output("display_data", data={"text/markdown": "## 小标题 *one*"})]),
    ], metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}})
    nbformat.write(nb, tmp_path / "w.ipynb")
    html = export_html(tmp_path / "w.ipynb", tmp_path / "w.html").read_text(encoding="utf-8")
    assert external_references(html) == []
    assert "widget-state" not in html and "widget-view" not in html and "IntSlider(value=3)" in html
    head = html[:html.index("</head>")]
    assert head.count("data-pk-bundle") == 1 and html.count("data-pk-bundle") == 1
    assert html.count('class="pk-chart"') == 1
    assert "<title>小标题 one</title>" in html  # first heading a reader sees, from a Markdown output


def test_a_failed_run_exports_with_its_error(tmp_path):
    import papermill as pm

    nb = tiny_notebook()
    nb.cells.insert(4, new_code_cell('raise KeyError("amount")'))
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(pm.PapermillExecutionError):
        pm.execute_notebook(str(tmp_path / "bad.ipynb"), str(tmp_path / "bad.out.ipynb"), kernel_name="python3",
                            progress_bar=False, cwd=str(tmp_path))
    html = export_html(tmp_path / "bad.out.ipynb", tmp_path / "bad.html").read_text(encoding="utf-8")
    assert external_references(html) == [] and "KeyError" in html and "amount" in html
    assert html.count('class="pk-chart"') == 1 and html.count("data-pk-bundle") == 1


def test_export_leaves_out_stderr_warnings(tmp_path, caplog):
    noise = "FutureWarning: PySpark does not yet fully support pandas"
    nb = new_notebook(cells=[new_code_cell("x", outputs=[
        new_output("stream", name="stderr", text=f"/site-packages/pyspark/pandas/__init__.py:33: {noise}\n"),
        new_output("stream", name="stdout", text="读入 285,981 行\n")])])
    nbformat.write(nb, tmp_path / "w.ipynb")
    html = export_html(tmp_path / "w.ipynb", tmp_path / "w.html").read_text(encoding="utf-8")
    assert noise not in html and "读入 285,981 行" in html
    assert any("stderr left out of the report" in r.getMessage() and noise in r.getMessage() for r in caplog.records)


def test_export_missing_notebook_and_bad_lang(tmp_path):
    with pytest.raises(InputError, match="nope.ipynb: notebook not found"):
        export_html(tmp_path / "nope.ipynb", tmp_path / "x.html")
    with pytest.raises(InputError, match="lang must be one of"):
        export_html(tmp_path / "nope.ipynb", tmp_path / "x.html", lang="fr")


@pytest.mark.parametrize(("snippet", "expected"), [
    ('<script src="https://cdn.x/a.js"></script>', ["https://cdn.x/a.js"]),
    ('<script src="lib/a.js"></script><script src="file:///tmp/a.js"></script>', []),
    ('<link rel="stylesheet" href="//fonts.x/css"><link rel="canonical" href="https://x/">', ["//fonts.x/css"]),
    ('<img srcset="a.png 1x, http://x/b.png 2x"><iframe src="about:blank"></iframe>', ["http://x/b.png"]),
    ("<style>@import url('https://x/a.css'); p{background:url(\"http://x/b.png\")}</style>",
     ["https://x/a.css", "http://x/b.png"]),
    ('<div style="background-image:url(https://x/c.png)"></div>', ["https://x/c.png"]),
    ('<a href="https://example.org">a link is not a fetch</a><img src="#x"><img src="data:,">', []),
    ('<svg><image href="https://x/i.png"/><use xlink:href="https://x/s.svg#a"/></svg>',
     ["https://x/i.png", "https://x/s.svg#a"]),
    ('<script>var u = "https://in.js/string";</script><img src="C:/data/x.png">', []),
])
def test_external_references(snippet, expected):
    assert external_references(snippet) == expected


# --- write_index -------------------------------------------------------------------------------------

RUN = {
    "run": "sample", "status": "failed", "started": "2026-11-23T10:00:00+08:00",
    "finished": "2026-11-23T10:00:12+08:00", "duration_s": 12.3, "lang": "zh",
    "params": {"sources": "data/sample/maps", "lang": "zh"},
    "steps": [
        {"step": "01_data_quality", "title": {"zh": "数据质量", "en": "Data quality"},
         "notebook": "notebooks/01_data_quality.ipynb", "status": "ok", "duration_s": 5.1,
         "html": "01_data_quality.html", "error": None, "params": {"sources": "data/sample/maps"},
         "summary": {"rows_in": 123456, "quarantined": 321}},
        {"step": "02_clean", "title": {"zh": "清洗", "en": "Cleaning"}, "notebook": "notebooks/02_clean.ipynb",
         "status": "failed", "duration_s": 2.0, "html": "02_clean.html",
         "error": "KeyError: 'amount' <in cell 4>", "params": {}, "summary": {}},
        {"step": "03_identity", "title": {"zh": "身份打通", "en": "OneID"}, "status": "skipped",
         "duration_s": None, "html": None, "error": None, "summary": {}},
    ],
    "lineage": {"git_sha": "abc123def4567890", "git_dirty": True, "python": "3.11.7",
                "platform": "Linux-6.1-x86_64", "packages": {"polars": "2.1.0", "altair": "6.3.0"},
                "inputs": [{"path": "data/sample/raw/x.csv", "sha256": "f" * 64, "bytes": 1234567}]},
}


def test_index_is_self_contained_and_complete(tmp_path):
    html = write_index(tmp_path, RUN).read_text(encoding="utf-8")
    assert external_references(html) == [] and "<script" not in html and "<link" not in html
    assert '<html lang="zh-CN">' in html and "<title>运行报告 · sample</title>" in html
    for badge in ('class="badge ok">成功', 'class="badge failed">失败', 'class="badge skipped">跳过'):
        assert badge in html
    assert '<a href="01_data_quality.html">数据质量</a>' in html and '<a href="02_clean.html">清洗</a>' in html
    assert "KeyError: &#x27;amount&#x27; &lt;in cell 4&gt;" in html  # error shown, escaped
    assert "无报告" in html  # the skipped step has no HTML
    assert "123,456" in html and "5.1 秒" in html
    assert "共 3 步：1 成功，1 失败，1 跳过" in html
    assert "abc123def456<" in html and "有未提交的修改" in html
    assert "ffffffffffff<" in html and "1.2 MB" in html and "data/sample/raw/x.csv" in html
    assert "polars" in html and "2.1.0" in html and "2026-11-23 10:00:00+08:00" in html
    assert "@media print" in html


def test_index_in_english(tmp_path):
    html = write_index(tmp_path, RUN, lang="en").read_text(encoding="utf-8")
    assert '<html lang="en">' in html and ">Data quality</a>" in html and "uncommitted changes" in html
    assert "3 steps: 1 ok, 1 failed, 1 skipped" in html and "Input files" in html


def test_index_rejects_bad_input(tmp_path):
    bad = {**RUN, "steps": [{**RUN["steps"][0], "status": "done"}]}
    with pytest.raises(InputError, match="status of step '01_data_quality' must be one of"):
        write_index(tmp_path, bad)
    with pytest.raises(InputError, match="run has no 'steps' list"):
        write_index(tmp_path, {"run": "x"})


# --- in the browser ----------------------------------------------------------------------------------

@pytest.mark.browser
def test_report_renders_offline_in_chromium(report_html, open_offline, image_stats):
    page = open_offline(report_html)
    assert (page.charts_expected, page.charts_rendered) == (2, 2), page.chart_errors
    assert page.external_requests == [] and page.console_errors == [] and page.page_errors == []
    assert page.lang == "zh-CN" and page.title == "测试报告 · Test report"
    stats = image_stats(page.screenshot)
    assert stats["std"] > 20 and stats["ink"] > 0.02 and stats["colors"] > 30, stats


@pytest.mark.browser
def test_broken_chart_shows_an_error_not_a_blank(tmp_path, open_offline):
    renderer = charts._OfflineRenderer()
    good = renderer({"mark": "bar", "data": {"values": [{"a": 1}]}, "encoding": {"x": {"field": "a"}}})
    bad = renderer({"mark": "no-such-mark", "data": {"values": [{"a": 1}]}, "encoding": {"x": {"field": "a"}}})
    page = tmp_path / "broken.html"
    page.write_text(f'<!DOCTYPE html><html lang="en"><meta charset="utf-8"><body>{good["text/html"]}'
                    f'{bad["text/html"]}</body></html>', encoding="utf-8")
    result = open_offline(page)
    assert result.charts_expected == 2 and result.charts_rendered == 1 and not result.timed_out
    assert len(result.chart_errors) == 1 and "Chart failed to render" in result.chart_errors[0]
    assert any("persona-kit chart" in e for e in result.console_errors)


@pytest.mark.browser
def test_index_opens_offline_in_chromium(tmp_path, open_offline, image_stats):
    for step in RUN["steps"]:
        if step["html"]:
            (tmp_path / step["html"]).write_text("<!DOCTYPE html><title>x</title>", encoding="utf-8")
    page = open_offline(write_index(tmp_path, RUN))
    assert page.external_requests == [] and page.console_errors == [] and page.page_errors == []
    assert page.charts_expected == 0 and page.title == "运行报告 · sample"
    stats = image_stats(page.screenshot)
    assert stats["std"] > 10 and stats["colors"] > 10, stats


# --- headline charts on the index --------------------------------------------------------------------

def _chart_report(folder: Path, name: str, titles: list[str], headline: int | None = None) -> Path:
    """An exported report with one bar chart per title; the chart number ``headline`` in a tagged cell."""
    renderer = charts._OfflineRenderer()
    cells = [new_markdown_cell(f"# {name}")]
    for i, title in enumerate(titles):
        frame = pd.DataFrame({"source": ["门店", "app"], "rows": [5000 + i, 1200]})
        spec = charts.chart_bar(frame, x="source", y="rows", title="index.title").properties(title=title).to_dict()
        cells.append(new_code_cell("chart", metadata={"tags": ["headline"] if i == headline else []},
                                   outputs=[new_output("display_data", data=renderer(spec))]))
    nbformat.write(new_notebook(cells=cells), folder / f"{name}.ipynb")
    return export_html(folder / f"{name}.ipynb", folder / f"{name}.html")


def test_headline_chart_is_the_tagged_one_else_the_first(tmp_path):
    assert headline_chart(_chart_report(tmp_path, "plain", ["第一张", "second"]))["title"] == "第一张"
    assert headline_chart(_chart_report(tmp_path, "tagged", ["first", "第二张"], headline=1))["title"] == "第二张"
    assert headline_chart(_chart_report(tmp_path, "none", [])) is None


def _index_with_charts(folder: Path, **kwargs) -> Path:
    _chart_report(folder, "01_data_quality", ["来源行数", "other"])
    _chart_report(folder, "02_clean", [])  # the failed step's report shows no chart
    return write_index(folder, RUN, **kwargs)


def test_index_shows_each_reports_headline_chart(tmp_path):
    import base64

    html = _index_with_charts(tmp_path).read_text(encoding="utf-8")
    assert external_references(html) == [] and "<script" not in html
    thumbs = re.findall(r'<td class=thumb>(.*?)</td>', html)
    assert len(thumbs) == 3 and thumbs[1:] == ["", ""]  # failed step without charts, skipped step
    link, uri = re.fullmatch(r'<a href="([^"]+)"><img src="data:image/svg\+xml;base64,([^"]+)" alt="来源行数"></a>',
                             thumbs[0]).groups()
    svg = base64.b64decode(uri).decode("utf-8")
    assert link == "01_data_quality.html" and svg.startswith("<svg") and "来源行数" in svg and "5,000" in svg
    assert "<td class=thumb>" not in write_index(tmp_path, RUN, thumbnails=False).read_text(encoding="utf-8")
    bare = tmp_path / "bare"
    bare.mkdir()
    assert "<td class=thumb>" not in write_index(bare, RUN).read_text(encoding="utf-8")  # reports not there
    (bare / "01_data_quality.html").write_text('<div class="pk-chart"></div><script>var id="pk-chart-0a-1", '
                                               'spec={"mark": "no-such-mark"}, tries=0;</script>')
    (bare / "02_clean.html").write_text('var id="pk-chart-0b-1", spec={"mark": "bar", ')  # cut short
    assert "<td class=thumb>" not in write_index(bare, RUN).read_text(encoding="utf-8")  # no thumbnail, no crash


@pytest.mark.browser
def test_index_fits_a_laptop_screen_and_prints_to_pdf(tmp_path, offline_browser):
    index = _index_with_charts(tmp_path)
    # the session's Chromium (tests/browser.py): one Playwright per process
    context = offline_browser._browser.new_context(offline=True, viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        page.goto(index.as_uri(), wait_until="load")
        images = page.evaluate("() => [...document.images].map(i => [i.complete, i.naturalWidth])")
        assert images and all(done and width > 100 for done, width in images), images
        overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        assert page.evaluate(overflow) == 0  # no sideways scrolling on a laptop
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 680, "height": 1000})  # A4 minus the page margins, at 96 dpi
        assert page.evaluate(overflow) == 0
        assert page.evaluate("() => getComputedStyle(document.querySelector('td.thumb img')).maxHeight") == "150px"
        pdf = page.pdf(format="A4", print_background=True)
    finally:
        context.close()
    assert pdf.startswith(b"%PDF") and 1 <= len(re.findall(rb"/Type\s*/Page\b", pdf)) <= 3


# two characters drawn on a canvas in a font: identical bitmaps mean both are the "missing glyph" box (tofu)
_SAME_GLYPH = """([a, b, font]) => {
  const draw = ch => { const c = document.createElement('canvas'); c.width = 64; c.height = 64;
    const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, 64, 64); g.fillStyle = '#000';
    g.font = '40px ' + font; g.fillText(ch, 8, 48); return Array.from(g.getImageData(0, 0, 64, 64).data); };
  const x = draw(a), y = draw(b);
  return {same: x.every((v, i) => v === y[i]), ink: x.filter((v, i) => i % 4 === 0 && v < 128).length};
}"""
# the font and the Chinese characters of the first element of ``selector`` that holds Chinese text
_HAN_TEXT = """(selector) => {
  const el = [...document.querySelectorAll(selector)].find(e => /[\\u4e00-\\u9fff]/.test(e.textContent));
  return el ? [getComputedStyle(el).fontFamily, [...el.textContent].filter(c => /[\\u4e00-\\u9fff]/.test(c))]
            : null;
}"""


@pytest.mark.browser
def test_chinese_renders_as_glyphs_not_tofu(report_html, tmp_path, offline_browser):
    index = write_index(tmp_path, RUN)
    context = offline_browser._browser.new_context(offline=True)  # the session's Chromium (tests/browser.py)
    try:
        page = context.new_page()
        for path, selector in ((report_html, ".pk-chart svg text"), (report_html, "h1"), (index, "th")):
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_selector(selector, timeout=30_000)
            font, han = page.evaluate(_HAN_TEXT, selector)
            a, b = list(dict.fromkeys(han))[:2]
            drawn = page.evaluate(_SAME_GLYPH, [a, b, font])
            assert not drawn["same"] and drawn["ink"] > 100, (path.name, selector, font, a, b, drawn)
        tofu = page.evaluate(_SAME_GLYPH, ["\ue000", "\ue001", font])  # unassigned: both the missing-glyph box
        assert tofu["same"], "the check must see tofu where there is no glyph"
    finally:
        context.close()
