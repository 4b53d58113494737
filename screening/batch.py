"""Batch runs: stream documents through one or more engine processes, in input order, resumably.

Documents are read lazily and screened in bounded batches, so memory stays flat whatever the input
size. With ``jobs > 1`` worker processes each build the engine once; results keep input order.
``resume_state`` reads an existing JSONL output: ids already written are skipped and a truncated
last line (a run killed mid-write) is cut off, so every input id ends up exactly once.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import Engine
from .ingest import Document
from .results import ScreeningResult
from .taxonomy import Taxonomy

BATCH = 256
_WORKER_ENGINE: Engine | None = None


@dataclass(frozen=True)
class EngineConfig:
    """Everything a worker process needs to build the same engine as the parent."""

    profile: str
    taxonomy: str | None = None
    replace_taxonomy: bool = False
    pipeline: str = "blank:en"
    model: str | None = None
    use_model: bool = True
    backend: str | None = None
    encoder: str | None = None

    def build(self) -> Engine:
        """Build the engine (rules + model + backend) this configuration describes."""
        from .models.loading import default_engine

        return default_engine(self.profile, taxonomy=self.taxonomy, replace_taxonomy=self.replace_taxonomy,
                              pipeline=self.pipeline, model=self.model, use_model=self.use_model,
                              backend=self.backend, encoder=self.encoder)

    def load_taxonomy(self) -> Taxonomy:
        """The taxonomy alone, as the engine would load it (no pipeline, no model)."""
        return Engine._taxonomy(self.profile, self.taxonomy, self.replace_taxonomy, None)


def _init_worker(config: EngineConfig) -> None:
    global _WORKER_ENGINE
    _WORKER_ENGINE = config.build()


def _screen_batch(args: tuple[list[Document], bool]) -> list[ScreeningResult]:
    docs, include_text = args
    assert _WORKER_ENGINE is not None
    return [_WORKER_ENGINE.screen_document(d, include_text=include_text) for d in docs]


def _batches(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    it = iter(docs)
    while batch := list(itertools.islice(it, size)):
        yield batch


def screen_stream(engine: Engine, config: EngineConfig, docs: Iterable[Document], *, jobs: int = 1,
                  include_text: bool = False) -> Iterator[ScreeningResult]:
    """Screen ``docs`` in input order with ``jobs`` processes (1 = in this process)."""
    batches = _batches(docs, BATCH)
    first = next(batches, None)
    if first is None:
        return
    if jobs <= 1 or len(first) < BATCH:
        # Small inputs: starting workers would cost more than it saves.
        rest = itertools.chain.from_iterable(batches)  # lazily: ``*batches`` would read the whole input first
        yield from engine.screen_documents(itertools.chain(first, rest), include_text=include_text)
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(config,)) as pool:
        window: list[Any] = []
        for batch in itertools.chain([first], batches):
            window.append(pool.apply_async(_screen_batch, ((batch, include_text),)))
            if len(window) >= 2 * jobs:  # bounded look-ahead keeps memory flat
                yield from window.pop(0).get()
        for pending in window:
            yield from pending.get()


def resume_state(path: Path) -> set[str]:
    """Ids already written whole to a JSONL output; cuts a truncated last line off the file."""
    if not path.is_file():
        return set()
    done: set[str] = set()
    good_end = 0
    with path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            done.add(str(record.get("id")))
            good_end += len(line)
    with path.open("r+b") as f:
        f.truncate(good_end)
    return done
