"""Calibration of the supplier gate: the score means what it says after the gate has spoken.

A supplier document without any asserted indicator cannot reach ``review`` (policy, negation and generic
risk language must not raise risk). Capping the classifier's probability there made the score mean less
than it says: among documents the gate holds back, far fewer need review than their raw probability
claims. So the probability is recalibrated (Platt scaling of its log-odds) separately for documents with
and without an asserted indicator, on out-of-fold training scores and out-of-fold indicator decisions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

MIN_GROUP = 10  # fewer documents (or one class only) in a group: that group keeps the raw probability


def _log_odds(p: Any) -> np.ndarray:
    return np.asarray(logit(np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)))


class GateCalibration:
    """Platt scaling per gate group: ``coef_[g]``, ``intercept_[g]`` for g = without / with an indicator."""

    def fit(self, p: Any, has_indicator: Any, y: Any) -> GateCalibration:
        """Fit on raw out-of-fold probabilities, out-of-fold indicator presence and labels."""
        z, has, y_arr = _log_odds(p), np.asarray(has_indicator, dtype=bool), np.asarray(y, dtype=int)
        self.coef_ = [1.0, 1.0]
        self.intercept_ = [0.0, 0.0]
        self.n_ = [0, 0]
        for g in (0, 1):
            mask = has == bool(g)
            self.n_[g] = int(mask.sum())
            if mask.sum() < MIN_GROUP or len(set(y_arr[mask].tolist())) < 2:
                continue
            lr = LogisticRegression(C=1.0, max_iter=1000).fit(z[mask].reshape(-1, 1), y_arr[mask])
            self.coef_[g] = float(lr.coef_[0, 0])
            self.intercept_[g] = float(lr.intercept_[0])
        return self

    def apply(self, p: Any, has_indicator: Any) -> np.ndarray:
        """Calibrated probabilities for raw probabilities ``p`` and the documents' gate groups."""
        z, has = _log_odds(p), np.asarray(has_indicator, dtype=bool).astype(int)
        coef = np.asarray(self.coef_)[has]
        intercept = np.asarray(self.intercept_)[has]
        return np.asarray(expit(coef * z + intercept))

    def describe(self) -> dict[str, Any]:
        """The fitted parameters, for the manifest."""
        return {"method": "Platt scaling of the document log-odds per gate group, fitted out of fold",
                "without_indicator": {"coef": round(self.coef_[0], 4), "intercept": round(self.intercept_[0], 4),
                                      "n": self.n_[0]},
                "with_indicator": {"coef": round(self.coef_[1], 4), "intercept": round(self.intercept_[1], 4),
                                   "n": self.n_[1]}}


class ScopeCalibration:
    """P(needs review) once the scope model has spoken, fitted by logistic regression out of fold.

    The document model learns from in-scope documents only, so it has no say on text of another kind (a
    greeting, a classified, a notice) and scores much of it high. For a document without any asserted indicator
    the scope model's out-of-scope evidence, ``min(logit P(in scope), 0)``, lowers the score by a weight learned
    together with the document log-odds on out-of-fold scores of in-scope documents and out-of-scope texts; a
    document the scope model reads as in scope keeps its score, and where an indicator is asserted the scope
    model has no say.
    """

    def fit(self, p: Any, in_scope: Any, has_indicator: Any, y: Any) -> ScopeCalibration:
        """Fit on out-of-fold document probabilities, P(in scope), indicator presence and labels."""
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(self._features(p, in_scope, has_indicator),
                                                           np.asarray(y, dtype=int))
        self.coef_ = [float(c) for c in lr.coef_[0]]
        self.intercept_ = float(lr.intercept_[0])
        self.n_ = len(np.asarray(y))
        return self

    @staticmethod
    def _features(p: Any, in_scope: Any, has_indicator: Any) -> np.ndarray:
        has = np.asarray(has_indicator, dtype=float)
        out_of_scope = np.minimum(_log_odds(in_scope), 0.0) * (1.0 - has)
        return np.column_stack([_log_odds(p), has, out_of_scope])

    def apply(self, p: Any, in_scope: Any, has_indicator: Any) -> np.ndarray:
        """Calibrated probabilities; ``in_scope`` is not read where an indicator is asserted."""
        return np.asarray(expit(self._features(p, in_scope, has_indicator) @ np.asarray(self.coef_) + self.intercept_))

    def describe(self) -> dict[str, Any]:
        """The fitted parameters, for the manifest."""
        a, b, c = self.coef_
        return {"method": "logistic regression of out-of-fold labels on the document log-odds, indicator presence "
                          "and, without an indicator, min(logit P(in scope), 0)",
                "document_log_odds": round(a, 4), "has_indicator": round(b, 4), "out_of_scope_log_odds": round(c, 4),
                "intercept": round(self.intercept_, 4), "n": self.n_}
