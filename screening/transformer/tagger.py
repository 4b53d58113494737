"""The indicator tagger: the sentence encoder fine-tuned as a multi-label classifier over a profile's indicators.

Why: the fast backend's per-indicator TF-IDF models and the frozen-embedding matcher flatten out on
the supplier corpus (dev macro-F1 0.78); training the encoder itself on the corpus's passages reaches
further (``bench/finetune_probe.py``). The tagger is part of the transformer backend's artefact when
it was trained with ``--tagger-epochs N``.

Model: the base encoder (mean pooling of its last layer, as it embeds) and one linear layer giving a
logit per indicator; trained with binary cross-entropy (positives weighted by the square root of
their rarity) on the train split's passages; thresholds per indicator chosen on the dev split.

Reading a document: the tagger scores windows of it: every asserted sentence, every pair of adjacent
asserted sentences (of five words or more, as for the fast path's indicator models: a heading such as
"Living Wage" states no finding), and the whole document when it has more than one sentence and fits in
``max_length`` tokens (a finding can need its context). The document's score for an indicator is its
best window's or, when the whole document is a window, the mean of the whole document's and the best
window's (``whole_weight`` 0.5): the tagger learnt from whole passages, and the best of many windows
alone over-reads single sentences (supplier dev, thresholds cross-fitted over two halves by group:
0.823 -> 0.831 macro-F1 for rules + tagger and word model). An indicator is raised when the document's
score reaches its threshold and an asserted sentence or pair of it scores at least ``span_floor`` of it;
the evidence is the asserted span the tagger rates highest (rule ``tagger/<ID>``, ``source: "model"``,
weight = the document's score). Negated, policy and other non-asserted sentences are never
evidence.

Checking the rules: the rules' patterns are precise on the wordings they were written for, but some
also match sentences that do not report their indicator (on the supplier train and dev splits, the
"documents held so workers cannot go out" pattern was right 7 times in 19). An artefact trained with
``rule_support`` > 0 counts an asserted rule hit toward its indicator only where the tagger's document
score reaches ``rule_support`` x the indicator's threshold; below that, the hit stays in the output,
marked ``unsupported`` (not counted, shown for the reviewer). A document the tagger has no window of
(every sentence under five words) keeps its rule hits. Supplier dev, thresholds chosen with the rule
hits and cross-fitted over two halves by group: rules counted always 0.838 macro-F1, rules counted
where the score reaches 0.3/0.5/0.7 of the threshold 0.853/0.858/0.859, rules never counted 0.851;
0.5 keeps most of the gain while vetoing only hits the tagger rates clearly low.

Beside a word model: an artefact trained with the tagger also holds a TF-IDF (words and character
n-grams) logistic regression per indicator, fitted on the same passages (:mod:`screening.models.linear`, as
the fast backend's indicator models). A window's score for an indicator is then the mean of the tagger's
and the word model's on that window. The two err differently (the encoder generalises over wordings, the
word model holds exact terms): on the supplier dev split, thresholds cross-fitted over two halves by
group, rules + tagger 0.803 macro-F1, rules + the mean 0.821 (0.813 when the word model read only the
sentences and pairs, not the whole document).

Beside the semantic matcher: with a tagger, the matcher's matches support the indicators the rules or
the tagger raised, and raise one alone only when the match's vote score is ``matcher_margin`` (0.4)
above the matcher's threshold. Chosen on the supplier dev split and the paraphrase set
(``tests/fixtures/paraphrases``), which pull apart. First measured with the tagger of the third
corpus round: rules + tagger + matches raising indicators freely: dev macro-F1 0.714, paraphrases
with their indicator raised 0.90; matches never raising one alone: 0.822 and 0.68; a margin of 0.2:
0.806 and 0.79. With the fifth round's tagger checking the rules, matches raising alone at a margin
of 0.2 were right 7 times in 71 on dev; margins 0.2/0.3/0.4/0.6: dev 0.850/0.869/0.875/0.876,
paraphrases 0.81/0.78/0.77/0.74.

Storage: the weights, in fp16 ``safetensors`` (never pickle), lie beside the artefact's
``model.joblib`` and are listed with their sha256 in its manifest; they are checked like every
listed file, and their bytes are checked again before they are read. Architecture and tokenizer come
from the base encoder's folder, whose fingerprint the artefact pins. torch and transformers are
imported only inside the functions that need them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from ..errors import ModelError
from ..models.indicators import long_enough
from ..models.linear import fit_linear, linear_proba
from ..results import Evidence
from ..sentences import Sentence, candidate_spans
from .extra import require_transformers

TAGGER_FILE = "tagger.safetensors"
TAGGER_RULE = "tagger/"
THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(0.1, 0.91, 0.05))
LEXICAL_C = 10.0  # as the fast backend's indicator models
LEXICAL_WEIGHT = 0.5
LEXICAL_KEY = "tagger_lexical"  # where the word model lies in the artefact's bundle
WHOLE_WEIGHT = 0.5
RULE_SUPPORT = 0.5
MATCHER_MARGIN = 0.4


def _network(torch: Any, transformers: Any, folder: str, n_labels: int, pretrained: bool) -> Any:
    """The tagger network on the encoder in ``folder``: from its weights (training) or its config (loading)."""

    class TaggerNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if pretrained:
                self.encoder = transformers.AutoModel.from_pretrained(folder, local_files_only=True,
                                                                      use_safetensors=True, trust_remote_code=False)
            else:
                config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
                self.encoder = transformers.AutoModel.from_config(config)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, n_labels)

        def forward(self, ids: Any, mask: Any) -> Any:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            return self.head((hidden * m).sum(1) / m.sum(1).clamp(min=1.0))

    return TaggerNet()


@dataclass
class IndicatorTagger:
    """A fine-tuned encoder that gives each indicator a probability for a text window."""

    net: Any
    tokenizer: Any
    indicator_ids: list[str]
    thresholds: dict[str, float]
    max_length: int = 128
    span_floor: float = 0.25
    matcher_margin: float = 0.2
    batch_size: int = 16
    threads: int | None = 1
    bf16: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    # The word model (vectorizers, one logistic regression per indicator) and its share of each score.
    lexical: tuple[list[Any], dict[str, Any]] | None = None
    lexical_weight: float = 0.0
    # Share of a document's score given to its whole-document window (when it has one) against its best window.
    whole_weight: float = 0.0
    # A rule hit counts where the document's score reaches this share of the indicator's threshold (0: always).
    rule_support: float = 0.0

    def __post_init__(self) -> None:
        self._threadpools = ThreadpoolController()

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, shape ``(len(texts), len(indicator_ids))``, in input order."""
        torch, _ = require_transformers()
        out = np.zeros((len(texts), len(self.indicator_ids)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        self.net.eval()
        with self._threadpools.limit(limits=self.threads):
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
                with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                    logits = self.net(enc["input_ids"], enc["attention_mask"]).float()
                out[idx] = torch.sigmoid(logits).numpy()
        return out

    def fits_whole(self, text: str) -> bool:
        """Whether ``text`` fits in one window of ``max_length`` tokens."""
        if len(text.split()) > self.max_length:  # every word is a token at least: a long document is not tokenised
            return False
        return len(self.tokenizer(text, truncation=False)["input_ids"]) <= self.max_length

    def windows(self, text: str, sentences: Sequence[Sentence]) -> tuple[list[tuple[int, int]], bool]:
        """The asserted spans of ``text`` and whether the whole text is a further window."""
        spans = [(a, b) for a, b in candidate_spans(sentences) if long_enough(text[a:b])]
        whole = len(sentences) > 1 and bool(spans) and self.fits_whole(text)
        return spans, whole

    def document_proba(self, texts: Sequence[str], sentence_lists: Sequence[Sequence[Sentence]]
                       ) -> tuple[np.ndarray, list[np.ndarray], list[list[tuple[int, int]]]]:
        """Per document: best window probability per indicator, span probabilities, spans (one pass).

        With a word model, a window's probability is the mean of the tagger's and the word model's on it.
        """
        flat: list[str] = []
        plan: list[tuple[list[tuple[int, int]], int, int, bool]] = []
        for text, sents in zip(texts, sentence_lists, strict=True):
            spans, whole = self.windows(text, sents)
            first = len(flat)
            flat.extend(text[a:b] for a, b in spans)
            if whole:
                flat.append(text)
            plan.append((spans, first, len(flat), whole))
        probs = self.predict(flat) if flat else np.zeros((0, len(self.indicator_ids)), dtype=np.float32)
        if self.lexical is not None and self.lexical_weight > 0 and flat:
            vecs, models = self.lexical
            w = np.float32(self.lexical_weight)
            probs = (1 - w) * probs + w * linear_proba(vecs, models, self.indicator_ids, flat).astype(np.float32)
        best = np.zeros((len(plan), len(self.indicator_ids)), dtype=np.float32)
        span_probs, span_lists = [], []
        ww = np.float32(self.whole_weight)
        for n, (spans, a, b, whole) in enumerate(plan):
            if b > a:
                best[n] = probs[a:b].max(axis=0)
                if whole and ww > 0:  # the whole document (the last window) read as one, as in training
                    best[n] = (1 - ww) * best[n] + ww * probs[b - 1]
            span_probs.append(probs[a : a + len(spans)])
            span_lists.append(spans)
        return best, span_probs, span_lists

    def evidence(self, text: str, best: np.ndarray, span_probs: np.ndarray, spans: Sequence[tuple[int, int]]
                 ) -> list[Evidence]:
        """Evidence of every indicator the document reaches: its best asserted span."""
        out = []
        for j, iid in enumerate(self.indicator_ids):
            threshold = self.thresholds[iid]
            if best[j] < threshold or not len(spans):
                continue
            n = int(np.argmax(span_probs[:, j]))
            if span_probs[n, j] < self.span_floor * threshold:
                continue
            a, b = spans[n]
            out.append(Evidence(iid, TAGGER_RULE + iid, a, b, text[a:b], "asserted", "model", float(best[j])))
        return out

    def tag(self, text: str, sentences: Sequence[Sentence]) -> list[Evidence]:
        """The tagger's evidence for one document."""
        return self.read(text, sentences)[0]

    def read(self, text: str, sentences: Sequence[Sentence]) -> tuple[list[Evidence], np.ndarray | None]:
        """The tagger's evidence for one document and its score per indicator (``None``: no window to read)."""
        best, span_probs, spans = self.document_proba([text], [sentences])
        read = bool(len(spans[0]))
        return self.evidence(text, best[0], span_probs[0], spans[0]), best[0] if read else None

    def support_floor(self, indicator: str) -> float:
        """The document score an asserted rule hit on ``indicator`` needs to count (0: every hit counts)."""
        return self.rule_support * self.thresholds[indicator]

    def supports(self, indicator: str, best: np.ndarray | None) -> bool:
        """Whether an asserted rule hit on ``indicator`` counts, given the document's scores (``None``: unread)."""
        return best is None or bool(best[self.indicator_ids.index(indicator)] >= self.support_floor(indicator))

    def spec(self) -> dict[str, Any]:
        """What the manifest records beside the weights' hash."""
        return {"file": TAGGER_FILE, "indicator_ids": list(self.indicator_ids),
                "thresholds": {k: float(v) for k, v in self.thresholds.items()}, "max_length": self.max_length,
                "span_floor": self.span_floor, "matcher_margin": self.matcher_margin, "params": dict(self.params),
                "lexical_weight": self.lexical_weight if self.lexical is not None else 0.0,
                "whole_weight": self.whole_weight, "rule_support": self.rule_support}

    def to_bytes(self) -> bytes:
        """The weights as fp16 ``safetensors`` bytes."""
        from safetensors.torch import save

        torch, _ = require_transformers()
        return bytes(save({k: v.detach().to(torch.float16).contiguous() for k, v in self.net.state_dict().items()}))


def load_tagger(data: bytes, spec: dict[str, Any], encoder_folder: str, *, expected_sha256: str,
                threads: int | None = 1, bf16: bool = False,
                lexical: tuple[list[Any], dict[str, Any]] | None = None) -> IndicatorTagger:
    """Build the tagger from weight bytes already read, after checking them against ``expected_sha256``.

    ``lexical``: the word model from the artefact's verified ``model.joblib``, required when the spec gives
    it a weight.
    """
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ModelError(f"{spec.get('file', TAGGER_FILE)}: changed after it was verified; refusing to load it",
                         code="model_tampered")
    weight = float(spec.get("lexical_weight", 0.0))
    if weight > 0 and lexical is None:
        raise ModelError(f"{spec.get('file', TAGGER_FILE)}: the tagger blends a word model that the artefact lacks",
                         code="model_invalid")
    torch, transformers = require_transformers()
    from safetensors.torch import load

    ids = list(spec["indicator_ids"])
    net = _network(torch, transformers, encoder_folder, len(ids), pretrained=False)
    try:
        state = {k: v.to(torch.float32) for k, v in load(data).items()}
        _load_state(net, state)
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"{spec.get('file', TAGGER_FILE)}: weights do not fit the encoder's architecture: {exc}",
                         code="model_incompatible") from None
    net.eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(encoder_folder, local_files_only=True)
    return IndicatorTagger(net, tokenizer, ids, {k: float(v) for k, v in spec["thresholds"].items()},
                           max_length=int(spec["max_length"]), span_floor=float(spec.get("span_floor", 0.25)),
                           matcher_margin=float(spec.get("matcher_margin", 0.2)),
                           threads=threads, bf16=bf16, params=dict(spec.get("params", {})),
                           lexical=lexical if weight > 0 else None, lexical_weight=weight,
                           whole_weight=float(spec.get("whole_weight", 0.0)),
                           rule_support=float(spec.get("rule_support", 0.0)))


def _load_state(net: Any, state: dict[str, Any]) -> None:
    """Load every parameter; buffers the encoder rebuilds itself (position ids) may be absent."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"missing {missing[:5]}, unexpected {list(unexpected)[:5]}")


def fit_tagger(encoder_folder: str, texts: Sequence[str], labels: Sequence[Sequence[str]],
               indicator_ids: Sequence[str], *, epochs: int = 6, lr: float = 1e-4, batch_size: int = 16,
               max_length: int = 128, seed: int = 0, threads: int | None = None, train_layers: int = 0,
               progress: Callable[[str], None] = lambda _: None) -> IndicatorTagger:
    """Fine-tune the encoder in ``encoder_folder`` on labelled passages (AdamW, linear warm-up and decay).

    ``threads``: torch threads while training (``None``: one per core). ``train_layers``: fine-tune only
    the top N encoder layers and the head (0: the whole encoder; ``bench/finetune_probe.py`` measures
    both). Thresholds start at 0.5; choose them on held-out data with :func:`choose_tagger_thresholds`.
    """
    torch, transformers = require_transformers()
    ids = list(indicator_ids)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(encoder_folder, local_files_only=True)
    net = _network(torch, transformers, encoder_folder, len(ids), pretrained=True)
    if train_layers:
        layers = net.encoder.encoder.layer
        for p in net.encoder.parameters():
            p.requires_grad = False
        for layer in layers[len(layers) - train_layers :]:
            for p in layer.parameters():
                p.requires_grad = True
    y = torch.tensor([[float(i in set(lab)) for i in ids] for lab in labels])
    pos_weight = ((len(texts) - y.sum(0)) / y.sum(0).clamp(min=1)).sqrt()
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    per_epoch = (len(texts) + batch_size - 1) // batch_size
    steps = max(1, epochs * per_epoch)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    sched = transformers.get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        for epoch in range(epochs):
            net.train()
            order = rng.permutation(len(texts))
            total = 0.0
            for k in range(0, len(order), batch_size):
                idx = order[k : k + batch_size].tolist()
                enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                                return_tensors="pt")
                loss = loss_fn(net(enc["input_ids"], enc["attention_mask"]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
            progress(f"tagger epoch {epoch + 1}/{epochs}: loss {total / max(1, len(texts)):.4f}")
    finally:
        torch.set_num_threads(previous)
    net.eval()
    params = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "n_train": len(texts),
              **({"train_layers": train_layers} if train_layers else {})}
    return IndicatorTagger(net, tokenizer, ids, dict.fromkeys(ids, 0.5), max_length=max_length, params=params)


def fit_lexical(texts: Sequence[str], labels: Sequence[Sequence[str]], indicator_ids: Sequence[str], *,
                seed: int = 0) -> tuple[list[Any], dict[str, Any]]:
    """The word model blended with the tagger: TF-IDF + logistic regression per indicator (two positives or more)."""
    y = {iid: np.array([iid in set(lab) for lab in labels], dtype=int) for iid in indicator_ids}
    return fit_linear(texts, {iid: col for iid, col in y.items() if col.sum() >= 2}, c=LEXICAL_C, seed=seed)


def choose_tagger_thresholds(best: np.ndarray, gold: Sequence[Sequence[str]], indicator_ids: Sequence[str], *,
                             rules: Sequence[Sequence[str]] | None = None, read: Sequence[bool] | None = None,
                             rule_support: float = 0.0) -> dict[str, float]:
    """Per indicator, the grid threshold with the best F1 of document-level detection (ties: the lower).

    With ``rules`` (each document's asserted rule indicators), detection is what the backend raises: the
    tagger's score at the threshold, or a rule hit where the score reaches ``rule_support`` x the threshold
    (or the tagger did not ``read`` the document).
    """
    out = {}
    unread = ~np.asarray(read, dtype=bool) if read is not None else np.zeros(len(best), dtype=bool)
    for j, iid in enumerate(indicator_ids):
        y = np.array([iid in set(g) for g in gold])
        hit = np.array([iid in set(r) for r in rules]) if rules is not None else np.zeros(len(best), dtype=bool)
        scores = []
        for t in THRESHOLD_GRID:
            pred = (best[:, j] >= t) | (hit & (unread | (best[:, j] >= rule_support * t)))
            tp = int((pred & y).sum())
            scores.append(2 * tp / max(1, int(pred.sum()) + int(y.sum())))
        out[iid] = float(THRESHOLD_GRID[int(np.argmax(scores))])
    return out
