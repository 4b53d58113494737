"""Semantic indicator matching: a sentence raises an indicator when its nearest prototypes belong to it.

Prototypes of an indicator are the taxonomy's positive examples plus, from every labelled training
passage, the sentence closest to those examples (a passage is labelled as a whole, so the matcher picks
the sentence that carries the indicator). Sentences of passages labelled with no indicator are
negative prototypes (policy text, ordinary HR practice, legitimate ads). A sentence's score for an
indicator is the similarity-weighted share of its ``k`` nearest prototypes that belong to the
indicator (softmax of cosine similarity over ``temperature``): a sentence close to an indicator's
examples but closer still to look-alike negatives scores low. Nearest-prototype voting was chosen
over a plain similarity threshold on the calibration passages (indicator macro-F1 0.56 against 0.44,
supplier and recruitment alike); it keeps an example to show for every match.

The threshold of each indicator maximises F1 of "some sentence of the passage scores above it" on
calibration passages: training passages scored without their own group's prototypes
(leave-group-out), plus the dev split. The test split is never used.

The matcher works on embeddings; :mod:`screening.transformer.featurize` feeds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

SEED_GROUP = "<taxonomy>"


@dataclass(frozen=True)
class EmbeddedPassage:
    """A labelled passage's asserted sentences and their embeddings."""

    sentences: tuple[str, ...]
    embeddings: np.ndarray
    labels: frozenset[str]
    group: str
    annotated: bool = True


@dataclass(frozen=True)
class Match:
    """A sentence that matched an indicator: vote score, similarity to the nearest prototype, that prototype."""

    sentence: int
    indicator: str
    score: float
    similarity: float
    prototype: str


@dataclass
class _Calibration:
    threshold: float
    f1: float
    precision: float
    recall: float
    support: int
    prototypes: int = field(default=0)


