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
