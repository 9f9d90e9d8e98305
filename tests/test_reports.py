"""`make report` as a user meets it: every step notebook run on the sample, exported, and opened in
headless Chromium with no network (both languages); nothing lost, no PII printed, same run → same artifacts."""

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl
import pytest

from persona_kit import pipeline
from persona_kit.i18n import labels
from persona_kit.io import read_raw, sha256_file
from persona_kit.report import external_references
from persona_kit.schema import load_maps

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "notebooks/params/sample.yaml"
pytestmark = pytest.mark.slow


_RUNS: dict[str, dict] = {}


def _run(lang: str) -> dict:
    """The whole sample run in ``lang``, once per test process (this module runs on one xdist worker)."""
    if lang not in _RUNS:
        _RUNS[lang] = pipeline.run(SAMPLE, params={"lang": lang}, run_name=f"pytest_sample_{lang}", root=ROOT,
                                   progress=False)
    return _RUNS[lang]


@pytest.fixture(scope="module", params=["zh", "en"])
def sample_run(request) -> dict:
    return _run(request.param)


def _pages(record: dict) -> list[Path]:
    folder = ROOT / "reports" / record["run"]
    return [folder / "index.html"] + [folder / s["html"] for s in record["steps"]]


def test_every_key_number_on_the_index_is_translated(sample_run):
    missing = sorted({f"summary.{key}" for s in sample_run["steps"] for key in s["summary"]} - set(labels()))
    assert missing == [], "add these labels to the step's file in persona_kit/resources/labels/"


def test_every_step_runs_on_the_sample(sample_run):
    assert [s["status"] for s in sample_run["steps"]] == ["ok"] * len(sample_run["steps"]), \
        [s["error"] for s in sample_run["steps"]]
    assert [s["step"] for s in sample_run["steps"]] == [s.name for s in pipeline.discover_steps(ROOT / "notebooks")]
    saved = json.loads((ROOT / "reports" / sample_run["run"] / "run.json").read_text())
    assert saved["status"] == "ok" and saved["lineage"]["inputs"], "run.json records the hashed inputs"


@pytest.mark.browser
def test_reports_render_offline_with_every_chart(sample_run, open_offline):
    lang = {"zh": "zh-CN", "en": "en"}[sample_run["lang"]]
    for page_path in _pages(sample_run):
        html = page_path.read_text(encoding="utf-8")
        assert external_references(html) == [], page_path.name
        page = open_offline(page_path)
        assert page.ok, (page_path.name, page.chart_errors, page.external_requests, page.console_errors,
                         page.page_errors)
        assert page.lang == lang and page.screenshot.is_file()
        if page_path.name != "index.html":
            assert page.charts_expected >= 3, f"{page_path.name} shows {page.charts_expected} charts"


def test_rows_add_up_and_nothing_is_lost(sample_run):
    step = ROOT / "runs" / sample_run["run"] / "01_data_quality"
    accounting = pl.read_parquet(step / "accounting.parquet")
    quarantine = pl.read_parquet(step / "quarantine.parquet")
    assert (accounting["rows_in"] == accounting["rows_valid"] + accounting["rows_quarantined"]).all()
    assert quarantine.height == accounting["rows_quarantined"].sum() > 0
    for table in accounting["table"].unique():
        valid = pl.read_parquet(step / f"{table}.parquet").height
        assert valid == accounting.filter(pl.col("table") == table)["rows_valid"].sum()
    summary = sample_run["steps"][0]["summary"]
    assert summary["rows_in"] == accounting["rows_in"].sum()


def test_no_raw_phone_or_email_is_printed(sample_run):
    phones, emails = set(), set()
    for cmap in load_maps(ROOT / "data/sample/maps"):
        raw = read_raw(cmap.file, encoding=cmap.encoding)
        for src, targets in cmap.columns.items():
            values = raw[src].drop_nulls().cast(pl.String).to_list()
            if "phone" in targets:
                phones.update(re.sub(r"\D", "", v)[-11:] for v in values)
            if "email" in targets:
                emails.update(v.strip().lower() for v in values if "@" in v)
    assert len(phones) > 100 and len(emails) > 100
    domains = {e.rsplit("@", 1)[1] for e in emails}
    for page_path in _pages(sample_run):
        text = page_path.read_text(encoding="utf-8")
        digits = set(re.findall(r"1[3-9]\d{9}", re.sub(r"[\s-]", "", text)))
        assert not digits & phones, f"{page_path.name} prints a phone number"
        shown = {local[i:] + "@" + domain  # any sample email the page shows, even glued to other text
                 for local, rest in re.findall(r"([a-z0-9._%+-]{1,64})@([a-z0-9.-]{1,255})", text.lower(), re.ASCII)
                 for domain in domains if rest.startswith(domain) for i in range(len(local))}
        assert not shown & emails, f"{page_path.name} prints an email"