class SemanticMatcher:
    """Per-indicator nearest-prototype matching with calibrated thresholds.

    Parameters
    ----------
    indicator_ids: the taxonomy's indicator ids, in order.
    k: nearest prototypes that vote.
    temperature: softmax temperature of the votes' cosine similarities (lower: the nearest weigh more).
    per_passage: sentences taken as prototypes from each labelled passage, per label.
    floor: lowest threshold allowed, so an indicator with few examples cannot match everything.
    beta: thresholds maximise F-beta of passage-level matches on the calibration passages. The matcher is
        the backend's recall stage (paraphrases the rules miss); the document classifier and the gate
        weigh its matches, so recall counts more than precision here (1.5 by default: with plain F1,
        the many confusable negatives of the supplier corpus pushed the thresholds up until paraphrase
        recall fell to 0.785).
    """

    def __init__(self, indicator_ids: Sequence[str], *, k: int = 30, temperature: float = 0.1, per_passage: int = 1,
                 floor: float = 0.1, beta: float = 1.5) -> None:
        self.indicator_ids = tuple(indicator_ids)
        self.beta = beta
        self.k = k
        self.temperature = temperature
        self.per_passage = per_passage
        self.floor = floor

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, seeds: Mapping[str, tuple[Sequence[str], np.ndarray]], train: Sequence[EmbeddedPassage],
            calibration: Sequence[EmbeddedPassage] = ()) -> SemanticMatcher:
        """Build prototypes from ``seeds`` (per indicator: texts, embeddings) and ``train``; calibrate."""
        texts: list[str] = []
        vecs: list[np.ndarray] = []
        owner: list[int] = []
        groups: list[str] = []
        index = {iid: j for j, iid in enumerate(self.indicator_ids)}
        for iid, (seed_texts, seed_vecs) in seeds.items():
            if iid not in index:
                continue
            for t, v in zip(seed_texts, seed_vecs, strict=True):
                texts.append(t)
                vecs.append(v)
                owner.append(index[iid])
                groups.append(SEED_GROUP)
        seed_matrix = np.array(vecs, dtype=np.float32).reshape(len(vecs), -1)
        seed_owner = np.array(owner, dtype=int)
        for p in train:
            if not p.annotated or not len(p.sentences):
                continue
            if not p.labels:
                for t, v in zip(p.sentences, p.embeddings, strict=True):
                    texts.append(t)
                    vecs.append(v)
                    owner.append(-1)
                    groups.append(p.group)
                continue
            sims = p.embeddings @ seed_matrix.T if len(seed_matrix) else np.zeros((len(p.sentences), 0))
            for iid in sorted(p.labels):
                j = index.get(iid)
                if j is None:
                    continue
                cols = seed_owner == j
                closeness = sims[:, cols].max(axis=1) if cols.any() else np.zeros(len(p.sentences))
                for n in np.argsort(-closeness)[: self.per_passage].tolist():
                    texts.append(p.sentences[n])
                    vecs.append(p.embeddings[n])
                    owner.append(j)
                    groups.append(p.group)
        self.prototypes_ = np.array(vecs, dtype=np.float32).reshape(len(vecs), -1)
        self.prototype_texts_ = tuple(texts)
        self.prototype_owner_ = np.array(owner, dtype=int)
        self.prototype_groups_ = np.array(groups)
        self.labels_ = tuple(iid for iid in self.indicator_ids if (self.prototype_owner_ == index[iid]).any())
        self._calibrate([p for p in train if p.annotated], [p for p in calibration if p.annotated])
        return self

    def _passage_scores(self, passages: Sequence[EmbeddedPassage], leave_group_out: bool) -> np.ndarray:
        """Best sentence score per passage and indicator (optionally without the passage's own group)."""
        out = np.zeros((len(passages), len(self.indicator_ids)))
        for n, p in enumerate(passages):
            if len(p.sentences):
                out[n] = self.scores(p.embeddings, p.group if leave_group_out else None).max(axis=0)
        return out

    def _calibrate(self, train: list[EmbeddedPassage], dev: list[EmbeddedPassage]) -> None:
        scores = np.vstack([self._passage_scores(train, True), self._passage_scores(dev, False)])
        passages = train + dev
        grid = np.round(np.arange(self.floor, 0.951, 0.01), 2)
        b2 = self.beta**2
        self.thresholds_: dict[str, float] = {}
        self.calibration_: dict[str, dict[str, float]] = {}
        for j, iid in enumerate(self.indicator_ids):
            if iid not in self.labels_:
                continue
            y = np.array([iid in p.labels for p in passages])
            best = _Calibration(float(grid[-1]), 0.0, 0.0, 0.0, int(y.sum()))
            for t in grid:
                pred = scores[:, j] >= t
                tp = float((pred & y).sum())
                f1 = (1 + b2) * tp / (pred.sum() + b2 * y.sum()) if pred.sum() + y.sum() else 0.0
                if f1 > best.f1 + 1e-9:
                    best = _Calibration(float(t), f1, tp / max(pred.sum(), 1), tp / max(y.sum(), 1), int(y.sum()))
            self.thresholds_[iid] = best.threshold
            self.calibration_[iid] = {"threshold": best.threshold, "f1": round(best.f1, 4),
                                      "precision": round(best.precision, 4), "recall": round(best.recall, 4),
                                      "support": best.support,
                                      "prototypes": int((self.prototype_owner_ == j).sum())}

    # ---- scoring -------------------------------------------------------------------------------
    def _scores(self, embeddings: np.ndarray, exclude: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per sentence and indicator: vote score, index of and similarity to the nearest prototype."""
        n_sent, n_ind = len(embeddings), len(self.indicator_ids)
        sims = embeddings.astype(np.float32) @ self.prototypes_.T
        if exclude is not None and exclude.any():
            sims[:, exclude] = -np.inf
        k = min(self.k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k else np.zeros((n_sent, 0), dtype=int)
        top_sims = np.take_along_axis(sims, top, axis=1)
        weights = np.exp((top_sims - top_sims.max(axis=1, keepdims=True)) / self.temperature)
        weights /= weights.sum(axis=1, keepdims=True)
        top_owner = self.prototype_owner_[top]
        scores = np.zeros((n_sent, n_ind), dtype=np.float32)
        nearest = np.full((n_sent, n_ind), -1, dtype=int)
        similarity = np.zeros((n_sent, n_ind), dtype=np.float32)
        rows = np.arange(n_sent)
        for j in range(n_ind):
            cols = np.flatnonzero(self.prototype_owner_ == j)
            if not len(cols):
                continue
            scores[:, j] = (weights * (top_owner == j)).sum(axis=1)
            best = sims[:, cols].argmax(axis=1)
            nearest[:, j] = cols[best]
            similarity[:, j] = sims[rows, cols[best]]
        return scores, nearest, similarity

    def scores(self, embeddings: np.ndarray, exclude_group: str | None = None) -> np.ndarray:
        """Vote score of each sentence (rows) for each indicator (columns ``indicator_ids``).

        ``exclude_group`` leaves out the prototypes taken from that group: a training document is then
        scored as if it had not been seen, which is how calibration and the classifier's inputs stay honest.
        """
        mask = None if exclude_group is None else self.prototype_groups_ == exclude_group
        return self._scores(embeddings, mask)[0]

    def match(self, embeddings: np.ndarray) -> list[Match]:
        """Sentences at or above an indicator's threshold, with their nearest prototype."""
        return self.score_and_match(embeddings)[1]

    def score_and_match(self, embeddings: np.ndarray) -> tuple[np.ndarray, list[Match]]:
        """:meth:`scores` and :meth:`match` in one pass over the prototypes."""
        if not len(embeddings):
            return np.zeros((0, len(self.indicator_ids)), dtype=np.float32), []
        scores, nearest, similarity = self._scores(embeddings)
        out = []
        for j, iid in enumerate(self.indicator_ids):
            t = self.thresholds_.get(iid)
            if t is None:
                continue
            for n in np.flatnonzero(scores[:, j] >= t).tolist():
                out.append(Match(n, iid, float(scores[n, j]), float(similarity[n, j]),
                                 self.prototype_texts_[nearest[n, j]]))
        return scores, out
