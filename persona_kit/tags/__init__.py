"""The tag system (标签体系): a YAML catalog of rule / statistical / model tags, the engine that computes
them as of a date, snapshots with diffs, and health checks.

- :mod:`~persona_kit.tags.expressions` — the safe condition language (shared with audiences);
- :mod:`~persona_kit.tags.catalog` — the versioned taxonomy, validated on load;
- :mod:`~persona_kit.tags.engine` — ``compute_tags(features, catalog, *, as_of)`` → long frame, ``wide``.
"""

from persona_kit.tags.catalog import Catalog, Tag, load_catalog
from persona_kit.tags.engine import compute_tags, wide
from persona_kit.tags.expressions import compile_condition, parse, to_polars

__all__ = ["Catalog", "Tag", "load_catalog", "compute_tags", "wide", "parse", "to_polars", "compile_condition"]