def test_two_runs_write_identical_artifacts_whatever_the_language():
    """Reproducible (no float sum, join or dict order that changes between runs) and language-free: the
    report language changes what is shown, never what is saved."""
    zh, en = (ROOT / "runs" / _run(lang)["run"] for lang in ("zh", "en"))
    hashes = {p.relative_to(zh): sha256_file(p) for p in sorted(zh.rglob("*.parquet"))}
    again = {p.relative_to(en): sha256_file(p) for p in sorted(en.rglob("*.parquet"))}
    assert len(hashes) > 40 and sorted(hashes) == sorted(again)
    assert sorted(str(p) for p in hashes if hashes[p] != again[p]) == []


def test_features_and_every_default_tag_from_the_sample_run(sample_run):
    """The chain the tags notebook will run: step 03's tables → sentiment → features → the 47 default tags."""
    from persona_kit import features, sentiment, tags

    if sample_run["lang"] != "zh":
        pytest.skip("checked once")
    step = ROOT / "runs" / sample_run["run"] / "03_identity"
    table = {name: pl.read_parquet(step / f"{name}.parquet")
             for name in ("customers", "orders", "events", "reviews", "products")}
    frame = features.build_features(table["events"], orders=table["orders"], products=table["products"],
                                    reviews=sentiment.score_reviews(table["reviews"]),
                                    customers=table["customers"], as_of="2026-06-30")
    persons = pl.read_parquet(step / "persons.parquet")
    assert frame.height == persons.height and frame["as_of"].unique().to_list() == [dt.date(2026, 6, 30)]
    catalog = tags.load_catalog()
    model = frame.select("person_id", churn_probability=pl.lit(0.5), clv_365d=pl.col("spend_365d"),
                         lookalike_score=pl.col("views_365d") / pl.col("views_365d").max())
    long = tags.compute_tags(frame, catalog, as_of="2026-06-30", model_outputs=model)
    coverage = long.group_by("tag_id").agg(pl.len())
    assert coverage.height >= 40, "most default tags hold a value for someone on the sample"
    assert long["person_id"].n_unique() == frame.height


_SUMMARY_MARK = {"zh": "<strong>摘要</strong>", "en": "<strong>Summary</strong>"}


def _opening_summary(html: str, lang: str) -> str | None:
    """The text of the report's "**摘要** / **Summary**" paragraph if it comes before the first chart, table
    and section heading and holds a number; else None."""
    body = html[html.index("<body"):]
    at = body.find(_SUMMARY_MARK[lang])
    details = [m.start() for m in re.finditer(r'class="pk-chart"|<table\b|<h[2-6]\b', body)]
    if at < 0 or at > min(details, default=len(body)):
        return None
    text = re.sub(r"<[^>]+>", "", body[at:body.find("</p>", at)])
    return text if re.search(r"\d", text) else None


def test_each_report_opens_with_a_computed_summary(sample_run):
    """A manager reads the findings first: a summary paragraph with the run's numbers before any detail."""
    folder = ROOT / "reports" / sample_run["run"]
    missing = [s["step"] for s in sample_run["steps"]
               if not _opening_summary((folder / s["html"]).read_text(encoding="utf-8"), sample_run["lang"])]
    assert missing == [], f"no computed {_SUMMARY_MARK[sample_run['lang']]} paragraph at the top of: {missing}"


def test_step_05_on_spark_writes_the_segments_polars_writes():
    """``persona-kit run --spark MASTER`` (the ``spark_master`` parameter): step 05 reads step 03's Parquet files
    on Spark and computes RFM, lifecycle and AIPL there; every artifact equals the polars run's."""
    import shutil

    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("pyspark needs a Java runtime and `java` is not on PATH")
    polars_run = ROOT / "runs" / _run("zh")["run"]
    spark_run = ROOT / "runs" / "pytest_sample_spark"
    shutil.rmtree(spark_run, ignore_errors=True)
    shutil.copytree(polars_run, spark_run)
    shutil.rmtree(spark_run / "05_segments")
    record = pipeline.run(SAMPLE, params={"spark_master": "local[1]"}, only=["05"], run_name=spark_run.name,
                          root=ROOT, progress=False)
    assert record["status"] == "ok", record["steps"]
    written = sorted(p.name for p in (polars_run / "05_segments").glob("*.parquet"))
    assert "segments.parquet" in written and "aipl_flow.parquet" in written
    for name in written:
        assert pl.read_parquet(spark_run / "05_segments" / name).equals(pl.read_parquet(polars_run / "05_segments" / name)), name
