"""Offline HTML reports: export an executed notebook, list what a page would fetch, write the run index.

Reports are opened on machines with no network, so nothing here may point outside the file:

- :func:`export_html` uses nbconvert's ``lab`` template with the require.js, MathJax, mermaid and
  ipywidgets loaders removed (they all come from CDNs), hides code unless asked, drops cells tagged
  ``hide-in-report`` and stderr output (warnings), and sets ``<html lang>`` so Chromium picks the
  Simplified Chinese font.
- :func:`external_references` lists every URL a page would fetch from outside.
- :func:`write_index` writes ``index.html`` for a run: steps, status, timings, links, key numbers, each
  report's headline chart (:func:`headline_chart`) as a static thumbnail, and lineage — inline CSS, no
  JavaScript, prints cleanly.

Examples
--------
>>> external_references('<script src="https://cdn.example/x.js"></script><img src="a.png">')
['https://cdn.example/x.js']
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from persona_kit.errors import InputError, check_choice
from persona_kit.i18n import LANGS, label_or, t
from persona_kit.io import write_atomic

__all__ = ["HIDE_TAG", "HEADLINE_TAG", "STATUSES", "export_html", "external_references", "headline_chart",
           "write_index"]

log = logging.getLogger(__name__)

HIDE_TAG = "hide-in-report"
"""Cells with this tag are left out of exported reports."""
HEADLINE_TAG = "headline"
"""A cell with this tag holds the report's headline chart (shown on the run index); default: the first chart."""
STATUSES = ("ok", "failed", "skipped")
"""The status of a run step."""

_HTML_LANG = {"zh": "zh-CN", "en": "en"}
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# nbconvert's lab template minus everything that loads from a CDN (require.js, MathJax, mermaid, widgets)
_TEMPLATE_NAME = "persona_kit_offline.html.j2"
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


# --- what a page fetches -----------------------------------------------------------------------------

_LOCAL_SCHEMES = {"", "data", "file", "blob", "about"}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""", re.I)
_FETCH_ATTRS = {"src", "href", "srcset", "poster", "data", "xlink:href", "background"}
_NO_FETCH_TAGS = {"a", "area", "base", "form"}  # links the reader may follow, not loads


def _is_external(url: str) -> bool:
    url = url.strip()
    if not url or url.startswith("#"):
        return False
    if url.startswith("//"):
        return True
    scheme = urlsplit(url).scheme.lower()
    return scheme not in _LOCAL_SCHEMES and len(scheme) > 1  # "c:" is a Windows drive, not a scheme


class _RefParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def _css(self, text: str) -> None:
        for m in _CSS_URL.finditer(text):
            self.urls.append((m.group(2) or m.group(4)).strip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if name == "style":
                self._css(value)
            elif name in _FETCH_ATTRS and tag not in _NO_FETCH_TAGS:
                if name == "srcset":
                    self.urls.extend(part.split()[0] for part in value.split(",") if part.strip())
                elif not (tag == "link" and dict(attrs).get("rel", "") in ("canonical", "alternate")):
                    self.urls.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)


def external_references(html_text: str) -> list[str]:
    """Every URL the page would load from outside: ``src`` / ``href`` / ``srcset`` of loading tags
    (script, link, img, iframe, source, svg image/use, ...), CSS ``url(...)`` and ``@import``.

    Local references — relative paths, ``#anchors``, ``data:``, ``file:``, ``blob:``, ``about:`` — and
    ``<a href>`` links are not fetches. URLs inside JavaScript code cannot be seen here; the browser
    tests catch those. Each URL is listed once, in document order.

    Examples
    --------
    >>> external_references('<link rel="stylesheet" href="//fonts.example/css">'
    ...                     '<style>@import "https://x.example/a.css"; b{background:url(data:,x)}</style>'
    ...                     '<a href="https://example.org">ok</a><img src="data:image/png;base64,AA">')
    ['//fonts.example/css', 'https://x.example/a.css']
    """
    parser = _RefParser()
    parser.feed(html_text)
    parser.close()
    return list(dict.fromkeys(u for u in parser.urls if _is_external(u)))


# --- notebook → HTML ---------------------------------------------------------------------------------

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _heading_in(text: str) -> str | None:
    m = _HEADING.search(text)
    if not m:
        return None
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))  # [text](link) → text
    return re.sub(r"[*_`]", "", title).strip() or None


def _first_heading(nb: Any) -> str | None:
    """The first Markdown heading a reader sees (markdown cells and Markdown outputs, in order);
    failing that, the first heading of a ``hide-in-report`` cell."""
    hidden = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = _heading_in(cell.source)
            if found and HIDE_TAG in cell.get("metadata", {}).get("tags", []):
                hidden = hidden or found
            elif found:
                return found
        for out in cell.get("outputs", []):
            md = out.get("data", {}).get("text/markdown")
            if md and (found := _heading_in(md if isinstance(md, str) else "".join(md))):
                return found
    return hidden


def _strip_stderr(nb: Any, where: Path) -> None:
    """Drop what cells wrote to stderr (library warnings, progress bars): noise to a report's reader.
    Errors stay (they are ``error`` outputs); each dropped text is logged."""
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                log.warning("%s: stderr left out of the report: %s", where, str(out.get("text", "")).strip()[:200])
            else:
                kept.append(out)
        if cell.cell_type == "code":
            cell.outputs = kept


def _strip_widgets(nb: Any) -> None:
    """Drop ipywidgets state and views: offline their manager (from unpkg) never loads."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None and _WIDGET_VIEW in data:
                data.pop(_WIDGET_VIEW)
                if not data:
                    continue
            kept.append(out)
        cell.outputs = kept


