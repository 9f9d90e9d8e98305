"""persona-kit: an open, notebook-first workbench for customer profiling (用户画像).

Each pipeline step has one module here and one notebook in ``notebooks/``.
"""

from persona_kit.errors import InputError
from persona_kit.i18n import t

__all__ = ["InputError", "t", "__version__"]
__version__ = "0.1.0"
