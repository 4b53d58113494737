"""Rule features for the models: which indicators the rules asserted, and which they only mentioned."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..results import Evidence


def rule_feature_names(indicator_ids: Sequence[str]) -> list[str]:
    """Two columns per indicator: asserted by a rule, mentioned but not asserted."""
    return [f"{i}:asserted" for i in indicator_ids] + [f"{i}:mentioned" for i in indicator_ids]


def rule_features(evidence: Sequence[Evidence], indicator_ids: Sequence[str]) -> np.ndarray:
    """The rule-feature row of one document (rule evidence only)."""
    k = len(indicator_ids)
    index = {iid: n for n, iid in enumerate(indicator_ids)}
    row = np.zeros(2 * k)
    for e in evidence:
        n = index.get(e.indicator)
        if n is None or e.source != "rule":
            continue
        if e.assertion == "asserted":
            row[n] = 1.0
        else:
            row[k + n] = 1.0
    return row
