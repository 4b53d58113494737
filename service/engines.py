"""The engines the service screens with: built once, off the event loop, when the app starts.

Building an engine (taxonomy, spaCy pipeline, verified model artefact) takes seconds, so the lifespan
starts :meth:`EngineRegistry.load` in a worker thread: ``/healthz`` answers at once and ``/readyz``
answers 503 until every configured profile is loaded. A profile that fails to load is reported by
``/readyz`` and answers 503; the others keep serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from screening.engine import Engine
from screening.errors import ScreeningError
from screening.ingest import Document
from screening.models.loading import default_engine
from screening.results import ScreeningResult

from .errors import NotReadyError, ProfileNotServedError

log = logging.getLogger("screening.service")


@dataclass(frozen=True)
class ProfileStatus:
    """Where one profile's engine stands: ``loading``, ``ready`` or ``failed`` (with the error code)."""

    state: str
    model: str | None = None
    taxonomy_version: str | None = None
    error: str | None = None


class EngineRegistry:
    """One engine per served profile, each used by one thread at a time.

    spaCy pipelines are not documented as thread-safe, and screening is CPU-bound under the GIL, so a
    lock per engine costs no throughput while keeping the event loop free for other requests.
    """

    def __init__(self, profiles: Iterable[str], build: Callable[[str], Engine] = default_engine) -> None:
        self.profiles = tuple(profiles)
        self._build = build
        self._engines: dict[str, Engine] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._failures: dict[str, ScreeningError] = {}
        self._loaded = threading.Event()
        self._loading = threading.Lock()

    def load(self) -> None:
        """Build every profile's engine once; failures are recorded, never raised (runs in a worker thread)."""
        with self._loading:
            if self._loaded.is_set():
                return
            for profile in self.profiles:
                try:
                    engine = self._build(profile)
                except ScreeningError as exc:
                    log.error("profile %s failed to load: %s: %s", profile, exc.code, exc.message)
                    self._failures[profile] = exc
                except Exception as exc:  # a thread boundary: anything unexpected is reported by /readyz
                    log.exception("profile %s failed to load", profile)
                    self._failures[profile] = ScreeningError(f"{exc.__class__.__name__}: {exc}", code="engine_failed")
                else:
                    self._locks[profile] = threading.Lock()
                    self._engines[profile] = engine
                    log.info("profile %s ready (taxonomy %s, model %s)", profile, engine.info.taxonomy_version,
                             engine.info.model)
            self._loaded.set()

    @property
    def ready(self) -> bool:
        """Whether every configured profile is loaded."""
        return self._loaded.is_set() and not self._failures

    def status(self) -> dict[str, ProfileStatus]:
        """The state of each configured profile."""
        out = {}
        for profile in self.profiles:
            engine = self._engines.get(profile)
            failure = self._failures.get(profile)
            if engine is not None:
                out[profile] = ProfileStatus("ready", engine.info.model, engine.info.taxonomy_version)
            elif failure is not None:
                out[profile] = ProfileStatus("failed", error=failure.code)
            else:
                out[profile] = ProfileStatus("loading")
        return out

    def failures(self) -> dict[str, ScreeningError]:
        """Profiles that could not be loaded, with why."""
        return dict(self._failures)

    def engine(self, profile: str) -> Engine:
        """The loaded engine of ``profile``, or the error that says why there is none."""
        if profile not in self.profiles:
            raise ProfileNotServedError(f"profile {profile!r} is not served here; served: {', '.join(self.profiles)}")
        engine = self._engines.get(profile)
        if engine is not None:
            return engine
        failure = self._failures.get(profile)
        if failure is not None:
            raise NotReadyError(f"profile {profile!r} could not be loaded ({failure.code})", code="profile_unavailable")
        raise NotReadyError("the service is still loading its models; retry shortly")

    def engines(self) -> dict[str, Engine]:
        """Every loaded engine by profile, in configured order."""
        return {p: self._engines[p] for p in self.profiles if p in self._engines}

    def screen(self, profile: str, text: str, doc_id: str, *, include_text: bool) -> ScreeningResult:
        """Screen one text; a :class:`ScreeningError` from the engine propagates to the caller."""
        engine = self.engine(profile)
        with self._locks[profile]:
            return engine.screen(text, doc_id, include_text=include_text)

    def screen_document(self, profile: str, doc: Document, *, include_text: bool) -> ScreeningResult:
        """Screen one batch item; any failure becomes the item's error record, as in ``screening scan``."""
        engine = self.engine(profile)
        with self._locks[profile]:
            return engine.screen_document(doc, include_text=include_text)
