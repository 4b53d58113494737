"""Model artefacts on disk: ``model.joblib`` + ``manifest.json`` (+ ``MODEL_CARD.md``), integrity-checked.

A pickle runs code when loaded, so the loader checks the sha256 of every file the manifest lists
before calling ``joblib.load``, and refuses artefacts made with library versions it cannot trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib

from ..errors import ModelError

MANIFEST = "manifest.json"
MODEL_FILE = "model.joblib"
FORMAT_VERSION = 1


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose objects are pickled in an artefact."""
    import numpy
    import scipy
    import sklearn
    import spacy

    from .. import __version__

    return {"screening": __version__, "scikit-learn": sklearn.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "spacy": spacy.__version__, "python": platform.python_version()}


def save_artefact(directory: Path, model: Any, manifest: dict[str, Any],
                  extra_files: Mapping[str, bytes] | None = None) -> dict[str, Any]:
    """Write the model and its manifest (with file hashes and library versions); returns the manifest.

    ``extra_files`` (name -> bytes) are written beside the model and listed with their sha256 too, so
    loading checks them like the model file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    joblib.dump(model, model_path, compress=3)
    files = {MODEL_FILE: sha256_file(model_path)}
    for name, data in (extra_files or {}).items():
        if Path(name).name != name or name in (MODEL_FILE, MANIFEST):
            raise ValueError(f"not a plain extra file name: {name!r}")
        (directory / name).write_bytes(data)
        files[name] = hashlib.sha256(data).hexdigest()
    manifest = {**manifest, "format": FORMAT_VERSION, "libraries": library_versions(), "files": files}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of an artefact folder, or a :class:`ModelError` saying what is wrong."""
    path = directory / MANIFEST
    if not path.is_file():
        raise ModelError(f"{directory}: no {MANIFEST}; not a screening model folder", code="model_missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable manifest: {exc}", code="model_invalid") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise ModelError(f"{path}: unsupported manifest format {manifest.get('format')!r}", code="model_invalid")
    return manifest


def verify_artefact(directory: Path) -> dict[str, Any]:
    """Check every listed file's sha256 and the library versions; return the manifest."""
    manifest = read_manifest(directory)
    files = manifest.get("files") or {}
    if MODEL_FILE not in files:
        raise ModelError(f"{directory}: manifest lists no {MODEL_FILE}", code="model_invalid")
    for name, expected in files.items():
        path = directory / name
        if not path.is_file() or Path(name).name != name:
            raise ModelError(f"{directory}: {name} listed in the manifest is missing", code="model_missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelError(
                f"{path}: sha256 {actual[:12]}… does not match the manifest ({str(expected)[:12]}…); "
                "refusing to load a file that may have been altered",
                code="model_tampered",
            )
    have = library_versions()
    want = manifest.get("libraries") or {}
    for lib in ("scikit-learn",):
        if want.get(lib, "").split(".")[:2] != have[lib].split(".")[:2]:
            raise ModelError(
                f"{directory}: built with {lib} {want.get(lib)}, this environment has {have[lib]}; "
                "retrain with `screening train` rather than load a pickle across versions",
                code="model_incompatible",
            )
    return manifest


def load_artefact(directory: Path) -> tuple[Any, dict[str, Any]]:
    """Verify, then load, a model artefact folder.

    The model file is read once and its bytes are checked again before they are unpickled, so a file
    swapped after :func:`verify_artefact` ran is refused rather than loaded.
    """
    manifest = verify_artefact(directory)
    data = (directory / MODEL_FILE).read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest["files"][MODEL_FILE]:
        raise ModelError(f"{directory / MODEL_FILE}: changed after it was verified; refusing to load it",
                         code="model_tampered")
    return joblib.load(io.BytesIO(data)), manifest
