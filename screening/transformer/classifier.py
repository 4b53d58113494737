"""The document classifier on embeddings: calibrated probability that a document needs review.

Follows scikit-learn's contract like :class:`screening.models.classifier.DocumentClassifier`:
``__init__`` stores parameters, ``fit`` learns and returns ``self``, learned state ends in ``_``,
``predict_proba`` returns ``(n, 2)`` and ``get_feature_names_out`` names every column. Its input is
the feature matrix of :mod:`screening.transformer.featurize` (the encoder is a separate, verified
artefact, so the pickle holds only the linear model). A logistic regression on standardised
features is fitted on out-of-fold splits first; those out-of-fold probabilities choose the review
and high thresholds, then the final model is fitted on all data.
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
    """Logistic regression over document feature rows.

    Parameters
    ----------
    c: inverse regularisation strength.
    folds: folds for the out-of-fold probabilities that choose thresholds.
    seed: fixes the fold assignment, so training is deterministic.
    feature_names: names of the input columns, for ``get_feature_names_out``.
    """

    def __init__(self, c: float = 0.05, folds: int = 5, seed: int = 0, feature_names: Sequence[str] = ()) -> None:
        self.c = c
        self.folds = folds
        self.seed = seed
        self.feature_names = tuple(feature_names)

    def _new(self) -> Pipeline:
        return make_pipeline(StandardScaler(), LogisticRegression(C=self.c, max_iter=5000, random_state=self.seed))

    def fit(self, x: Any, y: Any) -> EmbeddingClassifier:
        """Out-of-fold probabilities (``oof_proba_``), then the final model on all rows."""
        x_arr = np.asarray(x, dtype=float)
        y_arr = np.asarray(y, dtype=int)
        self.oof_proba_ = np.zeros(len(y_arr))
        folds = min(self.folds, int(np.bincount(y_arr, minlength=2).min()))
        if folds >= 2:
            skf = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
            for train_idx, test_idx in skf.split(x_arr, y_arr):
                model = self._new().fit(x_arr[train_idx], y_arr[train_idx])
                self.oof_proba_[test_idx] = model.predict_proba(x_arr[test_idx])[:, 1]
        self.model_ = self._new().fit(x_arr, y_arr)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = x_arr.shape[1]
        return self

    def decision_function(self, x: Any) -> np.ndarray:
        """Log-odds before the sigmoid."""
        return np.asarray(self.model_.decision_function(np.asarray(x, dtype=float)))

    def predict_proba(self, x: Any) -> np.ndarray:
        """Probabilities, shape ``(n, 2)``."""
        return np.asarray(self.model_.predict_proba(np.asarray(x, dtype=float)))

    def predict(self, x: Any) -> np.ndarray:
        """Labels at probability 0.5."""
        return (self.predict_proba(x)[:, 1] >= 0.5).astype(int)

    def get_feature_names_out(self) -> np.ndarray:
        """Names of the input columns (``embedding:i``, ``semantic:ID``, ``rules:ID:...``)."""
        if self.feature_names:
            return np.array(self.feature_names, dtype=object)
        return np.array([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
