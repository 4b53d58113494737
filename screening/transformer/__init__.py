"""Optional transformer backend: semantic indicator matching, an embedding classifier and a cascade.

``build_scorer(engine, backend)`` returns the scoring stage for ``backend``: ``"fast"`` (the engine's
own scorer, no extra needed), ``"transformer"`` or ``"cascade"``. The last two need the
``screening[transformers]`` extra; torch and transformers are imported only when an encoder loads,
so without the extra everything else works and asking for these backends raises
:class:`TransformersUnavailableError` with the install command.
"""

from __future__ import annotations

from .backend import BACKENDS, attach_backend, build_scorer
from .extra import TransformersUnavailableError, require_transformers

__all__ = ["BACKENDS", "TransformersUnavailableError", "attach_backend", "build_scorer", "require_transformers"]
