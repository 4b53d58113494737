"""screening: explainable indicators of forced labour and deceptive recruitment in text.

Results say which indicators are present and point at the exact words; a person decides.
"""

from __future__ import annotations

__version__ = "0.1.0"

import sys  # noqa: E402

if "thinc" not in sys.modules and "torch" not in sys.modules:
    # spaCy's thinc imports torch at start-up whenever it is installed (+2 s and +235 MB in every process and
    # every --jobs worker), though the pipelines here never run on it. Hide torch while spaCy loads; the
    # transformer backend still imports it, lazily, when asked for. (A spaCy pipeline that itself runs on
    # torch, such as a ``*_trf`` one, therefore cannot be passed as ``--pipeline``.)
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy  # noqa: F401
    finally:
        del sys.modules["torch"]

from .engine import Engine, get_engine, screen  # noqa: E402
from .errors import ScreeningError  # noqa: E402
from .results import Evidence, IndicatorScore, ScreeningResult  # noqa: E402

__all__ = ["Engine", "Evidence", "IndicatorScore", "ScreeningError", "ScreeningResult", "get_engine", "screen",
           "__version__"]
