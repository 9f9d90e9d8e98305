"""The widgets as an analyst meets them: a real JupyterLab, a notebook run in it, a widget typed into.

JupyterLab runs from this venv on a free port with a token, its config and runtime folders in a temp
dir; Debian's Chromium (``/usr/bin/chromium``, no browser download) is driven by Playwright. Nothing may
leave the machine: every request to another host is aborted and recorded. The notebook shows the three
widgets on small hand-built frames; the test types expressions into the audience builder, picks another
scheme in the segment explorer and other ids in the person viewer, and checks what each shows.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TOKEN = "persona-kit-lab-test"
NOTEBOOK = "widgets.ipynb"
CELLS = ["""import polars as pl

from persona_kit import charts, widgets

charts.enable_offline()
n = 60
universe = pl.DataFrame({"person_id": [f"u{i:02d}" for i in range(n)],
                         "spend_365d": [float(i * 10) for i in range(n)],
                         "rfm_segment": ["champions", "lost", "new"] * (n // 3),
                         "consent_marketing": [i % 4 != 0 for i in range(n)]})
widgets.audience_builder(universe, others={"champs": "rfm_segment == 'champions'"},
                         expression="spend_365d >= 300", lang="zh")""",
         """segments = pl.DataFrame({"person_id": universe["person_id"],
                         "rfm_segment": ["champions"] * 40 + ["lost"] * 20,
                         "lifecycle_stage": ["active"] * 25 + ["churned"] * 35})
widgets.segment_explorer(segments, lang="en")""",
         """import datetime as dt

history = pl.DataFrame({"person_id": ["u01", "u01", "u02"], "tag_id": ["active_30d", "active_30d", "gender"],
                        "value": ["false", "true", "male"],
                        "as_of": [dt.date(2026, 3, 31), dt.date(2026, 6, 30), dt.date(2026, 6, 30)]})
widgets.person_viewer(universe, history, lang="en")"""]
# the text of the widget output area of code cell k (tables + chart), or null before it exists
_OUTPUT_TEXT = """(k) => { const c = document.querySelectorAll('.jp-CodeCell')[k];
  const o = c && c.querySelector('.widget-output'); return o ? o.innerText : null; }"""
# the notebook is open and its kernel connected and idle (the status bar says idle before the kernel starts)
_KERNEL_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.isReady && w.sessionContext.session
    && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"jupyter lab did not answer in {timeout_s} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[str]:
    """A running JupyterLab serving a temp folder that holds the test notebook; yields its base URL."""
    from browser import chromium_or_skip

    chromium_or_skip()
    root = tmp_path_factory.mktemp("lab")
    work, home = root / "work", root / "jupyter"
    work.mkdir()
    nb = new_notebook(cells=[new_markdown_cell("# 人群圈选 · Audience builder"), *map(new_code_cell, CELLS)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, work / NOTEBOOK)
    news = home / "settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')  # no "get Jupyter news?" prompt over the notebook
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "PYTHONPATH": str(Path(__file__).parents[1])}
    log = root / "lab.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             f"--ServerApp.root_dir={work}", f"--IdentityProvider.token={TOKEN}", "--LabApp.news_url=None",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
             "--expose-app-in-browser", *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_widgets_react_in_jupyterlab(lab, tmp_path, offline_browser, image_stats):
    outside: list[str] = []

    def route(r) -> None:
        url = r.request.url
        if url.startswith((lab, "data:", "blob:", "about:", "ws://127.0.0.1")):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    def output(k: int, contains: str, timeout_s: float = 30) -> str:
        page.wait_for_function(f"(k) => ({_OUTPUT_TEXT})(k)?.includes({contains!r})", arg=k,
                               timeout=timeout_s * 1000)
        return page.evaluate(_OUTPUT_TEXT, k)

    shot = tmp_path / "lab.png"
    # the session's Chromium (tests/browser.py); one Playwright per process, so this context is opened on it
    context = offline_browser._browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = context.new_page()
        page.route("**/*", route)
        page.goto(f"{lab}/lab/tree/{NOTEBOOK}?token={TOKEN}", wait_until="domcontentloaded", timeout=60_000)
        page.wait_for_function(_KERNEL_READY, timeout=90_000, polling=250)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

        # audience builder: type an expression, the size and the chart follow
        builder = page.locator(".jp-CodeCell").nth(0)
        before = output(0, "champs", timeout_s=90)
        assert "new_audience\t30\t50.00%" in before, before  # 30 of 60 persons spend ≥ 300
        expression = builder.locator(".widget-text input").nth(1)
        expression.fill("spend_365d >= 500")  # each edit re-evaluates (continuous update)
        after = output(0, "16.67%")
        assert after != before and "new_audience\t10\t16.67%" in after, after
        builder.locator(".widget-output .pk-chart svg").wait_for(timeout=30_000)
        page.screenshot(path=str(shot))
        # a typo, typed key by key: each unfinished state shows its reason inline, the last one the typo
        expression.press_sequentially(" and spend_356d > 0", delay=5)
        output(0, "did you mean 'spend_365d'")
        assert builder.locator(".pk-widget-error").count() == 1
        assert builder.locator(".jp-OutputArea-output[data-mime-type*='error']").count() == 0

        # segment explorer: another scheme in the dropdown, other segments
        explorer = page.locator(".jp-CodeCell").nth(1)
        assert "Champions\t40" in output(1, "Champions")
        explorer.locator(".widget-dropdown select").first.select_option(label="Lifecycle stage")
        assert "Champions" not in output(1, "Churned") and "Active\t25" in page.evaluate(_OUTPUT_TEXT, 1)

        # person viewer: type another id (Enter), then an unknown one
        person = page.locator(".jp-CodeCell").nth(2).locator("input").first
        assert "Active in the last 30 days" not in output(2, "Spend")
        person.fill("u01")
        person.press("Enter")
        assert "u01" in person.input_value() and "true\tfalse" in output(2, "Active in the last 30 days")
        person.fill("nobody")
        person.press("Enter")
        output(2, "is in neither the features nor the tag history")
    finally:
        context.close()
    assert outside == [], outside
    stats = image_stats(shot)
    assert stats["width"] == 1280 and stats["std"] > 20 and stats["ink"] > 0.02 and stats["colors"] > 50, stats
