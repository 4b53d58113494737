"""Per-indicator models: raise an indicator from a sentence's wording when no rule fires.

One logistic regression per indicator over a shared TF-IDF of words and character n-grams, trained on
labelled passages and applied sentence by sentence, so the evidence is the sentence that carries the
indicator. Thresholds are chosen per indicator on out-of-fold sentence scores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from .linear import fit_linear, linear_proba

MIN_POSITIVES = 15
# A model-raised indicator needs a sentence of at least this many words: a heading or fragment ("Speak Up")
# states no finding, however its few words are weighted. Rules, which match exact wordings, are not limited.
MIN_WORDS = 5
_WORD = re.compile(r"\w+")


def long_enough(sentence: str) -> bool:
    """Whether a sentence has enough words for an indicator model to speak about it."""
    return len(_WORD.findall(sentence)) >= MIN_WORDS


class IndicatorModels:
    """One-vs-rest indicator classifiers with per-indicator thresholds.

    ``fit`` takes passages, their indicator ids and, per passage, its sentences. Out-of-fold models
    score the held-out passages' sentences; a passage's score for an indicator is its best sentence,
    and the threshold maximising F1 of ``rule hit or model score >= threshold`` is kept.
    """

    def __init__(self, indicator_ids: Sequence[str], c: float = 10.0, folds: int = 5, seed: int = 0) -> None:
        self.indicator_ids = tuple(indicator_ids)
        self.c = c
        self.folds = folds
        self.seed = seed

    def _fit_models(self, texts: list[str], y: np.ndarray
                    ) -> tuple[list[TfidfVectorizer], dict[str, LogisticRegression]]:
        # An indicator with fewer than two positives in a fold gets no model there (it scores 0).
        return fit_linear(texts, {iid: y[:, j] for j, iid in enumerate(self.labels_) if y[:, j].sum() >= 2},
                          c=self.c, seed=self.seed)

    def fit(self, texts: Sequence[str], indicators: Sequence[Sequence[str]], sentences: Sequence[Sequence[str]],
            rule_hits: np.ndarray, gate: np.ndarray | None = None,
            groups: Sequence[str] | None = None) -> IndicatorModels:
        """Fit on passages; ``rule_hits[i, j]`` is 1 when a rule asserted indicator j in passage i.

        ``gate[i]`` says whether the document model (out of fold) would flag passage i; model-raised
        indicators only count in flagged documents, so thresholds are chosen under the same gate.
        ``groups``: passages of one group stay in one fold.
        """
        texts = list(texts)
        counts = {iid: sum(iid in ids for ids in indicators) for iid in self.indicator_ids}
        self.labels_ = tuple(i for i in self.indicator_ids if counts[i] >= MIN_POSITIVES)
        y = np.array([[int(iid in ids) for iid in self.labels_] for ids in indicators]).reshape(len(texts), -1)
        rules = np.asarray(rule_hits)[:, [self.indicator_ids.index(i) for i in self.labels_]]
        oof = np.zeros_like(y, dtype=float)
        group_ids = list(range(len(texts))) if groups is None else list(groups)
        folds = GroupKFold(self.folds, shuffle=True, random_state=self.seed)
        for train_idx, test_idx in folds.split(texts, groups=group_ids):
            vecs, models = self._fit_models([texts[i] for i in train_idx], y[train_idx])
            owner: list[int] = []
            batch: list[str] = []
            for i in test_idx:
                sents = [t for t in (list(sentences[i]) or [texts[i]]) if long_enough(t)]
                owner += [i] * len(sents)
                batch += sents
            scores = linear_proba(vecs, models, self.labels_, batch)
            owners = np.array(owner)
            for i in test_idx:
                if (owners == i).any():
                    oof[i] = scores[owners == i].max(axis=0)
        gate_arr = np.ones(len(texts), dtype=bool) if gate is None else np.asarray(gate, dtype=bool)
        self.thresholds_ = {}
        self.oof_f1_ = {}
        for j, iid in enumerate(self.labels_):
            best_t, best_f1 = 0.5, -1.0
            for t in np.round(np.arange(0.1, 0.96, 0.025), 3):
                pred = (rules[:, j] > 0) | (gate_arr & (oof[:, j] >= t))
                tp = float((pred & (y[:, j] == 1)).sum())
                f1 = 2 * tp / (pred.sum() + y[:, j].sum()) if pred.sum() + y[:, j].sum() else 0.0
                if f1 > best_f1 + 1e-9:
                    best_t, best_f1 = float(t), f1
            self.thresholds_[iid] = best_t
            self.oof_f1_[iid] = round(best_f1, 4)
        # Out-of-fold indicator decisions (rule hit, or gated model score over its threshold), for the caller to
        # calibrate on; not part of an artefact (see ``__getstate__``).
        self.oof_hits_ = (rules > 0) | (gate_arr[:, None] & (oof >= np.array([self.thresholds_[i] for i in self.labels_])))
        self.vectorizers_, self.models_ = self._fit_models(texts, y)
        return self

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state.pop("oof_hits_", None)
        return state

    def predict_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        """Probability of each indicator (columns ``labels_``) for each sentence."""
        return linear_proba(self.vectorizers_, self.models_, self.labels_, list(sentences))
