"""persona-kit: an open, notebook-first workbench for customer profiling (用户画像).

Each pipeline step has one module here and one notebook in ``notebooks/``; import the step modules by
name (``from persona_kit import schema, quality, charts``).
"""

from persona_kit.errors import InputError
from persona_kit.i18n import t, translate_values
from persona_kit.pipeline import StepContext, start_step

__all__ = ["InputError", "StepContext", "start_step", "t", "translate_values", "__version__"]
__version__ = "0.1.0"
