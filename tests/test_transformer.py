"""The optional transformer backend: encoder loading, semantic matcher, embedding classifier, cascade.

Tests that need torch build a tiny BERT (two layers, hidden size 32, its own vocabulary) on the fly
and load it through the real loading code; the ``slow`` tests run the shipped all-MiniLM-L6-v2 end
to end (fitted from the corpora once per session) and measure paraphrase recall.
"""

from __future__ import annotations

import importlib.abc
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from screening import Engine
from screening.errors import ModelError, ScreeningError
from screening.results import ASSERTIONS, Evidence
from screening.scoring import Scored, verdict_for
from screening.sentences import Sentence
from screening.taxonomy import PROFILES
from screening.transformer import BACKENDS, TransformersUnavailableError, attach_backend, build_scorer

from .conftest import FIXTURES, ROOT
from .helpers import assert_contract, assert_offsets

PARAPHRASES = FIXTURES / "paraphrases"
EXTRA_MODULES = ("torch", "transformers")
BLOCK_EXTRA = ("import sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.partition('.')[0] in ('torch', 'transformers'):\n"
               "            raise ModuleNotFoundError(name)\n"
               "sys.meta_path.insert(0, Block())\n")
PUNCTUATION = list(".,;:!?'\"()-/%$&")


def paraphrases(profile: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (PARAPHRASES / f"{profile}.jsonl").read_text(encoding="utf-8").splitlines()]


# ---- without the extra ------------------------------------------------------------------------


class _BlockExtra(importlib.abc.MetaPathFinder):
    """Fail every import of torch or transformers, as on an install without the extra."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in EXTRA_MODULES:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import torch`` and ``import transformers`` fail for the duration of a test.

    ``sys.modules["torch"] = None`` is not enough: scikit-learn and SciPy look torch up in
    ``sys.modules`` to recognise tensors and break on a ``None`` entry, so the modules are removed
    and their import is refused instead.
    """
    for name in [m for m in sys.modules if m.partition(".")[0] in EXTRA_MODULES]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_BlockExtra(), *sys.meta_path])


@pytest.mark.parametrize("backend", ["transformer", "cascade"])
def test_transformer_backend_without_extra_says_how_to_install(no_torch: None, supplier_engine: Engine,
                                                                 backend: str) -> None:
    with pytest.raises(TransformersUnavailableError) as info:
        build_scorer(supplier_engine, backend)
    assert isinstance(info.value, ScreeningError)
    assert info.value.code == "transformers_unavailable"
    assert "pip install 'screening[transformers]'" in info.value.message
    assert "torch==2.13.0" in info.value.message


def test_fast_backend_and_screening_work_without_extra(no_torch: None, supplier_engine: Engine) -> None:
    assert build_scorer(supplier_engine, "fast") is supplier_engine.scorer
    result = supplier_engine.screen("The HR office keeps all workers' passports in a locked cabinet.")
    assert "FL07" in {i.id for i in result.indicators}


def test_backend_modules_import_and_rules_run_where_torch_cannot_be_imported() -> None:
    # spaCy's thinc imports torch whenever it is installed, so "torch not in sys.modules" proves nothing:
    # a fresh interpreter with the imports blocked stands for a machine without the extra.
    code = (BLOCK_EXTRA +
            "import screening.transformer.encoder, screening.transformer.scorer, screening.transformer.train\n"
            "from screening import Engine\n"
            "from screening.transformer import TransformersUnavailableError, build_scorer\n"
            "engine = Engine('recruitment')\n"
            "assert engine.screen('Send your original passport to our office.').indicators\n"
            "try:\n    build_scorer(engine, 'cascade')\nexcept TransformersUnavailableError as exc:\n    print(exc.code)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "transformers_unavailable"


def test_unknown_backend_is_a_usage_error(supplier_engine: Engine) -> None:
    with pytest.raises(ScreeningError) as info:
        build_scorer(supplier_engine, "gpu")
    assert info.value.code == "usage"
    assert ", ".join(BACKENDS) in info.value.message


# ---- the paraphrase set -----------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_paraphrases_cover_every_indicator_in_asserted_sentences_without_rule_phrases(profile: str) -> None:
    engine = Engine(profile)
    rows = paraphrases(profile)
    counts = Counter(r["indicator"] for r in rows)
    assert set(counts) == {i.id for i in engine.taxonomy.indicators}
    assert min(counts.values()) >= 10
    for r in rows:
        phrases = [p.lower() for rule in engine.taxonomy.by_id[r["indicator"]].rules for p in rule.phrases]
        assert not [p for p in phrases if p in r["text"].lower()], r["id"]
        _, sentences = engine.analyse(r["text"], sentences=True)
        assert [s.frame for s in sentences] == ["asserted"], f"{r['id']} is not one asserted sentence"


# ---- a tiny BERT, built on the fly ------------------------------------------------------------


def _vocabulary() -> list[str]:
    text = " ".join(p for profile in PROFILES for i in Engine(profile).taxonomy.indicators for p in i.positives)
    words = [w for w, _ in Counter(re.findall(r"[a-z]+", text.lower())).most_common(400)]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *PUNCTUATION, *"0123456789", *letters,
              *(f"##{c}" for c in letters + list("0123456789")), *words]
    return list(dict.fromkeys(tokens))


