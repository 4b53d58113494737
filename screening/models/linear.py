"""The linear text model that the indicator and scope models share.

A word (1-2) and character (3-5, within word boundaries) TF-IDF, fitted once on the training texts, and one
class-balanced logistic regression per binary target on top of it. Probabilities are computed as ``expit`` of
the decision value: for a binary logistic regression that is exactly ``predict_proba``, without scikit-learn's
per-call input checks, which cost more than the product itself when called once per target and sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from .text import clean_text


def text_vectorizers() -> list[TfidfVectorizer]:
    """Fresh word and character TF-IDF vectorizers (unfitted)."""
    return [
        TfidfVectorizer(preprocessor=clean_text, ngram_range=(1, 2), sublinear_tf=True, min_df=2),
        TfidfVectorizer(preprocessor=clean_text, analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2),
    ]


def fit_linear(texts: Sequence[str], targets: Mapping[str, np.ndarray], *, c: float, seed: int
               ) -> tuple[list[TfidfVectorizer], dict[str, LogisticRegression]]:
    """Fit the vectorizers on ``texts`` and one logistic regression per named 0/1 target column."""
    vecs = text_vectorizers()
    x = sparse.hstack([v.fit_transform(list(texts)) for v in vecs]).tocsr()
    models = {name: LogisticRegression(C=c, max_iter=3000, solver="liblinear", class_weight="balanced",
                                       random_state=seed).fit(x, y)
              for name, y in targets.items()}
    return vecs, models


def linear_proba(vecs: Sequence[TfidfVectorizer], models: Mapping[str, LogisticRegression], names: Sequence[str],
                 texts: Sequence[str]) -> np.ndarray:
    """P(target) for each text (rows) and each of ``names`` (columns); 0 for a name without a model."""
    out = np.zeros((len(texts), len(names)))
    if not len(texts):
        return out
    x = sparse.hstack([v.transform(list(texts)) for v in vecs]).tocsr()
    for j, name in enumerate(names):
        if name in models:
            model = models[name]
            out[:, j] = expit(x @ model.coef_[0] + model.intercept_[0])
    return out
