"""Batch runs on a Dask cluster (``screening scan --engine dask``): same results, same order, more machines.

Documents are read on the client (:func:`screening.ingest.read_inputs`) and their text is shipped to
the workers in batches, so workers never need to see the input files. Each worker process builds the
engine once per :class:`~screening.batch.EngineConfig` and keeps it (:func:`_worker_engine`); workers
load the models from their own install (or ``SCREENING_MODEL_DIR``). At most ``2 x worker threads``
batches are in flight, so memory stays flat whatever the input size, and results are yielded in input
order, so the CLI writes them through the same writer and ``--resume`` works as with the local engine.

Dask is the optional ``screening[dask]`` extra, imported only here and only when asked for.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import logging
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

from . import __version__
from .batch import EngineConfig, _batches
from .engine import Engine
from .errors import ScreeningError
from .ingest import Document
from .results import ScreeningResult

log = logging.getLogger(__name__)

INSTALL_HINT = "install the optional extra: pip install 'screening[dask]'"
# Smaller than the local engine's batches (256): a cluster has more workers to keep busy, and a task's
# overhead (a few ms) stays small beside 64 documents even with the rules-only engine (about 40 ms).
BATCH = 64
CONNECT_TIMEOUT_S = 30
WORKERS_TIMEOUT_S = 60
_KEEP_ENGINES = 2  # engines kept per worker process (a long-lived cluster may serve several configurations)
_ENGINES: OrderedDict[EngineConfig, Engine] = OrderedDict()
_ENGINES_LOCK = threading.Lock()


class DaskUnavailableError(ScreeningError):
    """``--engine dask`` was asked for but dask.distributed is not installed."""

    code = "dask_unavailable"
    http_status = 501


class DaskClusterError(ScreeningError):
    """The scheduler cannot be reached, has no workers, or a worker died or runs another version."""

    code = "dask_cluster"
    http_status = 503


def require_dask() -> ModuleType:
    """Import and return ``distributed``, or raise :class:`DaskUnavailableError` with the install command."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise DaskUnavailableError(
            f"--engine dask needs dask.distributed, which could not be imported ({exc.__class__.__name__}); "
            + INSTALL_HINT
        ) from None


def local_cluster(workers: int) -> Any:
    """A LocalCluster of ``workers`` processes with one thread each (no dashboard, no spilling to disk).

    ``memory_limit=0`` turns off the workers' memory manager, which would otherwise spill batches (and
    so document text) to the scratch folder under memory pressure; the in-flight bound keeps memory flat.
    """
    distributed = require_dask()
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=0,
                                    scheduler_kwargs={"dashboard": False}, dashboard_address=None)


def _worker_engine(config: EngineConfig) -> Engine:
    """The engine of ``config`` in this worker process, built on first use and reused after."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(config)
        if engine is None:
            engine = _ENGINES[config] = config.build()
            while len(_ENGINES) > _KEEP_ENGINES:
                _ENGINES.popitem(last=False)
        _ENGINES.move_to_end(config)
        return engine


def _screen_batch(config: EngineConfig, docs: list[Document],
                  include_text: bool) -> list[ScreeningResult] | tuple[str, str, str]:
    """Screen one batch on a worker; a failure comes back as ``(class, code, message)``, never raised.

    A task that raises makes the worker log the exception and its traceback ("Compute Failed"; older
    distributed versions also log the task's arguments), and either may quote document text.
    """
    try:
        engine = _worker_engine(config)
        with _ENGINES_LOCK:  # an engine is not thread-safe; workers run with one thread each anyway
            return [engine.screen_document(d, include_text=include_text) for d in docs]
    except ScreeningError as exc:
        return (exc.__class__.__name__, exc.code, exc.message)
    except Exception as exc:  # noqa: BLE001 - reported to the client without the task's arguments
        return (exc.__class__.__name__, "internal", "unexpected error")


def _worker_version() -> str:
    return __version__


def _portable(config: EngineConfig) -> EngineConfig:
    """Paths made absolute, so a worker started elsewhere finds the same files (same layout assumed)."""
    def absolute(p: str | None) -> str | None:
        return str(Path(p).resolve()) if p and Path(p).exists() else p

    return dataclasses.replace(config, taxonomy=absolute(config.taxonomy), model=absolute(config.model),
                               encoder=absolute(config.encoder))


def _connect(distributed: ModuleType, stack: ExitStack, scheduler: str | None, jobs: int) -> Any:
    if not log.isEnabledFor(logging.INFO):
        # distributed logs every connection at INFO; only ours (-v) turns that on.
        logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler is None:
        cluster = stack.enter_context(local_cluster(jobs))
        return stack.enter_context(distributed.Client(cluster))
    try:
        client = stack.enter_context(distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S))
    except (OSError, TimeoutError, ValueError) as exc:
        raise DaskClusterError(f"cannot connect to the dask scheduler at {scheduler} "
                               f"({exc.__class__.__name__})") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except TimeoutError:
        raise DaskClusterError(f"no dask worker joined {scheduler} within {WORKERS_TIMEOUT_S} s") from None
    try:
        versions = client.run(_worker_version)
    except Exception as exc:  # noqa: BLE001 - a worker that cannot import screening fails here
        raise DaskClusterError(f"the dask workers cannot run screening ({exc.__class__.__name__}); "
                               "install the same screening version and models on every worker") from None
    other = sorted({f"{w}: {v}" for w, v in versions.items() if v != __version__})
    if other:
        raise DaskClusterError(f"dask workers run another screening version than {__version__}: " + ", ".join(other))
    return client


def screen_stream_dask(config: EngineConfig, docs: Iterable[Document], *, scheduler: str | None = None,
                       jobs: int = 1, include_text: bool = False, batch_size: int = BATCH,
                       client: Any = None) -> Iterator[ScreeningResult]:
    """Screen ``docs`` on a Dask cluster and yield the results in input order.

    ``scheduler`` is the address of a running scheduler (``tcp://HOST:PORT``); without it a LocalCluster
    of ``jobs`` worker processes is started for the run and closed after it. An existing ``client`` may
    be passed instead (tests, notebooks).
    """
    distributed = require_dask()
    config = _portable(config)
    batches = _batches(docs, batch_size)
    with ExitStack() as stack:
        if client is None:
            client = _connect(distributed, stack, scheduler, jobs)
        slots = max(2, 2 * sum(client.nthreads().values()))
        run = uuid.uuid4().hex[:12]
        window: deque[Any] = deque()
        try:
            for n, batch in enumerate(itertools.chain(batches, [None])):
                if batch is not None:
                    window.append(client.submit(_screen_batch, config, batch, include_text, pure=False,
                                                key=f"screening-batch-{run}-{n}"))
                while window and (len(window) >= slots or batch is None):
                    yield from _results(window.popleft())
        except distributed.KilledWorker as exc:
            raise DaskClusterError("a dask worker died while screening a batch (rerun with --output FILE --resume "
                                   "to keep what was written)") from exc
        finally:
            for future in window:
                future.cancel()


def _results(future: Any) -> list[ScreeningResult]:
    value = future.result()
    if isinstance(value, tuple):
        name, code, message = value
        raise ScreeningError(f"a dask worker could not screen a batch: {name}: {message}", code=code)
    return list(value)
