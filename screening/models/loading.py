"""Build the engine a command runs: rules plus the shipped model of the profile when there is one."""

from __future__ import annotations

from pathlib import Path

from ..engine import Engine


def default_engine(profile: str, *, taxonomy: str | Path | None = None, replace_taxonomy: bool = False,
                   pipeline: str = "blank:en") -> Engine:
    """The engine for ``profile`` with the configured taxonomy."""
    return Engine(profile, taxonomy=taxonomy, replace_taxonomy=replace_taxonomy, pipeline=pipeline)
