"""Shared pytest fixtures. Each block is owned by one part of the suite; add yours in a new block."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# --- browser harness (tests/browser.py): headless Chromium, offline --------------------------------------


@pytest.fixture(scope="session")
def offline_browser() -> Iterator[object]:
    """One headless Chromium for the session (skipped without /usr/bin/chromium, failed in CI)."""
    from browser import OfflineBrowser, chromium_or_skip

    chromium_or_skip()
    browser = OfflineBrowser()
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def open_offline(offline_browser) -> Callable[..., object]:
    """``open_offline(path) -> PageReport``: open an HTML file with no network; see tests/browser.py."""
    return offline_browser.open_offline


@pytest.fixture
def image_stats(offline_browser) -> Callable[[Path], dict]:
    """``image_stats(png) -> {width, height, std, ink, colors}``, decoded by Chromium."""
    return offline_browser.image_stats


# --- end browser harness ----------------------------------------------------------------------------------


# --- frames: every API test runs on pandas and on polars ------------------------------------------------


@pytest.fixture(params=["pandas", "polars"])
def frame(request) -> Callable[[dict], object]:
    """``frame(dict) -> DataFrame`` of the parametrized kind (pandas, then polars)."""
    import pandas as pd
    import polars as pl

    return pd.DataFrame if request.param == "pandas" else pl.DataFrame
# --- end frames ---------------------------------------------------------------------------------------------


# --- run environment ----------------------------------------------------------------------------------------
# The sample is synthetic: tests hash its PII with a fixed salt (the Makefile exports the same one), so the
# notebooks' kernels, started by papermill from this process, see it too.
os.environ.setdefault("PERSONA_KIT_SALT", "synthetic-sample-salt-not-a-secret")
# --- end run environment ------------------------------------------------------------------------------------


# --- pyspark: one local SparkSession per test process ---------------------------------------------------


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """A local SparkSession (pyspark is in the dev extra; it needs a Java runtime on PATH).

    Its session time zone is the sample's (Asia/Shanghai): Spark keeps instants and reads wall-clock
    fields in the session time zone, which is how a user runs persona-kit on Spark.
    """
    import shutil

    pyspark_sql = pytest.importorskip("pyspark.sql")
    if shutil.which("java") is None:
        pytest.skip("pyspark needs a Java runtime and `java` is not on PATH")
    session = (pyspark_sql.SparkSession.builder.master("local[1]").appName("persona-kit-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
               .config("spark.sql.session.timeZone", "Asia/Shanghai").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
# --- end pyspark ----------------------------------------------------------------------------------------


# --- the sample through cleaning and OneID (steps 02-03), with each person's planted persona ------------


@pytest.fixture(scope="session")
def sample_identity() -> tuple[dict, object, object]:
    """``(tables, result, persona)``: the committed sample's pseudonymized person-keyed tables, the identity
    result (its ``keys`` map raw source ids to ``person_id``, in memory only), and each person's planted persona
    (``person_id, persona``; from ``data/sample/truth`` — tests only, the pipeline never reads it)."""
    import polars as pl

    from persona_kit import clean, identity, schema

    root = Path(__file__).parents[1]
    salt = "synthetic-sample-salt-not-a-secret"
    tables = clean.clean(schema.load_sources(root / "data/sample/maps")).tables
    result = identity.link(identity.collect_identifiers(tables), records=identity.record_keys(tables), salt=salt)
    out = identity.pseudonymize_tables(tables, result, salt=salt)
    truth = pl.read_parquet(root / "data/sample/truth/records.parquet")
    persona = (result.keys.join(truth, on=["source", "source_customer_id"])
               .group_by("person_id", "persona").len().sort("len", "persona", descending=[True, False])
               .unique("person_id", keep="first").select("person_id", "persona"))
    return out, result, persona
# --- end sample ------------------------------------------------------------------------------------------