def export_html(notebook: str | os.PathLike[str], html_path: str | os.PathLike[str], *, lang: str = "zh",
                show_code: bool = False) -> Path:
    """Export an executed notebook to a self-contained HTML report that renders with no network.

    Parameters
    ----------
    notebook : path of the executed ``.ipynb`` (a failed papermill run exports too)
    html_path : where to write the report (written atomically)
    lang : ``"zh"`` (``<html lang="zh-CN">``) or ``"en"``
    show_code : keep the code cells' input (hidden by default)

    Returns
    -------
    Path
        ``html_path``.

    Notes
    -----
    The ``<title>`` is the notebook's first markdown heading. If the cell that carried the chart bundle
    was removed (tagged ``hide-in-report``), the bundle is added to the page head so the other charts
    still render. External references left in the page (e.g. a markdown image from the web) are logged
    as warnings; check them with :func:`external_references`.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    check_choice("lang", lang, LANGS)
    src, dest = Path(notebook), Path(html_path)
    if not src.is_file():
        raise InputError("notebook not found", file=str(src))
    nb = nbformat.read(src, as_version=4)
    _strip_widgets(nb)
    _strip_stderr(nb, src)
    nb.metadata["title"] = _first_heading(nb) or src.stem
    for cell in nb.cells:  # papermill gives its injected cell a random id; the same run → the same HTML
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.id = "injected-parameters"

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {HIDE_TAG}
    exporter = HTMLExporter(
        config=config, template_name="lab", template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        require_js_url="", mathjax_url="", mermaid_js_url="", mermaid_layout_elk_js_url="",
        exclude_input=not show_code, exclude_input_prompt=not show_code, exclude_output_prompt=not show_code,
        embed_images=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": src.stem,
                                                                      "path": str(src.parent)}})
    body, n = re.subn(r"<html\b[^>]*>", f'<html lang="{_HTML_LANG[lang]}">', body, count=1)
    if n != 1:
        raise RuntimeError("nbconvert output has no <html> tag; cannot set the page language")
    if 'class="pk-chart"' in body and "data-pk-bundle" not in body:
        from persona_kit.charts import bundle_script

        body = body.replace("</head>", bundle_script() + "\n</head>", 1)
    for url in external_references(body):
        log.warning("%s: the report references %s, which will not load offline", dest, url)
    write_atomic(dest, lambda tmp: tmp.write_text(body, encoding="utf-8"))
    return dest


# --- run index ---------------------------------------------------------------------------------------

_INDEX_CSS = """
:root{--ok:#1b7f3b;--failed:#b00020;--skipped:#6b6b6b;--line:#d9dce1;--muted:#5f6368}
*{box-sizing:border-box}
body{font-family:"Noto Sans CJK SC","Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;color:#1f2328;
  margin:0 auto;padding:24px 28px 40px;max-width:1100px;line-height:1.5;font-size:15px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);
  padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
.meta{color:var(--muted);margin:2px 0}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--line)}
th{font-weight:600;border-bottom:2px solid #9aa0a6;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-family:"Noto Sans Mono",Consolas,monospace;font-size:13px;word-break:break-all}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;color:#fff;font-size:13px;font-weight:600;
  white-space:nowrap}
