"""Open exported HTML in headless Chromium with no network, and report what happened.

Used through the ``open_offline`` fixture in ``tests/conftest.py``::

    def test_report(open_offline, tmp_path):
        page = open_offline(tmp_path / "report.html")
        assert page.charts_rendered == page.charts_expected
        assert page.external_requests == [] and page.console_errors == []

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright for Python (no ``playwright install``).
Every page gets a new browser context with ``offline=True``; ``file:`` / ``data:`` / ``blob:`` /
``about:`` requests continue, anything else is aborted and recorded. Playwright's ``launch()`` gives the
browser a fresh temporary user-data-dir (``--user-data-dir=<tmp>/playwright_chromiumdev_profile-*``),
deleted on close.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "PageReport", "OfflineBrowser", "chromium_or_skip"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

# true once every .pk-chart holds an <svg> or has been marked as failed by the chart script
_CHARTS_SETTLED = """() => [...document.querySelectorAll('.pk-chart')].every(
    d => d.querySelector('svg') || d.classList.contains('pk-chart-error'))"""
_CHART_STATE = """() => {
  const divs = [...document.querySelectorAll('.pk-chart')];
  return {expected: divs.length,
          rendered: divs.filter(d => d.querySelector('svg')).length,
          errors: divs.filter(d => d.classList.contains('pk-chart-error')).map(d => d.id + ': ' + d.textContent),
          lang: document.documentElement.lang, title: document.title};
}"""
_IMAGE_STATS = """async (uri) => {
  const img = new Image(); img.src = uri; await img.decode();
  const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let n = 0, s = 0, s2 = 0, ink = 0; const colors = new Set();
  for (let i = 0; i < d.length; i += 4) {
    const v = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    n++; s += v; s2 += v * v; if (v < 235) ink++;
    if (colors.size < 4096) colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  }
  const mean = s / n;
  return {width: c.width, height: c.height, std: Math.sqrt(Math.max(0, s2 / n - mean * mean)),
          ink: ink / n, colors: colors.size};
}"""


@dataclass
class PageReport:
    """What one offline page load did."""

    path: Path
    screenshot: Path
    charts_expected: int
    charts_rendered: int
    chart_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    lang: str = ""
    title: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Every chart rendered, nothing fetched from outside, no console or page error."""
        return (self.charts_rendered == self.charts_expected and not self.chart_errors
                and not self.external_requests and not self.console_errors and not self.page_errors)


def chromium_or_skip() -> None:
    """Skip the calling test when Chromium or Playwright is missing — but fail in CI (``CI`` set)."""
    import pytest

    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found (install: apt-get install chromium fonts-noto-cjk, or `make browser`)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright (python) is not installed: pip install -e '.[dev]'"
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


class OfflineBrowser:
    """One headless Chromium for the session; :meth:`open_offline` opens a page in a fresh context."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                     args=CHROMIUM_ARGS)
        except BaseException:
            self._pw.stop()
            raise

    def image_stats(self, png: str | os.PathLike[str]) -> dict[str, float]:
        """Pixel statistics of a PNG, decoded by Chromium on a canvas (Pillow is not installed here).

        Returns width, height, ``std`` (standard deviation of the grey levels), ``ink`` (share of pixels
        darker than near-white) and ``colors`` (distinct colours, capped at 4096).
        """
        uri = "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode()
        context = self._browser.new_context(offline=True)
        try:
            page = context.new_page()
            return page.evaluate(_IMAGE_STATS, uri)
        finally:
            context.close()

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()

    def open_offline(self, path: str | os.PathLike[str], *, timeout_s: float = 30.0,
                     width: int = 1200) -> PageReport:
        """Open ``path`` as ``file://`` with no network; wait for the charts; screenshot to ``<name>.png``."""
        path = Path(path).resolve()
        external: list[str] = []
        console: list[str] = []
        page_errors: list[str] = []

        def route(r: Any) -> None:
            url = r.request.url
            if url.startswith(LOCAL_SCHEMES):
                r.continue_()
            else:
                external.append(url)
                r.abort()

        context = self._browser.new_context(offline=True, service_workers="block",
                                            viewport={"width": width, "height": 900}, locale="zh-CN")
        try:
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.goto(path.as_uri(), wait_until="load", timeout=timeout_s * 1000)
            timed_out = False
            try:
                page.wait_for_function(_CHARTS_SETTLED, timeout=timeout_s * 1000, polling=100)
            except Exception:  # playwright's TimeoutError: report the counts instead of raising
                timed_out = True
            page.evaluate("() => document.fonts.ready.then(() => true)")
            state = page.evaluate(_CHART_STATE)
            shot = path.with_suffix(".png")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()
        return PageReport(path=path, screenshot=shot, charts_expected=state["expected"],
                          charts_rendered=state["rendered"], chart_errors=state["errors"],
                          external_requests=external, console_errors=console, page_errors=page_errors,
                          lang=state["lang"], title=state["title"], timed_out=timed_out)