def _write_tiny_bert(folder: Path, seed: int) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from screening.transformer.encoder import write_encoder_manifest

    folder.mkdir(parents=True, exist_ok=True)
    vocab = _vocabulary()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    transformers.BertTokenizer(str(folder / "vocab.txt")).save_pretrained(str(folder))
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=256)
    transformers.BertModel(config).save_pretrained(str(folder))
    write_encoder_manifest(folder, f"tiny-bert-{seed}")
    return folder


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), seed=0)


@pytest.fixture(scope="session")
def tiny_encoder(tiny_dir: Path) -> Any:
    from screening.transformer.encoder import load_encoder

    return load_encoder(tiny_dir, precision="fp32")


def _fit_tiny(encoder: Any, tmp_path_factory: pytest.TempPathFactory, every: int, **fit: Any) -> Path:
    """Fit and save a transformer artefact on every ``every``-th record of the supplier corpus.

    Groups, hence splits, are kept; a fraction of the corpus is plenty for a random tiny encoder and
    keeps the fixture to seconds.
    """
    from screening.transformer.train import fit_transformer, save_transformer

    corpus = tmp_path_factory.mktemp("corpus")
    for path in sorted((ROOT / "corpora" / "supplier").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        (corpus / path.name).write_text("\n".join(lines[::every]) + "\n", encoding="utf-8")
    bundle, manifest = fit_transformer(Engine("supplier"), encoder, corpus=corpus, **fit)
    out = tmp_path_factory.mktemp("tiny-transformer")
    save_transformer(out, bundle, manifest)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_encoder: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fit_tiny(tiny_encoder, tmp_path_factory, every=4)


@pytest.fixture(scope="session")
def tiny_engine(tiny_dir: Path, tiny_model_dir: Path) -> Engine:
    return attach_backend(Engine("supplier"), "transformer", tiny_dir, model_dir=tiny_model_dir, precision="fp32")


def test_tiny_encoder_gives_unit_vectors_independent_of_batch_order(tiny_encoder: Any) -> None:
    texts = ["Workers said the agent keeps their passports.", "Wages were paid late.", ""]
    a = tiny_encoder.encode(texts)
    b = tiny_encoder.encode(texts[::-1])[::-1]
    assert a.shape == (3, 32)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.allclose(a, b, atol=1e-5)
    assert tiny_encoder.info.name == "tiny-bert-0"


def test_encoder_with_an_altered_file_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    from screening.transformer.encoder import load_encoder

    copy = Path(shutil.copytree(tiny_dir, tmp_path / "copy"))
    config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    config["layer_norm_eps"] = 1e-5
    (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelError) as info:
        load_encoder(copy)
    assert info.value.code == "encoder_tampered"


def test_pickled_weights_are_refused(tiny_dir: Path, tmp_path: Path) -> None:
    from screening.transformer.encoder import load_encoder

    copy = Path(shutil.copytree(tiny_dir, tmp_path / "copy"))
    (copy / "model.safetensors").rename(copy / "pytorch_model.bin")
    with pytest.raises(ModelError) as info:
        load_encoder(copy)
    assert info.value.code == "encoder_invalid"
    assert "safetensors" in info.value.message


def test_saved_model_reloads_and_screens_with_contract_and_offsets(tiny_engine: Engine, tiny_dir: Path,
                                                                   tiny_model_dir: Path) -> None:
    text = ("Workers said the supervisor keeps their passports in his office. We do not allow any deductions "
            "from wages. Overtime reached 80 hours a week in March.")
    first = tiny_engine.screen(text, "doc-1")
    assert_contract(first.to_dict(), text)
    assert_offsets(text, first.evidence)
    assert first.engine.model is not None and first.engine.model.startswith("screening-supplier-transformer@")
    again = attach_backend(Engine("supplier"), "transformer", tiny_dir, model_dir=tiny_model_dir, precision="fp32")
    assert again.screen(text, "doc-1").to_dict() == first.to_dict()
    for e in first.evidence:
        if e.rule.startswith("semantic/"):
            assert e.source == "model" and e.rule == f"semantic/{e.indicator}"
            assert (e.start, e.end) in {(s.start, s.end) for s in tiny_engine.analyse(text, sentences=True)[1]}
            assert e.cue  # the nearest prototype explains the match


def test_tampered_model_is_refused(tiny_model_dir: Path, tiny_encoder: Any, tmp_path: Path) -> None:
    from screening.transformer.train import load_transformer

    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    with (copy / "model.joblib").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError) as info:
        load_transformer(copy, tiny_encoder)
    assert info.value.code == "model_tampered"


