"""Loading + validating sources (step 01's engine) on UCI Online Retail and the committed sample."""

from __future__ import annotations

from collections.abc import Callable

CASES = {
    "load_sources: UCI Online Retail (541,909 lines)": ("notebooks/params/maps/online_retail", "Europe/London"),
    "load_sources: synthetic sample (data/sample)": ("data/sample/maps", "Asia/Shanghai"),
}


def load_sources(start: Callable[[], None], *, maps: str, timezone: str) -> dict:
    from persona_kit.schema import load_sources

    start()
    loaded = load_sources(maps, timezone=timezone)
    return {"rows": int(loaded.accounting["rows_in"].sum())}
