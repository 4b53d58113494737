"""Scope model: whether a text is the kind of document the profile screens at all.

The risk models learn from job ads (recruitment) or supplier passages; text of another kind (a greeting,
office mail, a delivery notice) is outside what they have seen, and the recruitment model read short
ordinary messages as one-line scam forwards. The scope model is a logistic regression over the same word
and character TF-IDF as the indicator models, trained on the profile's documents (in scope) against
corpus texts of kind ``other`` (out of scope).

It only speaks for documents without any asserted indicator: where a rule or an indicator model has
found something, the document is in scope by that evidence. How much its out-of-scope evidence lowers a
document's probability is learned with the document model's scores, out of fold
(:class:`~screening.models.calibration.ScopeCalibration`), so the final score stays calibrated on a mix of
in-scope documents and other text. ``threshold`` only names what the manifest counts as held back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from .calibration import ScopeCalibration
from .linear import fit_linear, linear_proba

MIN_OUT_OF_SCOPE = 20  # fewer out-of-scope training texts: no scope model
THRESHOLD = 0.5
IN_SCOPE = "in_scope"


class ScopeModel:
    """P(in scope) for a text; ``threshold`` is where it starts to hold a document back."""

    def __init__(self, c: float = 10.0, folds: int = 5, seed: int = 0, threshold: float = THRESHOLD) -> None:
        self.c = c
        self.folds = folds
        self.seed = seed
        self.threshold = threshold

    def _fit(self, texts: list[str], y: np.ndarray) -> tuple[list[TfidfVectorizer], dict[str, LogisticRegression]]:
        return fit_linear(texts, {IN_SCOPE: y}, c=self.c, seed=self.seed)

    def fit(self, texts: Sequence[str], in_scope: Sequence[bool], groups: Sequence[str]) -> ScopeModel:
        """Fit on texts and whether each is in scope; out-of-fold figures (folds by group) go to ``oof_``."""
        texts = list(texts)
        y = np.asarray(in_scope, dtype=int)
        oof = np.zeros(len(texts))
        folds = StratifiedGroupKFold(self.folds, shuffle=True, random_state=self.seed)
        for train_idx, test_idx in folds.split(texts, y, groups=list(groups)):
            vecs, models = self._fit([texts[i] for i in train_idx], y[train_idx])
            oof[test_idx] = linear_proba(vecs, models, [IN_SCOPE], [texts[i] for i in test_idx])[:, 0]
        held = oof < self.threshold
        self.oof_ = {"in_scope": int(y.sum()), "out_of_scope": int((1 - y).sum()),
                     "in_scope_held_back": round(float(held[y == 1].mean()), 4),
                     "out_of_scope_held_back": round(float(held[y == 0].mean()), 4)}
        # Out-of-fold P(in scope), in the order of ``texts``, for the caller's calibration; not part of an artefact.
        self.oof_proba_ = oof
        self.vectorizers_, self.models_ = self._fit(texts, y)
        self.calibration_: ScopeCalibration | None = None
        return self

    def calibrate(self, p: np.ndarray, in_scope: np.ndarray, has_indicator: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Fit how scope evidence and the document probability combine; returns the calibrated ``p``.

        All arguments are out of fold over in-scope documents and out-of-scope texts alike.
        """
        self.calibration_ = ScopeCalibration().fit(p, in_scope, has_indicator, y)
        return self.calibration_.apply(p, in_scope, has_indicator)

    def adjust(self, text: str, p: float, has_indicator: bool) -> float:
        """The document probability ``p`` of ``text`` after the scope model has spoken."""
        if self.calibration_ is None:
            return p
        in_scope = 1.0 if has_indicator else float(self.predict([text])[0])
        return float(self.calibration_.apply([p], [in_scope], [has_indicator])[0])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("oof_proba_", None)
        return state

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """P(in scope) for each text."""
        return linear_proba(self.vectorizers_, self.models_, [IN_SCOPE], list(texts))[:, 0]

    def describe(self) -> dict[str, Any]:
        """What the manifest records."""
        return {"method": "logistic regression, word 1-2 + char 3-5 TF-IDF, in-scope documents against "
                          "corpus texts of kind 'other'; applies to documents without an asserted indicator",
                "threshold": self.threshold, "c": self.c, "out_of_fold": self.oof_,
                "calibration": self.calibration_.describe() if self.calibration_ else None}