.badge.ok{background:var(--ok)}.badge.failed{background:var(--failed)}.badge.skipped{background:var(--skipped)}
tr.failed td{background:#fdf1f2}tr.skipped td{color:var(--muted)}
.error{color:var(--failed);font-size:13px;margin-top:4px;word-break:break-word}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:0 12px;margin:0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;font-variant-numeric:tabular-nums}
td.thumb{width:300px}td.thumb img{display:block;width:100%;max-width:300px;height:auto;max-height:220px;
  object-fit:contain;object-position:left top;border:1px solid var(--line);border-radius:4px;background:#fff}
td.thumb a{display:block}
footer{margin-top:32px;color:var(--muted);font-size:12px}
@media print{
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  body{max-width:none;padding:0;font-size:10.5pt}
  h2{break-after:avoid}tr,dl{break-inside:avoid}
  a{color:inherit;text-decoration:none}
  a[href]::after{content:" (" attr(href) ")";color:var(--muted);font-size:9pt}
  td.thumb a::after{content:none}td.thumb{width:34%}td.thumb img{max-width:100%;max-height:150px}
  th,td{padding:4px 6px}
  @page{margin:14mm}
}
"""


_CHART_SPEC = re.compile(r'var id="pk-chart-[0-9a-f]+-\d+", spec=')


def headline_chart(report: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The Vega-Lite spec of a report's headline chart: the first chart in a cell tagged
    :data:`HEADLINE_TAG`, else the report's first chart; ``None`` for a report without charts.

    Reads an HTML report written by :func:`export_html` (charts from :mod:`persona_kit.charts`).

    Examples
    --------
    >>> import tempfile
    >>> from persona_kit import charts
    >>> one = charts._OfflineRenderer()({"mark": "bar", "title": "first"})["text/html"]
    >>> two = charts._OfflineRenderer()({"mark": "line", "title": "second"})["text/html"]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     page = Path(d) / "r.html"
    ...     _ = page.write_text(one + '<div class="jp-Cell celltag_headline">' + two + "</div>")
    ...     headline_chart(page)["title"]
    'second'
    """
    text = Path(report).read_text(encoding="utf-8")
    tagged = text.find(f"celltag_{HEADLINE_TAG}")
    found = (_CHART_SPEC.search(text, tagged) if tagged >= 0 else None) or _CHART_SPEC.search(text)
    if found is None:
        return None
    spec, _ = json.JSONDecoder().raw_decode(text, found.end())
    return spec


def _thumbnail(report_dir: Path, step: Mapping[str, Any], lang: str) -> str:
    """The step's headline chart as an inline SVG image linking to its report ("" when there is none)."""
    import vl_convert as vlc

    page = report_dir / str(step["html"])
    if not page.is_file():
        return ""
    try:
        spec = headline_chart(page)
        svg = vlc.vegalite_to_svg(spec) if spec is not None else None
    except Exception as err:  # a chart the static renderer cannot draw must not cost the run its index
        log.warning("%s: no thumbnail for the headline chart (%s)", page, (str(err).splitlines() or [""])[0])
        return ""
    if svg is None:
        return ""
    title = spec.get("title")
    title = title.get("text") if isinstance(title, Mapping) else title
    alt = html.escape(str(title or _step_title(step, lang)), quote=True)
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<a href="{html.escape(quote(str(step["html"])))}"><img src="{uri}" alt="{alt}"></a>'


def _fmt_number(value: Any) -> str:
    """Thousands separators; about 4 significant digits below 100, never scientific notation."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.2f}"
    digits = min(12, max(2, 3 - math.floor(math.log10(abs(value)))))  # ~4 significant, no exponent
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _fmt_bytes(n: Any) -> str:
    if not isinstance(n, int | float):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""  # pragma: no cover


def _fmt_time(value: Any) -> str:
    return "" if not value else str(value).replace("T", " ")


def _fmt_seconds(value: Any, lang: str) -> str:
    return "" if not isinstance(value, int | float) else t("index.seconds", lang, s=f"{value:,.1f}")


def _label(prefix: str | None, key: str, lang: str) -> str:
    """``t("<prefix>.<key>")`` when that label exists, else the key itself."""
    return label_or(f"{prefix}.{key}", lang, key) if prefix else key


def _badge(status: str, lang: str) -> str:
    check_choice("status", status, STATUSES)
    return f'<span class="badge {status}">{html.escape(t(f"index.status_{status}", lang))}</span>'


def _kv(pairs: Mapping[str, Any], prefix: str | None, lang: str, fmt: Any = _fmt_number) -> str:
    if not pairs:
        return ""
    rows = "".join(f"<dt>{html.escape(_label(prefix, str(k), lang))}</dt><dd>{html.escape(fmt(v))}</dd>"
                   for k, v in pairs.items())
    return f'<dl class="kv">{rows}</dl>'


def _step_title(step: Mapping[str, Any], lang: str) -> str:
    title = step.get("title")
    if isinstance(title, Mapping):
        title = title.get(lang) or next((v for v in title.values() if v), None)
    return str(title or step["step"])


def _steps_table(steps: list[Mapping[str, Any]], lang: str, report_dir: Path | None = None) -> str:
    e = html.escape
    thumbs = {i: _thumbnail(report_dir, step, lang) for i, step in enumerate(steps)
              if report_dir is not None and step.get("html")}
    head = (f"<tr><th class=num>#</th><th>{e(t('index.step', lang))}</th><th>{e(t('index.status', lang))}</th>"
            f"<th class=num>{e(t('index.duration', lang))}</th><th>{e(t('index.key_numbers', lang))}</th>"
            f"{'<th></th>' if any(thumbs.values()) else ''}</tr>")

    def thumb_cell(i: int) -> str:
        return f"<td class=thumb>{thumbs.get(i, '')}</td>" if any(thumbs.values()) else ""

    rows = []
    for i, step in enumerate(steps, 1):
        status = step["status"]
        name = e(_step_title(step, lang))
        if step.get("html"):
            name = f'<a href="{e(quote(str(step["html"])))}">{name}</a>'
        else:
            name += f' <span class="meta">({e(t("index.no_report", lang))})</span>'
        error = f'<div class="error">{e(t("index.error", lang))}: {e(str(step["error"]))}</div>' \
            if step.get("error") else ""
        rows.append(f'<tr class="{e(status)}"><td class=num>{i}</td>'
                    f'<td>{name}<div class="meta"><code>{e(str(step["step"]))}</code></div>{error}</td>'
                    f"<td>{_badge(status, lang)}</td><td class=num>{e(_fmt_seconds(step.get('duration_s'), lang))}</td>"
                    f"<td>{_kv(step.get('summary') or {}, 'summary', lang)}</td>"
                    f"{thumb_cell(i - 1)}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _lineage(run: Mapping[str, Any], lang: str) -> str:
    e = html.escape
    lin = run.get("lineage") or {}
    out = [f"<h2>{e(t('index.lineage', lang))}</h2>"]
    sha = lin.get("git_sha")
    git = f"<code>{e(str(sha)[:12])}</code>" if sha else e(t("index.none", lang))
    if sha and lin.get("git_dirty") is not None:
        git += f" ({e(t('index.git_dirty' if lin['git_dirty'] else 'index.git_clean', lang))})"
    facts = [("index.started", e(_fmt_time(run.get("started")))),
             ("index.finished", e(_fmt_time(run.get("finished")))),
             ("index.duration", e(_fmt_seconds(run.get("duration_s"), lang))),
             ("index.git", git), ("index.python", e(str(lin.get("python") or ""))),
             ("index.platform", e(str(lin.get("platform") or "")))]
    out.append('<dl class="kv">' + "".join(f"<dt>{e(t(k, lang))}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>")
    params = run.get("params") or {}
    out.append(f"<h3>{e(t('index.params', lang))}</h3>")
    out.append(_kv(params, None, lang, str) if params else f'<p class="meta">{e(t("index.none", lang))}</p>')
    inputs = lin.get("inputs") or []
    out.append(f"<h3>{e(t('index.inputs', lang))}</h3>")
    if inputs:
        rows = "".join(f"<tr><td><code>{e(str(f.get('path', '')))}</code></td>"
                       f"<td><code title=\"{e(str(f.get('sha256') or ''))}\">{e(str(f.get('sha256') or '')[:12])}</code></td>"
                       f"<td class=num>{e(_fmt_bytes(f.get('bytes')))}</td></tr>" for f in inputs)
        out.append(f"<table><tr><th>{e(t('index.path', lang))}</th><th>{e(t('index.sha256', lang))}</th>"
                   f"<th class=num>{e(t('index.size', lang))}</th></tr>{rows}</table>")
    else:
        out.append(f'<p class="meta">{e(t("index.none", lang))}</p>')
    packages = lin.get("packages") or {}
    if packages:
        rows = "".join(f"<tr><td>{e(str(k))}</td><td><code>{e(str(v))}</code></td></tr>"
                       for k, v in sorted(packages.items()))
        out.append(f"<h3>{e(t('index.packages', lang))}</h3><table><tr><th>{e(t('index.package', lang))}</th>"
                   f"<th>{e(t('index.version', lang))}</th></tr>{rows}</table>")
    return "".join(out)


def write_index(report_dir: str | os.PathLike[str], run: Mapping[str, Any], *, lang: str = "zh",
                thumbnails: bool = True) -> Path:
    """Write ``report_dir/index.html`` for a run (the ``run.json`` dict); self-contained, no JavaScript.

    Steps are listed in order with a status badge, duration, a link to the step's HTML (failed steps
    too), their key numbers (``summary.<key>`` labels when present) and, with ``thumbnails``, the
    report's headline chart (:func:`headline_chart`) drawn as a static SVG; then the lineage: parameters,
    input files (sha256 shortened to 12, full on hover), git sha and dirty flag, Python, platform,
    package versions, start and end time.

    Raises
    ------
    InputError
        If ``run`` has no ``steps`` list, a step has no ``step`` name, or a status is not one of
        :data:`STATUSES`.

    Examples
    --------
    >>> import tempfile
    >>> run = {"run": "demo", "status": "ok", "steps": [{"step": "01_data_quality", "status": "ok",
    ...        "html": "01_data_quality.html", "summary": {"rows_in": 1234}}]}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     page = write_index(d, run, lang="en").read_text(encoding="utf-8")
    >>> 'href="01_data_quality.html"' in page, "1,234" in page, external_references(page)
    (True, True, [])
    """
    check_choice("lang", lang, LANGS)
    steps = run.get("steps")
    if not isinstance(steps, list):
        raise InputError("run has no 'steps' list; pass the dict the runner saves as run.json")
    for i, step in enumerate(steps):
        if not isinstance(step, Mapping) or "step" not in step or "status" not in step:
            raise InputError(f"run step {i} needs 'step' and 'status' keys, got {step!r}")
        check_choice(f"status of step {step['step']!r}", step["status"], STATUSES)
    e = html.escape
    name = str(run.get("run") or Path(report_dir).name)
    counts = {s: sum(step["status"] == s for step in steps) for s in STATUSES}
    status = run.get("status") or ("failed" if counts["failed"] else "ok")
    title = f"{t('index.title', lang)} · {name}"
    page = (f'<!DOCTYPE html>\n<html lang="{_HTML_LANG[lang]}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{e(title)}</title>\n'
            f"<style>{_INDEX_CSS}</style>\n</head>\n<body>\n<header><h1>{e(title)} {_badge(status, lang)}</h1>"
            f'<p class="meta">{e(t("index.steps_count", lang, n=len(steps), **counts))} · '
            f"{e(_fmt_time(run.get('started')))} · {e(_fmt_seconds(run.get('duration_s'), lang))}</p></header>\n"
            f"<main>\n<h2>{e(t('index.steps', lang))}</h2>\n{_steps_table(steps, lang, Path(report_dir) if thumbnails else None)}\n"
            f"{_lineage(run, lang)}\n</main>\n<footer>{e(t('index.footer', lang))}</footer>\n</body>\n</html>\n")
    path = Path(report_dir) / "index.html"
    write_atomic(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return path
