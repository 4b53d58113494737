"""Choose and build the scoring stage of a backend: ``fast``, ``transformer`` or ``cascade``.

The transformer models load from a verified artefact folder (``model_dir``, default
``<model dir>/<profile>/transformer`` when it exists); without one they are fitted from the
profile's corpus in the project checkout, once per process (encoding the corpus takes a minute or
more on a laptop CPU; save the result with :func:`screening.transformer.train.save_transformer`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ScreeningError
from ..scoring import Scorer
from ..settings import get_settings
from .extra import require_transformers

if TYPE_CHECKING:
    from ..engine import Engine
    from .encoder import SentenceEncoder
    from .scorer import TransformerScorer

log = logging.getLogger(__name__)
BACKENDS: tuple[str, ...] = ("fast", "transformer", "cascade")
_ENCODER_SETTINGS = ("precision", "batch_size", "max_length", "threads")
_TRANSFORMER_SETTINGS = ("max_sentences",)
_CASCADE_SETTINGS = ("band", "blend", "long_sentences", "top_sentences")
_FIT_SETTINGS = ("corpus", "extra", "seed")
_FITTED: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, Any]]] = {}


def default_model_dir(profile: str) -> Path:
    """Where a saved transformer artefact of ``profile`` is looked for."""
    return get_settings().model_dir / profile / "transformer"


def saved_model_dir(profile: str) -> Path | None:
    """The saved transformer artefact folder of ``profile``, or None when the backend would fit one."""
    directory = default_model_dir(profile)
    return directory if (directory / "manifest.json").is_file() else None


def _fitted(engine: Engine, encoder: SentenceEncoder, fit: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    from .train import fit_transformer

    key = (engine.profile, engine.taxonomy.sha256, encoder.fingerprint, repr(sorted(fit.items())))
    if key not in _FITTED:
        log.warning("no saved transformer model for %s; fitting one from the corpus (once per process)",
                    engine.profile)
        bundle, manifest = fit_transformer(engine, encoder, **fit)
        _FITTED[key] = (bundle, {**manifest, "files": {"model.joblib": "unsaved"}})
    return _FITTED[key]


def transformer_scorer(engine: Engine, encoder: SentenceEncoder, model_dir: str | Path | None = None,
                       **settings: Any) -> TransformerScorer:
    """The transformer scorer of ``engine``'s profile: from ``model_dir`` if given or present, else fitted."""
    from .scorer import TransformerScorer

    scorer_settings = {k: settings.pop(k) for k in _TRANSFORMER_SETTINGS if k in settings}
    fit = {k: settings.pop(k) for k in _FIT_SETTINGS if k in settings}
    if settings:
        raise ScreeningError(f"unknown transformer backend settings: {', '.join(sorted(settings))}", code="usage")
    directory = Path(model_dir) if model_dir is not None else default_model_dir(engine.profile)
    if model_dir is not None or (directory / "manifest.json").is_file():
        return TransformerScorer.from_dir(engine.taxonomy, encoder, directory, **scorer_settings)
    bundle, manifest = _fitted(engine, encoder, fit)
    return TransformerScorer(engine.taxonomy, encoder, bundle, manifest, **scorer_settings)


def build_scorer(engine: Engine, backend: str, encoder_path: str | Path | None = None, **settings: Any) -> Scorer:
    """The scoring stage of ``backend`` for ``engine`` (the engine is not changed).

    Settings: ``model_dir`` (saved transformer artefact), ``precision`` (``auto``/``bf16``/``fp32``),
    ``batch_size``, ``max_length``, ``threads``, ``max_sentences``; for the cascade ``band`` (``(low, high)`` fast
    scores sent to the transformer), ``blend``, ``long_sentences``, ``top_sentences``; for fitting
    without a saved artefact ``corpus``, ``extra``, ``seed``.
    """
    if backend not in BACKENDS:
        raise ScreeningError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}", code="usage")
    if backend == "fast":
        return engine.scorer
    require_transformers()
    from .encoder import load_encoder
    from .scorer import CascadeScorer

    encoder = load_encoder(encoder_path, **{k: settings.pop(k) for k in _ENCODER_SETTINGS if k in settings})
    cascade = {k: settings.pop(k) for k in _CASCADE_SETTINGS if k in settings}
    if cascade and backend != "cascade":
        raise ScreeningError(f"settings {', '.join(sorted(cascade))} apply to the cascade backend only", code="usage")
    transformer = transformer_scorer(engine, encoder, settings.pop("model_dir", None), **settings)
    if backend == "transformer":
        return transformer
    return CascadeScorer(engine.taxonomy, engine.scorer, transformer, **cascade)


def attach_backend(engine: Engine, backend: str, encoder_path: str | Path | None = None, **settings: Any) -> Engine:
    """Set ``engine``'s scorer to the given backend's and return the engine."""
    if backend != "fast":
        engine.set_scorer(build_scorer(engine, backend, encoder_path, **settings))
    return engine
