"""The optional ``screening[transformers]`` extra: check that torch and transformers can be imported.

Nothing here imports torch at module level; :func:`require_transformers` does, and turns a missing or
broken install into one :class:`TransformersUnavailableError` that says how to install the extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import ScreeningError

INSTALL_HINT = (
    "install the optional extra: pip install 'screening[transformers]' "
    "(on a CPU-only machine install the CPU wheel of torch first, e.g. "
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu, "
    "so pip does not pull the CUDA build)"
)


class TransformersUnavailableError(ScreeningError):
    """The transformer backend was asked for but torch or transformers is not installed."""

    code = "transformers_unavailable"
    http_status = 501


def require_transformers() -> tuple[ModuleType, ModuleType]:
    """Import and return ``(torch, transformers)``, or raise :class:`TransformersUnavailableError`."""
    modules = []
    for name in ("torch", "transformers"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            raise TransformersUnavailableError(
                f"the transformer backend needs {name}, which could not be imported ({exc.__class__.__name__}); "
                + INSTALL_HINT
            ) from None
    return modules[0], modules[1]
