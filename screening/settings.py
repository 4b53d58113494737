"""One typed settings object: defaults < ``SCREENING_*`` environment. Only this module reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Where models live, whether to use them, and limits on input."""

    model_dir: Path = PROJECT_ROOT / "models"
    use_models: bool = True
    max_bytes: int = 50 * 1024 * 1024
    shared_data: Path = PROJECT_ROOT.parent / "shared" / "data"

    @classmethod
    def from_env(cls) -> Settings:
        """Defaults overridden by ``SCREENING_MODEL_DIR``, ``_USE_MODELS``, ``_MAX_BYTES``, ``_SHARED_DATA``."""
        env = os.environ
        base = cls()
        return cls(
            model_dir=Path(env.get("SCREENING_MODEL_DIR", base.model_dir)),
            use_models=env.get("SCREENING_USE_MODELS", "1").lower() not in ("0", "false", "no"),
            max_bytes=int(env.get("SCREENING_MAX_BYTES", base.max_bytes)),
            shared_data=Path(env.get("SCREENING_SHARED_DATA", base.shared_data)),
        )


def get_settings() -> Settings:
    """The settings in force now."""
    return Settings.from_env()
