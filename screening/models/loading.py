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

    engine.set_scorer(ModelScorer.from_dir(engine.taxonomy, Path(model_dir)))
    return engine


def default_engine(profile: str, *, taxonomy: str | Path | None = None, replace_taxonomy: bool = False,
                   pipeline: str = "blank:en", model: str | Path | None = None, use_model: bool = True) -> Engine:
    """The engine for ``profile``: configured taxonomy, and the given or shipped model if present.

    Without a model folder the transparent rule scorer runs and results say ``"model": null``. A
    replaced taxonomy gets no shipped model (that model was trained on the shipped indicators); pass
    ``model`` explicitly to use one.
    """
    engine = Engine(profile, taxonomy=taxonomy, replace_taxonomy=replace_taxonomy, pipeline=pipeline)
    settings = get_settings()
    if not use_model or not settings.use_models or (replace_taxonomy and not model):
        return engine
    directory = Path(model) if model else settings.model_dir / profile
    if model or (directory / "manifest.json").is_file():
        attach_model(engine, directory)
    else:
        log.info("no model in %s; using the rule scorer", directory)
    return engine
