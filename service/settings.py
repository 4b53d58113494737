"""The service's one settings object: defaults < ``SCREENING_*`` environment. Only this module reads it.

Engine settings (model folder, whether to use models) stay in :mod:`screening.settings`; these are the
limits and security switches of the HTTP layer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from screening.errors import ScreeningError
from screening.taxonomy import PROFILES


class SettingsError(ScreeningError):
    """A ``SCREENING_*`` variable holds a value the service cannot use."""

    code = "invalid_setting"
    http_status = 500


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class ServiceSettings:
    """Limits, profiles to serve, API keys and CORS origins of the HTTP service.

    ``api_keys`` empty means no authentication; ``cors_origins`` empty means no CORS headers at all.
    """

    max_body_bytes: int = 10 * 1024 * 1024
    max_text_chars: int = 200_000
    max_batch_size: int = 50
    body_timeout_s: int = 30
    profiles: tuple[str, ...] = PROFILES
    api_keys: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [p for p in self.profiles if p not in PROFILES]
        if unknown or not self.profiles:
            got = ", ".join(self.profiles) or "none"
            raise SettingsError(f"profiles must be some of {', '.join(PROFILES)}; got {got}")

    def __repr__(self) -> str:
        # Never print the keys themselves, e.g. in a traceback or a debug log.
        return (f"ServiceSettings(max_body_bytes={self.max_body_bytes}, max_text_chars={self.max_text_chars}, "
                f"max_batch_size={self.max_batch_size}, body_timeout_s={self.body_timeout_s}, "
                f"profiles={self.profiles}, api_keys=<{len(self.api_keys)}>, "
                f"cors_origins={self.cors_origins})")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceSettings:
        """Defaults overridden by the ``SCREENING_*`` environment (or ``env``).

        Reads ``SCREENING_MAX_BODY_BYTES``, ``SCREENING_MAX_TEXT_CHARS``, ``SCREENING_MAX_BATCH_SIZE``,
        ``SCREENING_BODY_TIMEOUT_S``, and the comma-separated ``SCREENING_PROFILES``, ``SCREENING_API_KEYS``
        and ``SCREENING_CORS_ORIGINS``.
        """
        env = os.environ if env is None else env
        base = cls()
        return cls(
            max_body_bytes=_positive_int(env, "SCREENING_MAX_BODY_BYTES", base.max_body_bytes),
            max_text_chars=_positive_int(env, "SCREENING_MAX_TEXT_CHARS", base.max_text_chars),
            max_batch_size=_positive_int(env, "SCREENING_MAX_BATCH_SIZE", base.max_batch_size),
            body_timeout_s=_positive_int(env, "SCREENING_BODY_TIMEOUT_S", base.body_timeout_s),
            profiles=_split(env.get("SCREENING_PROFILES", "")) or base.profiles,
            api_keys=_split(env.get("SCREENING_API_KEYS", "")),
            cors_origins=_split(env.get("SCREENING_CORS_ORIGINS", "")),
        )
