"""screening: explainable indicators of forced labour and deceptive recruitment in text.

Results say which indicators are present and point at the exact words; a person decides.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .engine import Engine, get_engine, screen  # noqa: E402
from .errors import ScreeningError  # noqa: E402
from .results import Evidence, IndicatorScore, ScreeningResult  # noqa: E402

__all__ = ["Engine", "Evidence", "IndicatorScore", "ScreeningError", "ScreeningResult", "get_engine", "screen",
           "__version__"]
