"""The tag system (标签体系): a YAML catalog of rule / statistical / model tags, the engine that computes
them as of a date, snapshots with diffs, and health checks.

- :mod:`~persona_kit.tags.expressions` — the safe condition language (shared with audiences);
- :mod:`~persona_kit.tags.catalog` — the versioned taxonomy, validated on load;
- :mod:`~persona_kit.tags.engine` — ``compute_tags(features, catalog, *, as_of)`` → long frame, ``wide``;
- :mod:`~persona_kit.tags.snapshots` — ``<run>/tags/snapshot=YYYY-MM-DD/``, ``diff``, ``person_360``;
- :mod:`~persona_kit.tags.health` — coverage, distribution, drift (PSI), value churn, redundancy (Cramér's V).
"""

from persona_kit.tags.catalog import Catalog, Tag, load_catalog
from persona_kit.tags.engine import compute_tags, wide
from persona_kit.tags.expressions import compile_condition, parse, to_polars
from persona_kit.tags.health import coverage, cramers_v, distribution, drift, psi, redundancy, value_churn
from persona_kit.tags.snapshots import (
    diff,
    list_snapshots,
    person_360,
    read_history,
    read_snapshot,
    write_snapshot,
)

__all__ = [
    "Catalog", "Tag", "load_catalog", "compute_tags", "wide", "parse", "to_polars", "compile_condition",
    "write_snapshot", "read_snapshot", "list_snapshots", "read_history", "diff", "person_360",
    "coverage", "distribution", "psi", "drift", "value_churn", "cramers_v", "redundancy",
]