def test_model_refuses_an_encoder_it_was_not_built_on(tiny_model_dir: Path, tmp_path: Path) -> None:
    from screening.transformer.encoder import load_encoder
    from screening.transformer.train import load_transformer

    other = load_encoder(_write_tiny_bert(tmp_path / "other", seed=1), precision="fp32")
    with pytest.raises(ModelError) as info:
        load_transformer(tiny_model_dir, other)
    assert info.value.code == "model_incompatible"


def test_classifier_follows_the_scikit_learn_contract() -> None:
    from screening.transformer.classifier import EmbeddingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = (x[:, 0] > 0).astype(int)
    clf = EmbeddingClassifier(feature_names=[f"f{i}" for i in range(5)])
    assert clf.fit(x, y) is clf
    proba = clf.predict_proba(x)
    assert proba.shape == (60, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert list(clf.classes_) == [0, 1] and clf.oof_proba_.shape == (60,)
    assert list(clf.get_feature_names_out()) == [f"f{i}" for i in range(5)]
    assert (clf.predict(x) == y).mean() > 0.9


def _synthetic_scorer(engine: Engine, encoder: Any) -> tuple[Any, np.ndarray]:
    """A transformer scorer whose matcher knows one FL07 direction and one ordinary direction."""
    from screening.transformer.classifier import EmbeddingClassifier
    from screening.transformer.featurize import feature_names
    from screening.transformer.matcher import EmbeddedPassage, SemanticMatcher
    from screening.transformer.scorer import TransformerScorer

    ids = [i.id for i in engine.taxonomy.indicators]
    basis = np.eye(encoder.dim, dtype=np.float32)
    held, ordinary = basis[0], basis[1]
    passages = [EmbeddedPassage((f"held {n}",), held[None], frozenset({"FL07"}), f"p{n}") for n in range(4)]
    passages += [EmbeddedPassage((f"ordinary {n}",), ordinary[None], frozenset(), f"n{n}") for n in range(4)]
    matcher = SemanticMatcher(ids, k=3).fit({"FL07": (["The HR office keeps the passports."], held[None])},
                                            passages)
    width = len(feature_names(ids, encoder.dim))
    rng = np.random.default_rng(0)
    classifier = EmbeddingClassifier().fit(rng.normal(size=(20, width)), np.arange(20) % 2)
    manifest = {"name": "synthetic", "thresholds": {"review": 0.5, "high": 0.8}, "files": {"model.joblib": "unsaved"}}
    bundle = {"matcher": matcher, "classifier": classifier, "indicator_ids": ids}
    return TransformerScorer(engine.taxonomy, encoder, bundle, manifest), held


@pytest.mark.parametrize("frame", ASSERTIONS)
def test_semantic_match_counts_only_in_an_asserted_sentence(frame: str, supplier_engine: Engine,
                                                            tiny_encoder: Any) -> None:
    from screening.transformer.featurize import DocView

    scorer, held = _synthetic_scorer(supplier_engine, tiny_encoder)
    text = "Our staff hold the travel papers."
    view = DocView((Sentence(0, len(text), frame),), (text,), held[None])
    scored = scorer.score_view(text, (), view)
    [e] = scored.evidence
    assert (e.indicator, e.rule, e.source, e.assertion) == ("FL07", "semantic/FL07", "model", frame)
    assert text[e.start : e.end] == e.text == text
    assert e.weight == pytest.approx(1.0, abs=1e-5)
    assert e.cue is not None and e.cue.startswith(("The HR office", "held"))
    assert ("FL07" in {i.id for i in scored.indicators}) == (frame == "asserted")


class _FixedScorer:
    """A fast scorer stand-in: a given score per text, and a record of what it was asked."""

    name = "fixed"
    needs_sentences = True
    review = 0.5
    high = 0.8
    gate = False

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def score(self, text: str, evidence: tuple[Evidence, ...], sentences: Any = ()) -> Scored:
        p = self.scores[text]
        return Scored(p, verdict_for(p, self.review, self.high), ())


def _spy(monkeypatch: pytest.MonkeyPatch, transformer: Any) -> list[int]:
    calls: list[int] = []
    original = transformer.view

    def view(text: str, sentences: Any) -> Any:
        calls.append(len(sentences))
        return original(text, sentences)

    monkeypatch.setattr(transformer, "view", view)
    return calls


def test_cascade_sends_only_documents_in_the_uncertainty_band(tiny_engine: Engine,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from screening.transformer.scorer import CascadeScorer

    transformer = tiny_engine.scorer
    texts = {"Pay is fine.": 0.1, "Passports are kept by the agent.": 0.45, "Workers were beaten.": 0.95}
    cascade = CascadeScorer(tiny_engine.taxonomy, _FixedScorer(texts), transformer, band=(0.3, 0.6))
    calls = _spy(monkeypatch, transformer)
    results = {}
    for text in texts:
        evidence, sentences = tiny_engine.analyse(text, sentences=True)
        results[text] = cascade.score(text, evidence, sentences)
    assert calls == [1]
    assert results["Pay is fine."].score == 0.1 and results["Workers were beaten."].score == 0.95
    mid = results["Passports are kept by the agent."].score
    assert mid != 0.45 and 0.0 <= mid <= 1.0
    assert cascade.name == f"cascade(fixed+{transformer.name})"


def test_cascade_sends_a_long_documents_top_candidate_sentences(tiny_engine: Engine,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from screening.transformer.scorer import CascadeScorer

    filler = " ".join(f"The canteen menu changed on day {n}." for n in range(30))
    text = filler + " The supervisor keeps all passports in his office."
    evidence, sentences = tiny_engine.analyse(text, sentences=True)
    assert len(sentences) > 30
    transformer = tiny_engine.scorer
    cascade = CascadeScorer(tiny_engine.taxonomy, _FixedScorer({text: 0.45}), transformer, band=(0.3, 0.6),
                            long_sentences=10, top_sentences=4)
    chosen = cascade.candidates(text, evidence, sentences)
    assert len(chosen) == 4 and chosen == sorted(chosen, key=lambda s: s.start)
    assert any("passports" in text[s.start : s.end] for s in chosen)
    calls = _spy(monkeypatch, transformer)
    cascade.score(text, evidence, sentences)
    assert calls == [4]


def test_cascade_settings_belong_to_the_cascade(supplier_engine: Engine, tiny_dir: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ScreeningError) as info:
        build_scorer(supplier_engine, "transformer", tiny_dir, model_dir=tiny_model_dir, band=(0.2, 0.6))
    assert info.value.code == "usage"
    from screening.transformer.scorer import CascadeScorer

    cascade = build_scorer(supplier_engine, "cascade", tiny_dir, model_dir=tiny_model_dir, band=(0.2, 0.6),
                           precision="fp32")
    assert isinstance(cascade, CascadeScorer) and cascade.band == (0.2, 0.6)


def test_cli_scan_takes_backend_and_encoder(tiny_dir: Path, tiny_model_dir: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from screening.cli import main

    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models / "supplier" / "transformer")
    monkeypatch.setenv("SCREENING_MODEL_DIR", str(models))
    doc = tmp_path / "finding.txt"
    doc.write_text("The supervisor keeps all passports in his office.", encoding="utf-8")
    code = main(["scan", str(doc), "--profile", "supplier", "--backend", "transformer", "--encoder", str(tiny_dir),
                 "-q", "-j", "2"])
    record = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    assert record["engine"]["model"].startswith("screening-supplier-transformer@")
    assert_contract(record, doc.read_text(encoding="utf-8"))


def test_cli_without_extra_exits_with_the_install_hint(no_torch: None, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from screening.cli import EXIT_USAGE, main

    doc = tmp_path / "ad.txt"
    doc.write_text("Send your passport to our office.", encoding="utf-8")
    assert main(["scan", str(doc), "--profile", "recruitment", "--backend", "cascade", "-q"]) == EXIT_USAGE
    assert "pip install 'screening[transformers]'" in capsys.readouterr().err


# ---- the indicator tagger (tiny BERT fine-tuned for one epoch) ----------------------------------


@pytest.fixture(scope="session")
def tiny_tagged_dir(tiny_encoder: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fit_tiny(tiny_encoder, tmp_path_factory, every=8, tagger_epochs=1)


def test_tagger_is_saved_as_a_listed_safetensors_file_and_reloads_to_the_same_probabilities(
        tiny_tagged_dir: Path, tiny_encoder: Any) -> None:
    from screening.models.artefacts import sha256_file
    from screening.transformer.tagger import TAGGER_FILE
    from screening.transformer.train import load_transformer

    manifest = json.loads((tiny_tagged_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"][TAGGER_FILE] == sha256_file(tiny_tagged_dir / TAGGER_FILE)
    assert (tiny_tagged_dir / TAGGER_FILE).read_bytes()[8:9] == b"{"  # safetensors header, not a pickle
    spec = manifest["tagger"]
    assert spec["indicator_ids"] == [f"FL{i:02d}" for i in range(1, 12)]
    assert set(spec["thresholds"]) == set(spec["indicator_ids"]) and spec["params"]["epochs"] == 1
    assert 0.0 <= manifest["metrics"]["tagger_dev"]["macro_f1"] <= 1.0
    assert spec["rule_support"] == 0.5 and spec["whole_weight"] == 0.5 and spec["matcher_margin"] == 0.4
    assert "## Indicator tagger" in (tiny_tagged_dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    texts = ["Workers said the agent keeps their passports.", "Wages were paid three months late."]
    a = load_transformer(tiny_tagged_dir, tiny_encoder)[0]["tagger"].predict(texts)
    b = load_transformer(tiny_tagged_dir, tiny_encoder)[0]["tagger"].predict(texts[::-1])[::-1]
    assert a.shape == (2, 11) and ((a > 0) & (a < 1)).all()
    assert np.allclose(a, b, atol=1e-5)


def test_tagger_scores_blend_word_model_and_whole_text_and_loading_requires_the_word_model(
        tiny_tagged_dir: Path, tiny_encoder: Any, supplier_engine: Engine) -> None:
    from screening.models.linear import linear_proba
    from screening.transformer.tagger import TAGGER_FILE, load_tagger
    from screening.transformer.train import load_transformer

    manifest = json.loads((tiny_tagged_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tagger"]["lexical_weight"] == 0.5
    assert set(manifest["files"]) == {"model.joblib", TAGGER_FILE}  # the word model lies in the verified joblib
    tagger = load_transformer(tiny_tagged_dir, tiny_encoder)[0]["tagger"]
    assert tagger.lexical is not None and tagger.lexical_weight == 0.5
    text = "Workers said the supervisor keeps their passports. Overtime reached 80 hours a week."
    _, sentences = supplier_engine.analyse(text, sentences=True)
    best, span_probs, spans = tagger.document_proba([text], [sentences])
    span_texts = [text[a:b] for a, b in spans[0]]
    windows = [*span_texts, text]  # the spans, then the whole text as one more window
    net = tagger.predict(windows)
    words = linear_proba(*tagger.lexical, tagger.indicator_ids, windows)
    assert words.shape == net.shape and not np.allclose(words, net, atol=1e-2)
    mean = 0.5 * net + 0.5 * words
    assert manifest["tagger"]["whole_weight"] == tagger.whole_weight == 0.5
    # Half the whole text's window, half the best window (the whole text included).
    assert np.allclose(best[0], 0.5 * mean[-1] + 0.5 * mean.max(axis=0), atol=1e-5)
    assert np.allclose(span_probs[0], mean[:-1], atol=1e-5)
    tagger.whole_weight = 0.0  # the best window alone, as artefacts without the weight read documents
    assert np.allclose(tagger.document_proba([text], [sentences])[0][0], mean.max(axis=0), atol=1e-5)
    tagger.lexical = None  # the tagger alone
    assert np.allclose(tagger.document_proba([text], [sentences])[0][0], net.max(axis=0), atol=1e-5)
    data = (tiny_tagged_dir / TAGGER_FILE).read_bytes()
    with pytest.raises(ModelError) as info:
        load_tagger(data, manifest["tagger"], str(tiny_encoder.info.path), expected_sha256=manifest["files"][TAGGER_FILE])
    assert info.value.code == "model_invalid" and "word model" in str(info.value)


def test_tagger_can_train_only_its_top_layers(tiny_encoder: Any) -> None:
    import transformers

    from screening.transformer.tagger import fit_tagger

    texts = ["Workers said the supervisor keeps their passports.", "Overtime reached 80 hours a week.",
             "The fire exits were clear.", "Wages were paid three months late."]
    labels = [["FL07"], ["FL11"], [], ["FL08"]]
    folder = str(tiny_encoder.info.path)
    before = transformers.AutoModel.from_pretrained(folder, local_files_only=True).state_dict()
    tagger = fit_tagger(folder, texts, labels, ["FL07", "FL08", "FL11"], epochs=1, batch_size=2, train_layers=1,
                        threads=1)
    after = tagger.net.encoder.state_dict()
    changed = {k for k in before if not np.allclose(before[k].numpy(), after[k].numpy())}
    assert changed and all(k.startswith("encoder.layer.1.") for k in changed), sorted(changed)[:5]
    assert tagger.params["train_layers"] == 1


def test_a_tampered_tagger_is_refused_before_loading(tiny_tagged_dir: Path, tiny_encoder: Any, tmp_path: Path) -> None:
    from safetensors.torch import load, save

    from screening.transformer.tagger import TAGGER_FILE
    from screening.transformer.train import load_transformer

    copy = Path(shutil.copytree(tiny_tagged_dir, tmp_path / "model"))
    weights = load((copy / TAGGER_FILE).read_bytes())
    weights["head.bias"] = weights["head.bias"] + 1  # a plausible, well-formed change
    (copy / TAGGER_FILE).write_bytes(save(weights))
    with pytest.raises(ModelError) as info:
        load_transformer(copy, tiny_encoder)
    assert info.value.code == "model_tampered"
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"][TAGGER_FILE]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError) as info:
        load_transformer(copy, tiny_encoder)
    assert info.value.code == "model_invalid"


def test_tagger_evidence_lies_in_asserted_sentences_only(tiny_tagged_dir: Path, tiny_encoder: Any,
                                                         supplier_engine: Engine) -> None:
    from screening.transformer.train import load_transformer

    tagger = load_transformer(tiny_tagged_dir, tiny_encoder)[0]["tagger"]
    tagger.thresholds = dict.fromkeys(tagger.indicator_ids, 0.0)  # every indicator fires wherever it may
    tagger.span_floor = 0.0
    mixed = ("The supplier prohibits the retention of passports. Workers said the supervisor keeps their "
             "passports. There was no evidence of debt bondage.")
    _, sentences = supplier_engine.analyse(mixed, sentences=True)
    asserted = [(s.start, s.end) for s in sentences if s.frame == "asserted"]
    assert len(asserted) == 1 and len(sentences) == 3
    evidence = tagger.tag(mixed, sentences)
    assert {e.indicator for e in evidence} == set(tagger.indicator_ids)
    assert {(e.start, e.end) for e in evidence} == set(asserted)
    assert all(e.rule == f"tagger/{e.indicator}" and e.source == "model" and e.assertion == "asserted"
               for e in evidence)
    assert_offsets(mixed, evidence)
    only_policy = "The supplier prohibits the retention of passports. There was no evidence of debt bondage."
    assert tagger.tag(only_policy, supplier_engine.analyse(only_policy, sentences=True)[1]) == []


def test_tagger_needs_its_window_and_its_span_to_reach_the_threshold(tiny_tagged_dir: Path, tiny_encoder: Any,
                                                                     supplier_engine: Engine) -> None:
    from screening.transformer.train import load_transformer

    tagger = load_transformer(tiny_tagged_dir, tiny_encoder)[0]["tagger"]
    tagger.whole_weight = 0.0  # the document's score is its best window's (the blend is tested above)
    text = "Workers said the supervisor keeps their passports. Overtime reached 80 hours a week."
    _, sentences = supplier_engine.analyse(text, sentences=True)
    best, span_probs, spans = tagger.document_proba([text], [sentences])
    assert len(spans[0]) == 3  # two sentences and their pair; the whole text is a window too
    assert (best[0] >= span_probs[0].max(axis=0)).all()
    tagger.span_floor = 1.0
    tagger.thresholds = {i: float(best[0][j]) for j, i in enumerate(tagger.indicator_ids)}
    fired = {e.indicator for e in tagger.evidence(text, best[0], span_probs[0], spans[0])}
    expected = {i for j, i in enumerate(tagger.indicator_ids) if span_probs[0][:, j].max() >= best[0][j]}
    assert fired == expected
    tagger.thresholds = {i: float(best[0][j]) + 1e-3 for j, i in enumerate(tagger.indicator_ids)}
    assert tagger.evidence(text, best[0], span_probs[0], spans[0]) == []


def test_tagger_reads_the_whole_document_only_when_it_fits_one_window(tiny_tagged_dir: Path, tiny_encoder: Any,
                                                                       supplier_engine: Engine) -> None:
    from screening.transformer.train import load_transformer

    tagger = load_transformer(tiny_tagged_dir, tiny_encoder)[0]["tagger"]
    short = "Workers said the supervisor keeps their passports. Overtime reached 80 hours a week."
    long = " ".join([short] * 20)  # 280 words
    for text, whole in ((short, True), (long, False)):
        _, sentences = supplier_engine.analyse(text, sentences=True)
        spans, got = tagger.windows(text, sentences)
        assert got is whole and len(spans) == 2 * len(sentences) - 1
    heading = "Living Wage\n\nWorkers said the supervisor keeps their passports."
    _, sentences = supplier_engine.analyse(heading, sentences=True)
    spans, _ = tagger.windows(heading, sentences)
    assert len(sentences) == 2 and "Living Wage" not in [heading[a:b].strip() for a, b in spans]


def test_transformer_backend_with_a_tagger_screens_with_its_evidence(tiny_tagged_dir: Path, tiny_dir: Path) -> None:
    engine = attach_backend(Engine("supplier"), "transformer", tiny_dir, model_dir=tiny_tagged_dir, precision="fp32")
    engine.scorer.tagger.thresholds = dict.fromkeys(engine.scorer.tagger.indicator_ids, 0.0)
    text = "Workers said the supervisor keeps their passports. We prohibit forced overtime."
    result = engine.screen(text, "doc-1")
    assert_contract(result.to_dict(), text)
    tagged = [e for e in result.evidence if e.rule.startswith("tagger/")]
    assert {e.text for e in tagged} == {"Workers said the supervisor keeps their passports."}
    assert {e.indicator for e in tagged} <= {i.id for i in result.indicators}



def test_with_a_tagger_the_matcher_raises_indicators_alone_only_above_its_margin(tiny_tagged_dir: Path,
                                                                                tiny_dir: Path) -> None:
    engine = attach_backend(Engine("supplier"), "transformer", tiny_dir, model_dir=tiny_tagged_dir, precision="fp32")
    scorer = engine.scorer
    scorer.matcher.thresholds_ = dict.fromkeys(scorer.matcher.thresholds_, -1.0)  # the matcher matches everything
    text = "Workers said the supervisor keeps their passports. Overtime reached 80 hours a week in March."
    tagger = scorer.tagger
    scorer.tagger = None
    alone = engine.screen(text)
    rule_raised = {e.indicator for e in alone.evidence if e.source == "rule" and e.assertion == "asserted"}
    matched = {e.indicator for e in alone.evidence if e.rule.startswith("semantic/") and e.assertion == "asserted"}
    assert matched - rule_raised  # without a tagger the matcher raises indicators the rules did not
    scorer.tagger = tagger
    tagger.thresholds = dict.fromkeys(tagger.indicator_ids, 2.0)  # the tagger raises nothing
    tagger.rule_support = 0.0  # and every rule hit counts (the check is tested below)
    tagger.matcher_margin = 10.0  # no match is that far above its threshold: the matcher only supports
    result = engine.screen(text)
    assert {e.indicator for e in result.evidence if e.rule.startswith("semantic/") and e.assertion == "asserted"} \
        == matched & rule_raised
    assert {i.id for i in result.indicators} == rule_raised
    tagger.matcher_margin = 0.5  # vote scores are not negative: every match clears -1.0 + 0.5 and raises alone
    result = engine.screen(text)
    assert {i.id for i in result.indicators} == {i.id for i in alone.indicators}


def test_rule_hits_the_tagger_does_not_support_are_shown_unsupported_and_not_counted(tiny_tagged_dir: Path,
                                                                                     tiny_dir: Path) -> None:
    engine = attach_backend(Engine("supplier"), "transformer", tiny_dir, model_dir=tiny_tagged_dir, precision="fp32")
    scorer, tagger = engine.scorer, engine.scorer.tagger
    tagger.matcher_margin = 10.0  # the matcher raises nothing alone
    text = "Workers said the supervisor keeps their passports. The canteen menu changes every week."
    tagger.rule_support = 0.0
    tagger.thresholds = dict.fromkeys(tagger.indicator_ids, 2.0)  # the tagger raises nothing itself
    counted = engine.screen(text)
    hits = [e for e in counted.evidence if e.source == "rule" and e.assertion == "asserted"]
    assert {e.indicator for e in hits} == {"FL07"} and {i.id for i in counted.indicators} == {"FL07"}

    _, sentences = engine.analyse(text, sentences=True)
    _, best = tagger.read(text, sentences)
    score = float(best[tagger.indicator_ids.index("FL07")])
    tagger.rule_support = 0.5
    tagger.thresholds["FL07"] = score / 0.5  # the hit's floor is exactly the document's score: it counts
    assert {i.id for i in engine.screen(text).indicators} == {"FL07"}
    tagger.thresholds["FL07"] = (score + 1e-3) / 0.5  # just above: shown, not counted
    checked = engine.screen(text)
    record = checked.to_dict()
    assert_contract(record, text)
    unsupported = [e for e in checked.evidence if e.assertion == "unsupported"]
    assert [(e.indicator, e.rule, e.start, e.end) for e in unsupported] == [(e.indicator, e.rule, e.start, e.end)
                                                                            for e in hits]
    assert all(e.source == "rule" and e.cue and e.cue.startswith("model score") for e in unsupported)
    assert checked.indicators == () and checked.verdict == "low" and checked.score < scorer.review
    assert "unsupported" in {e["assertion"] for e in record["evidence"]}

    short = "Agent keeps passports."  # no window of five words: the tagger cannot judge, the hit stands
    _, sentences = engine.analyse(short, sentences=True)
    assert tagger.read(short, sentences)[1] is None
    assert {i.id for i in engine.screen(short).indicators} == {"FL07"}


def test_thresholds_are_chosen_with_the_rule_hits_the_tagger_supports() -> None:
    from screening.transformer.tagger import choose_tagger_thresholds

    best = np.array([[0.9], [0.9], [0.2], [0.05]])
    gold, rules = [["A"], ["A"], ["A"], []], [[], [], ["A"], ["A"]]
    # Without rules, 0.1 already separates; rules always counted make document 4 a false alarm at every
    # threshold; checked at half the threshold, document 3's hit counts and 4's does not from 0.15 to 0.4.
    assert choose_tagger_thresholds(best, gold, ["A"]) == {"A": 0.1}
    assert choose_tagger_thresholds(best, gold, ["A"], rules=rules, read=[True] * 4, rule_support=0.5) == {"A": 0.15}
    # A document the tagger could not read keeps its hit whatever the threshold.
    assert choose_tagger_thresholds(best, gold, ["A"], rules=rules, read=[True, True, True, False],
                                    rule_support=0.5) == {"A": 0.1}


# ---- the shipped MiniLM, end to end (slow) ----------------------------------------------------


@pytest.fixture(scope="session")
def minilm() -> Any:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    engines: dict[str, Engine] = {}

    def get(profile: str) -> Engine:
        if profile not in engines:
            # Rules plus the transformer scorer, fitted from the corpus once per session.
            engines[profile] = attach_backend(Engine(profile), "transformer")
        return engines[profile]

    return get


@pytest.mark.slow
def test_shipped_encoder_files_match_the_pinned_hashes() -> None:
    pytest.importorskip("transformers")
    from screening.transformer.encoder import SHIPPED_FILES, SHIPPED_NAME, shipped_encoder_path, verify_encoder

    name, files = verify_encoder(shipped_encoder_path())
    assert name == SHIPPED_NAME and files == dict(SHIPPED_FILES)


@pytest.mark.slow
def test_bf16_embeddings_agree_with_fp32() -> None:
    torch = pytest.importorskip("torch")
    from screening.transformer.encoder import bf16_supported, load_encoder

    if not bf16_supported(torch):
        pytest.skip("this CPU has no native bf16")
    texts = [r["text"] for r in paraphrases("supplier")[:16]]
    bf16 = load_encoder(precision="bf16").encode(texts)
    fp32 = load_encoder(precision="fp32").encode(texts)
    assert (bf16 * fp32).sum(axis=1).min() > 0.999


@pytest.mark.slow
def test_minilm_flags_a_paraphrase_with_its_nearest_example_and_respects_negation(minilm: Any) -> None:
    engine = minilm("supplier")
    text = ("The company keeps everyone's travel documents in the office safe. "
            "No worker reported that the company keeps travel documents in a safe.")
    result = engine.screen(text)
    assert_contract(result.to_dict(), text)
    semantic = [e for e in result.evidence if e.rule == "semantic/FL07"]
    asserted = [e for e in semantic if e.assertion == "asserted"]
    assert [e.text for e in asserted] == [text.split(". ")[0] + "."]
    assert asserted[0].cue in engine.scorer.matcher.prototype_texts_
    assert all(e.assertion == "negated" for e in semantic if e not in asserted)
    assert "FL07" in {i.id for i in result.indicators}
    only_negated = engine.screen("No worker reported that the company keeps travel documents in a safe.")
    assert "FL07" not in {i.id for i in only_negated.indicators}


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_semantic_matcher_finds_paraphrases_the_rules_miss(profile: str, minilm: Any) -> None:
    engine = minilm(profile)
    rows = paraphrases(profile)
    tagger = getattr(engine.scorer, "tagger", None)

    def recall(*kinds: str) -> float:
        """Share of paraphrases with asserted evidence of their indicator from one of ``kinds``."""
        hits = 0
        for r in rows:
            found = {e.rule.partition("/")[0] if e.source == "model" else "rules"
                     for e in engine.screen(r["text"]).evidence
                     if e.indicator == r["indicator"] and e.assertion == "asserted"}
            hits += bool(found & set(kinds))
        return hits / len(rows)

    engine.scorer.tagger = None  # the matcher on its own
    try:
        semantic_recall, rule_recall = recall("semantic"), recall("rules")
    finally:
        engine.scorer.tagger = tagger
    figures = f"{profile}: semantic recall {semantic_recall:.3f}, rules {rule_recall:.3f} on {len(rows)} paraphrases"
    # Measured 0.82 and 0.80 (97 of 121) for two builds of the same model on two CPU families, whose last float
    # bits moved two matcher thresholds by 0.01; 0.785 (95) after the fifth supplier corpus round raised some
    # thresholds; 0.80 (97) after the sixth. The floor leaves room for a CPU family's last bits.
    assert semantic_recall >= 0.75, figures
    assert semantic_recall > rule_recall + 0.2, figures
    if tagger is not None:
        # As shipped, with the tagger, the matcher raises an indicator alone only well above its threshold
        # (it costs corpus precision): measured 0.82 for the matcher and tagger together on the supplier set
        # (0.76 before the fifth corpus round); 0.74 after the margin rose from 0.2 to 0.4 (on supplier dev
        # the matcher's lone raises were right 7 times in 71) and the sixth corpus round.
        model_recall = recall("semantic", "tagger")
        print(figures, f"matcher + tagger {model_recall:.3f}")
        assert model_recall >= 0.70 and model_recall > rule_recall + 0.2, (figures, model_recall)


@pytest.mark.slow
def test_cli_retrains_the_shipped_supplier_transformer_model_with_its_figures(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    shipped = ROOT / "models" / "supplier" / "transformer"
    out = tmp_path / "transformer"
    # Without --tagger-epochs (minutes, not half an hour): the shipped model.joblib also holds the tagger's word
    # model, and float results differ in their last bits between CPU families (the shipped artefact was built
    # on one; seen in CI too), so the matcher and classifier's figures are compared, not the bytes.
    run = subprocess.run([str(Path(sys.executable).parent / "screening"), "train", "--backend", "transformer",
                          "--profile", "supplier", "--data", "corpora/supplier", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "model written to" in run.stdout
    again = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    before = json.loads((shipped / "manifest.json").read_text(encoding="utf-8"))
    assert again["data"] == before["data"]
    assert again["encoder"] == before["encoder"]
    for key in ("review", "high"):
        assert again["thresholds"][key] == pytest.approx(before["thresholds"][key], abs=0.051)
    for key in ("f1", "roc_auc"):
        assert again["metrics"]["dev"][key] == pytest.approx(before["metrics"]["dev"][key], abs=0.02)


@pytest.mark.parametrize(("args", "says"), [(["--tagger-epochs", "2"], "--backend transformer"),
                                            (["--backend", "transformer", "--tagger-epochs", "-1"], "0 or more")])
def test_cli_train_refuses_tagger_epochs_it_cannot_use(args: list[str], says: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from screening.cli import EXIT_USAGE, main

    code = main(["train", "--profile", "supplier", "--data", "corpora/supplier", "--out", str(tmp_path / "m"), *args])
    assert code == EXIT_USAGE
    assert says in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
