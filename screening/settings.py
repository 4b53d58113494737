"""One typed settings object: defaults < ``SCREENING_*`` environment. Only this module reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Where models live, whether to use them, and per-document limits on input.

    The limits bound the time and memory one hostile document can take: ``max_bytes`` (file size),
    ``max_chars`` (extracted text, and one CSV/JSONL line or row), ``max_unpacked_bytes`` (the declared
    uncompressed size of a DOCX's parts: zip bombs), ``max_pdf_pages``, ``max_html_tags`` and
    ``max_seconds`` (reading and screening one document, checked between PDF pages and text chunks).
    """

    model_dir: Path = PROJECT_ROOT / "models"
    use_models: bool = True
    max_bytes: int = 50 * 1024 * 1024
    max_chars: int = 20_000_000
    max_unpacked_bytes: int = 200 * 1024 * 1024
    max_pdf_pages: int = 2_000
    max_html_tags: int = 200_000
    max_seconds: float = 300.0
    shared_data: Path = PROJECT_ROOT.parent / "shared" / "data"
    backend: str = "fast"
    encoder: Path | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Defaults overridden by ``SCREENING_MODEL_DIR``, ``_USE_MODELS``, ``_SHARED_DATA`` and the limits.

        The limits are ``SCREENING_MAX_BYTES``, ``_MAX_CHARS``, ``_MAX_UNPACKED_BYTES``, ``_MAX_PDF_PAGES``,
        ``_MAX_HTML_TAGS`` and ``_MAX_SECONDS``; ``SCREENING_BACKEND`` (``fast``, ``transformer`` or ``cascade``)
        and ``SCREENING_ENCODER`` (a sentence-encoder folder).
        """
        env = os.environ
        base = cls()
        return cls(
            model_dir=Path(env.get("SCREENING_MODEL_DIR", base.model_dir)),
            use_models=env.get("SCREENING_USE_MODELS", "1").lower() not in ("0", "false", "no"),
            max_bytes=int(env.get("SCREENING_MAX_BYTES", base.max_bytes)),
            max_chars=int(env.get("SCREENING_MAX_CHARS", base.max_chars)),
            max_unpacked_bytes=int(env.get("SCREENING_MAX_UNPACKED_BYTES", base.max_unpacked_bytes)),
            max_pdf_pages=int(env.get("SCREENING_MAX_PDF_PAGES", base.max_pdf_pages)),
            max_html_tags=int(env.get("SCREENING_MAX_HTML_TAGS", base.max_html_tags)),
            max_seconds=float(env.get("SCREENING_MAX_SECONDS", base.max_seconds)),
            shared_data=Path(env.get("SCREENING_SHARED_DATA", base.shared_data)),
            backend=env.get("SCREENING_BACKEND", base.backend),
            encoder=Path(env["SCREENING_ENCODER"]) if env.get("SCREENING_ENCODER") else None,
        )


def get_settings() -> Settings:
    """The settings in force now."""
    return Settings.from_env()
