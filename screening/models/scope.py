"""Scope model: whether a text is the kind of document the profile screens at all.

The risk models learn from job ads (recruitment) or supplier passages; text of another kind (a greeting,
office mail, a delivery notice) is outside what they have seen, and the recruitment model read short
ordinary messages as one-line scam forwards. The scope model is a logistic regression over the same word
and character TF-IDF as the indicator models, trained on the profile's documents (in scope) against
corpus texts of kind ``other`` (out of scope).

It only speaks for documents without any asserted indicator: where a rule or an indicator model has
found something, the document is in scope by that evidence. Below ``threshold`` the document's
probability becomes P(in scope) x P(needs review | in scope).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from .indicators import _vectorizers

MIN_OUT_OF_SCOPE = 20  # fewer out-of-scope training texts: no scope model
THRESHOLD = 0.5


class ScopeModel:
    """P(in scope) for a text; ``threshold`` is where it starts to hold a document back."""

    def __init__(self, c: float = 10.0, folds: int = 5, seed: int = 0, threshold: float = THRESHOLD) -> None:
        self.c = c
        self.folds = folds
        self.seed = seed
        self.threshold = threshold

    def _fit(self, texts: list[str], y: np.ndarray) -> tuple[list[TfidfVectorizer], LogisticRegression]:
        vecs = _vectorizers()
        x = sparse.hstack([v.fit_transform(texts) for v in vecs]).tocsr()
        model = LogisticRegression(C=self.c, max_iter=3000, solver="liblinear", class_weight="balanced",
                                   random_state=self.seed).fit(x, y)
        return vecs, model

    @staticmethod
    def _proba(vecs: list[TfidfVectorizer], model: LogisticRegression, texts: list[str]) -> np.ndarray:
        x = sparse.hstack([v.transform(texts) for v in vecs]).tocsr()
        return np.asarray(expit(x @ model.coef_[0] + model.intercept_[0]))

    def fit(self, texts: Sequence[str], in_scope: Sequence[bool], groups: Sequence[str]) -> ScopeModel:
        """Fit on texts and whether each is in scope; out-of-fold figures (folds by group) go to ``oof_``."""
        texts = list(texts)
        y = np.asarray(in_scope, dtype=int)
        oof = np.zeros(len(texts))
        folds = StratifiedGroupKFold(self.folds, shuffle=True, random_state=self.seed)
        for train_idx, test_idx in folds.split(texts, y, groups=list(groups)):
            vecs, model = self._fit([texts[i] for i in train_idx], y[train_idx])
            oof[test_idx] = self._proba(vecs, model, [texts[i] for i in test_idx])
        held = oof < self.threshold
        self.oof_ = {"in_scope": int(y.sum()), "out_of_scope": int((1 - y).sum()),
                     "in_scope_held_back": round(float(held[y == 1].mean()), 4),
                     "out_of_scope_held_back": round(float(held[y == 0].mean()), 4)}
        self.vectorizers_, self.model_ = self._fit(texts, y)
        return self

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """P(in scope) for each text."""
        return self._proba(self.vectorizers_, self.model_, list(texts))

    def describe(self) -> dict[str, Any]:
        """What the manifest records."""
        return {"method": "logistic regression, word 1-2 + char 3-5 TF-IDF, in-scope documents against "
                          "corpus texts of kind 'other'; applies to documents without an asserted indicator",
                "threshold": self.threshold, "c": self.c, "out_of_fold": self.oof_}
