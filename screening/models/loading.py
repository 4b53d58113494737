"""Build the engine a command runs: rules plus the shipped model of the profile when there is one."""

from __future__ import annotations

import logging
from pathlib import Path

from ..engine import Engine
from ..settings import get_settings

log = logging.getLogger(__name__)


def attach_model(engine: Engine, model_dir: str | Path) -> Engine:
    """Verify and load the model artefact in ``model_dir`` as the engine's scorer."""
    from .scorer import ModelScorer

    scorer = ModelScorer.from_dir(engine.taxonomy, Path(model_dir))
    engine.set_scorer(scorer)
    engine.warm(scorer.classifier.common_words())
    return engine


def default_engine(profile: str, *, taxonomy: str | Path | None = None, replace_taxonomy: bool = False,
                   pipeline: str = "blank:en", model: str | Path | None = None, use_model: bool = True,
                   backend: str | None = None, encoder: str | Path | None = None) -> Engine:
    """The engine for ``profile``: configured taxonomy, and the given or shipped model if present.

    Without a model folder the transparent rule scorer runs and results say ``"model": null``. A
    replaced taxonomy gets no shipped model (that model was trained on the shipped indicators); pass
    ``model`` explicitly to use one. ``backend`` (default: the ``SCREENING_BACKEND`` setting, ``fast``)
    puts the transformer or cascade scorer on top (:mod:`screening.transformer`).
    """
    engine = Engine(profile, taxonomy=taxonomy, replace_taxonomy=replace_taxonomy, pipeline=pipeline)
    settings = get_settings()
    if use_model and settings.use_models and not (replace_taxonomy and not model):
        directory = Path(model) if model else settings.model_dir / profile
        if model or (directory / "manifest.json").is_file():
            attach_model(engine, directory)
        else:
            log.info("no model in %s; using the rule scorer", directory)
    chosen = backend or settings.backend
    if chosen != "fast":
        from ..transformer import attach_backend

        attach_backend(engine, chosen, encoder if encoder is not None else settings.encoder)
    return engine
