"""Evaluation figures: verdict F1, ranking metrics, calibration, per-indicator F1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

NATURAL_PREVALENCE = 0.048  # EMSCAD's share of fraudulent ads in the full set (866 of 17,880)


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[list[dict[str, Any]], float]:
    """Reliability table over equal-width bins and the expected calibration error."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    table = []
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (p >= lo) & ((p < hi) if hi < 1.0 else (p <= hi))
        n = int(mask.sum())
        if not n:
            continue
        mean_p, frac = float(p[mask].mean()), float(y[mask].mean())
        ece += n / len(y) * abs(mean_p - frac)
        table.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": n, "mean_score": round(mean_p, 4),
                      "fraction_positive": round(frac, 4)})
    return table, float(ece)


def binary_metrics(y: Any, scores: Any, flagged: Any) -> dict[str, Any]:
    """Figures for a binary task where ``flagged`` is the verdict a user sees (review or high)."""
    y_arr = np.asarray(y, dtype=int)
    p = np.asarray(scores, dtype=float)
    f = np.asarray(flagged, dtype=bool)
    prec, rec, f1, _ = precision_recall_fscore_support(y_arr, f, labels=[0, 1], zero_division=0)
    table, ece = reliability(y_arr, p)
    out: dict[str, Any] = {
        "n": int(len(y_arr)),
        "positives": int(y_arr.sum()),
        "precision": round(float(prec[1]), 4),
        "recall": round(float(rec[1]), 4),
        "f1": round(float(f1[1]), 4),
        "per_class": {str(c): {"precision": round(float(prec[c]), 4), "recall": round(float(rec[c]), 4),
                               "f1": round(float(f1[c]), 4)} for c in (0, 1)},
        "confusion": {"tp": int((f & (y_arr == 1)).sum()), "fp": int((f & (y_arr == 0)).sum()),
                      "fn": int((~f & (y_arr == 1)).sum()), "tn": int((~f & (y_arr == 0)).sum())},
        "brier": round(float(brier_score_loss(y_arr, p)), 4) if len(set(y_arr)) > 1 else None,
        "ece": round(ece, 4),
        "reliability": table,
    }
    if len(set(y_arr)) > 1:
        out["roc_auc"] = round(float(roc_auc_score(y_arr, p)), 4)
        out["pr_auc"] = round(float(average_precision_score(y_arr, p)), 4)
        n_pos, n_neg = int(y_arr.sum()), int((y_arr == 0).sum())
        weight = (1 - NATURAL_PREVALENCE) / NATURAL_PREVALENCE * n_pos / n_neg
        w = np.where(y_arr == 1, 1.0, weight)
        out["f1_at_natural_prevalence"] = round(float(f1_score(y_arr, f, sample_weight=w, zero_division=0)), 4)
    return out


def indicator_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
                      indicator_ids: Sequence[str]) -> dict[str, Any]:
    """Precision, recall and F1 per indicator and their macro average (indicators with gold support)."""
    per: dict[str, Any] = {}
    f1s = []
    for iid in indicator_ids:
        g = np.array([iid in x for x in gold])
        p = np.array([iid in x for x in predicted])
        if not g.any():
            continue
        prec, rec, f1, _ = precision_recall_fscore_support(g, p, labels=[True], zero_division=0)
        per[iid] = {"support": int(g.sum()), "precision": round(float(prec[0]), 4), "recall": round(float(rec[0]), 4),
                    "f1": round(float(f1[0]), 4)}
        f1s.append(float(f1[0]))
    return {"macro_f1": round(float(np.mean(f1s)), 4) if f1s else None, "per_indicator": per}


def choose_thresholds(y: np.ndarray, p: np.ndarray, high_precision: float = 0.95,
                      high_floor: float = 0.75) -> dict[str, Any]:
    """Review threshold maximising F1 on out-of-fold scores; high where a flag is very likely right.

    ``high`` is the lowest threshold at or above both ``review`` and ``high_floor`` (a calibrated score
    of 0.75) whose out-of-fold precision reaches ``high_precision``.
    """
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    f1s = [f1_score(y, p >= t, zero_division=0) for t in grid]
    review = float(grid[int(np.argmax(f1s))])
    high = None
    for t in grid[grid >= max(review + 0.01, high_floor)]:
        flagged = p >= t
        if flagged.sum() >= 5 and y[flagged].mean() >= high_precision:
            high = float(t)
            break
    if high is None:
        high = round(review + (1 - review) / 2, 2)
    return {"review": review, "high": high,
            "how": f"review: threshold maximising F1 of (score >= t) on out-of-fold training scores "
                   f"(F1 {max(f1s):.3f}); high: lowest threshold above review and at least {high_floor} with "
                   f"out-of-fold precision >= {high_precision:.0%}"}
