"""The document classifier on embeddings: calibrated probability that a document needs review.

Follows scikit-learn's contract like :class:`screening.models.classifier.DocumentClassifier`:
``__init__`` stores parameters, ``fit`` learns and returns ``self``, learned state ends in ``_``,
``predict_proba`` returns ``(n, 2)`` and ``get_feature_names_out`` names every column. Its input is
the feature matrix of :mod:`screening.transformer.featurize`: the first ``embedding_columns``
columns are the document's mean sentence embedding, the rest are matcher scores and rule features.
The encoder is a separate, verified artefact, so the pickle holds only linear models.

The shape is the fast classifier's: a logistic regression on the (standardised) embedding is a
member whose out-of-fold decision, with the matcher and rule columns, feeds a stacking logistic
regression that weighs and calibrates them. Hundreds of embedding columns next to a few dozen
evidence columns in one model let the embedding drown the evidence; stacking keeps the evidence at
the low-variance layer (chosen on out-of-fold ROC-AUC of the training data, both profiles).
``oof_proba_`` holds honest out-of-fold probabilities, from which thresholds are chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler


class EmbeddingClassifier:
    """Stacked logistic regressions over document feature rows.

    Parameters
    ----------
    embedding_columns: how many leading columns are the embedding (0: no embedding member).
    c_embedding: inverse regularisation of the embedding member.
    c: inverse regularisation of the stacking layer.
    folds: folds for out-of-fold decisions and probabilities.
    seed: fixes the fold assignment, so training is deterministic.
    feature_names: names of the input columns, for ``get_feature_names_out``.
    """

    def __init__(self, embedding_columns: int = 0, c_embedding: float = 0.1, c: float = 3.0, folds: int = 5,
                 seed: int = 0, feature_names: Sequence[str] = ()) -> None:
        self.embedding_columns = embedding_columns
        self.c_embedding = c_embedding
        self.c = c
        self.folds = folds
        self.seed = seed
        self.feature_names = tuple(feature_names)

    def _member(self) -> Pipeline:
        return make_pipeline(StandardScaler(), LogisticRegression(C=self.c_embedding, max_iter=5000))

    def _stacker(self) -> LogisticRegression:
        return LogisticRegression(C=self.c, max_iter=5000)

    def _z(self, x: np.ndarray, decision: np.ndarray | None) -> np.ndarray:
        m = self.embedding_columns
        rest = x[:, m:]
        if not m:
            return rest
        if decision is None:
            decision = self.member_.decision_function(x[:, :m])
        return np.hstack([((decision - self.center_) / self.scale_)[:, None], rest])

    def fit(self, x: Any, y: Any) -> EmbeddingClassifier:
        """Member on out-of-fold splits, stacker on its out-of-fold decisions, then both on all rows."""
        x_arr = np.asarray(x, dtype=float)
        y_arr = np.asarray(y, dtype=int)
        m = self.embedding_columns
        folds = min(self.folds, int(np.bincount(y_arr, minlength=2).min()))
        splits = (list(StratifiedKFold(folds, shuffle=True, random_state=self.seed).split(x_arr, y_arr))
                  if folds >= 2 else [])
        decision = None
        if m:
            self.member_ = self._member().fit(x_arr[:, :m], y_arr)
            decision = self.member_.decision_function(x_arr[:, :m])
            for train_idx, test_idx in splits:
                member = self._member().fit(x_arr[train_idx, :m], y_arr[train_idx])
                decision[test_idx] = member.decision_function(x_arr[test_idx, :m])
            self.center_ = float(decision.mean())
            self.scale_ = float(decision.std()) + 1e-9
        z = self._z(x_arr, decision)
        self.calibrator_ = self._stacker().fit(z, y_arr)
        self.oof_proba_ = self.calibrator_.predict_proba(z)[:, 1]
        for train_idx, test_idx in splits:
            stacker = self._stacker().fit(z[train_idx], y_arr[train_idx])
            self.oof_proba_[test_idx] = stacker.predict_proba(z[test_idx])[:, 1]
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = x_arr.shape[1]
        return self

    def decision_function(self, x: Any) -> np.ndarray:
        """Log-odds before the sigmoid."""
        return np.asarray(self.calibrator_.decision_function(self._z(np.asarray(x, dtype=float), None)))

    def predict_proba(self, x: Any) -> np.ndarray:
        """Probabilities, shape ``(n, 2)``."""
        return np.asarray(self.calibrator_.predict_proba(self._z(np.asarray(x, dtype=float), None)))

    def predict(self, x: Any) -> np.ndarray:
        """Labels at probability 0.5."""
        return (self.predict_proba(x)[:, 1] >= 0.5).astype(int)

    def get_feature_names_out(self) -> np.ndarray:
        """Names of the input columns (``embedding:i``, ``semantic:ID``, ``rules:ID:...``)."""
        if self.feature_names:
            return np.array(self.feature_names, dtype=object)
        return np.array([f"x{i}" for i in range(self.n_features_in_)], dtype=object)

    def stack_feature_names(self) -> list[str]:
        """Names of the stacking layer's inputs, in the order of ``calibrator_.coef_``."""
        names = list(self.get_feature_names_out())[self.embedding_columns :]
        return (["member:embedding"] if self.embedding_columns else []) + names
