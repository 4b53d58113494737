"""The document classifier: a linear text model plus rule features and a nearest-neighbour member.

Follows scikit-learn's contract: ``__init__`` stores parameters, ``fit`` learns and returns ``self``,
learned state ends in ``_``. Inputs are texts and, per text, the rule detector's indicator features.
Members:
- ``lr``: word 1-2 + char_wb 3-5 TF-IDF, logistic regression (the source of term evidence);
- ``knn``: cosine similarity to the nearest positive minus the nearest negative training document
  (reposted scams are near-duplicates of known ones);
- ``nbsvm``: logistic regression on the presence of the ``lr`` member's words and character n-grams,
  scaled by their naive-Bayes log-count ratios (Wang and Manning, 2012); it reuses that member's
  columns, so it costs no second pass over the text;
- ``svm``: char 2-6 TF-IDF linear SVM.
A logistic regression stacked on the members' out-of-fold decisions and on two rule features (how
many indicators the rules asserted, how many they found only negated, as policy or hypothetical) both
weighs them and calibrates the result, so ``predict_proba`` means what it says. Rule evidence enters
at that low-variance layer rather than among hundreds of thousands of text columns, where it overfit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.svm import LinearSVC

from .text import clean_text

# Feature rows of one call's texts per vectoriser list (keyed by its id), shared by the members using it.
FeatureCache = dict[int, Any]


def rule_summary(rules: np.ndarray) -> np.ndarray:
    """Two stacking features from the rule matrix: log1p of asserted and of only-mentioned indicators."""
    k = rules.shape[1] // 2
    if k == 0:
        return np.zeros((rules.shape[0], 2))
    asserted = rules[:, :k].sum(axis=1)
    mentioned = rules[:, k:].sum(axis=1)
    return np.column_stack([np.log1p(asserted), np.log1p(mentioned)])


def _word_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(preprocessor=clean_text, ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                           token_pattern=r"(?u)\b\w[\w'’-]*\w\b|\b\w\b")


def _char_wb_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(preprocessor=clean_text, analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                           min_df=2)


def _char_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(preprocessor=clean_text, analyzer="char", ngram_range=(2, 6), sublinear_tf=True,
                           min_df=2, max_features=400_000)


class _Member:
    """One linear model over its own features (text vectorisers + optional rule features)."""

    def __init__(self, kind: str, c: float, seed: int) -> None:
        self.kind = kind
        self.c = c
        self.seed = seed

    def fit(self, texts: Sequence[str], rules: np.ndarray, y: np.ndarray) -> _Member:
        if self.kind == "knn":
            self.vectorizers_ = [_word_vectorizer(), _char_wb_vectorizer()]
            self.train_ = self._stack([v.fit_transform(texts) for v in self.vectorizers_], rules)
            self.positive_ = np.asarray(y) == 1
            return self
        if self.kind in ("lr", "nbsvm"):
            self.vectorizers_ = [_word_vectorizer(), _char_wb_vectorizer()]
        else:
            self.vectorizers_ = [_char_vectorizer()]
        mats = [v.fit_transform(texts) for v in self.vectorizers_]
        x = self._stack(mats, rules)
        self.model_: Any
        if self.kind == "nbsvm":
            present = self._presence(x)
            y_arr = np.asarray(y)
            pos = 1.0 + np.asarray(present[y_arr == 1].sum(axis=0)).ravel()
            neg = 1.0 + np.asarray(present[y_arr == 0].sum(axis=0)).ravel()
            self.ratio_ = np.log((pos / pos.sum()) / (neg / neg.sum()))
            self.model_ = LogisticRegression(C=self.c, max_iter=5000, solver="liblinear", random_state=self.seed)
            self.model_.fit(present.multiply(self.ratio_).tocsr(), y)
            return self
        if self.kind == "lr":
            self.model_ = LogisticRegression(C=self.c, max_iter=5000, solver="liblinear", random_state=self.seed)
        else:
            self.model_ = LinearSVC(C=self.c, random_state=self.seed)
        self.model_.fit(x, y)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for cache in ("_by_feature", "_names"):  # rebuilt on first use, never part of an artefact
            state.pop(cache, None)
        return state

    def feature_names(self, n: int) -> np.ndarray:
        """Column names of vectoriser ``n``, built once (scikit-learn sorts the vocabulary on every call)."""
        names: dict[int, np.ndarray] = self.__dict__.setdefault("_names", {})
        if n not in names:
            names[n] = self.vectorizers_[n].get_feature_names_out()
        return names[n]

    def _train_by_feature(self) -> Any:
        """``train_.T`` as CSR, built once: ``x @ train_.T`` made scipy convert all of ``train_`` on every call."""
        by_feature = self.__dict__.get("_by_feature")
        if by_feature is None:
            by_feature = self._by_feature = self.train_.T.tocsr()
        return by_feature

    def _presence(self, x: Any) -> Any:
        """0/1 presence of the text features (words and character n-grams), for the NB-SVM member."""
        present = x[:, : sum(len(v.vocabulary_) for v in self.vectorizers_)].copy()
        present.data = np.ones_like(present.data)
        return present

    def _stack(self, mats: list[Any], rules: np.ndarray) -> Any:
        return sparse.hstack(mats).tocsr()

    def matrix(self, texts: Sequence[str], rules: np.ndarray, cache: FeatureCache | None = None) -> Any:
        """Feature rows of ``texts``; members sharing one vectoriser list share one entry of ``cache``."""
        if cache is None:
            return self._stack([v.transform(texts) for v in self.vectorizers_], rules)
        key = id(self.vectorizers_)
        if key not in cache:
            cache[key] = self._stack([v.transform(texts) for v in self.vectorizers_], rules)
        return cache[key]

    def decision_function(self, texts: Sequence[str], rules: np.ndarray, cache: FeatureCache | None = None
                          ) -> np.ndarray:
        x = self.matrix(texts, rules, cache)
        if self.kind == "knn":
            sims = (x @ self._train_by_feature()).toarray() / len(self.vectorizers_)
            pos = sims[:, self.positive_].max(axis=1) if self.positive_.any() else np.zeros(len(texts))
            neg = sims[:, ~self.positive_].max(axis=1) if (~self.positive_).any() else np.zeros(len(texts))
            return np.asarray(pos - neg, dtype=float)
        if self.kind == "nbsvm":
            x = self._presence(x).multiply(self.ratio_).tocsr()
        return np.asarray(self.model_.decision_function(x), dtype=float)


class DocumentClassifier:
    """Calibrated probability that a document needs review, from text and rule features.

    Parameters
    ----------
    members: which members to stack (``"lr"``, ``"knn"``, ``"nbsvm"``, ``"svm"``); ``"lr"`` is needed for
        term evidence.
    c_lr, c_svm, c_nbsvm: inverse regularisation of each member.
    folds: folds for the out-of-fold decisions that fit the calibrator and choose thresholds.
    seed: fixes fold assignment and solvers, so training is deterministic.
    """

    def __init__(self, members: Sequence[str] = ("lr", "knn", "nbsvm"), c_lr: float = 30.0, c_svm: float = 0.5,
                 folds: int = 5, seed: int = 0, rule_feature_names: Sequence[str] = (), c_nbsvm: float = 4.0) -> None:
        self.members = tuple(members)
        self.c_lr = c_lr
        self.c_svm = c_svm
        self.c_nbsvm = c_nbsvm
        self.folds = folds
        self.seed = seed
        self.rule_feature_names = tuple(rule_feature_names)

    def _new_member(self, kind: str) -> _Member:
        c = {"lr": self.c_lr, "nbsvm": self.c_nbsvm}.get(kind, self.c_svm)
        return _Member(kind, c, self.seed)

    def fit(self, texts: Sequence[str], y: Any, rules: np.ndarray | None = None,
            groups: Sequence[str] | None = None) -> DocumentClassifier:
        """Fit members, out-of-fold calibration, then the final members on all data.

        ``groups``: documents of one group (near-variants written from one idea) stay in one fold, so the
        out-of-fold scores that calibrate and set thresholds are as honest as held-out ones.
        """
        y_arr = np.asarray(y, dtype=int)
        r = self._rules(rules, len(texts))
        texts = list(texts)
        oof = np.zeros((len(texts), len(self.members)))
        skf = StratifiedGroupKFold(self.folds, shuffle=True, random_state=self.seed)
        group_ids = list(range(len(texts))) if groups is None else list(groups)
        for train_idx, test_idx in skf.split(texts, y_arr, group_ids):
            a = [texts[i] for i in train_idx]
            b = [texts[i] for i in test_idx]
            for m, kind in enumerate(self.members):
                member = self._new_member(kind).fit(a, r[train_idx], y_arr[train_idx])
                oof[test_idx, m] = member.decision_function(b, r[test_idx])
        self.center_ = oof.mean(axis=0)
        self.scale_ = oof.std(axis=0) + 1e-9
        z = np.hstack([(oof - self.center_) / self.scale_, rule_summary(r)])
        self.calibrator_ = LogisticRegression(C=1.0, max_iter=1000).fit(z, y_arr)
        self.oof_proba_ = self.calibrator_.predict_proba(z)[:, 1]
        self.members_ = [self._new_member(kind).fit(texts, r, y_arr) for kind in self.members]
        self.classes_ = np.array([0, 1])
        return self

    def _rules(self, rules: np.ndarray | None, n: int) -> np.ndarray:
        if rules is None:
            return np.zeros((n, len(self.rule_feature_names)))
        return np.asarray(rules, dtype=float)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "members_" in state:
            self._share_vectorizers()

    def _share_vectorizers(self) -> None:
        """Members whose fitted vectorisers are equal (lr and knn) use one list: one transform, one copy."""
        seen: list[list[TfidfVectorizer]] = []
        for member in self.members_:
            for vecs in seen:
                if _same_vectorizers(vecs, member.vectorizers_):
                    member.vectorizers_ = vecs
                    break
            else:
                seen.append(member.vectorizers_)

    def _members_z(self, texts: Sequence[str], rules: np.ndarray | None, cache: FeatureCache | None = None
                   ) -> np.ndarray:
        r = self._rules(rules, len(texts))
        texts = list(texts)
        cache = {} if cache is None else cache
        d = np.column_stack([m.decision_function(texts, r, cache) for m in self.members_])
        return np.hstack([(d - self.center_) / self.scale_, rule_summary(r)])

    def decision_function(self, texts: Sequence[str], rules: np.ndarray | None = None) -> np.ndarray:
        """The stacked decision value (log-odds before the sigmoid)."""
        return np.asarray(self.calibrator_.decision_function(self._members_z(texts, rules)))

    def predict_proba(self, texts: Sequence[str], rules: np.ndarray | None = None, *,
                      cache: FeatureCache | None = None) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2).

        ``cache``: an empty dict to keep the texts' feature rows in, for a later :meth:`top_terms` call on
        the same single text, so the text is transformed once.
        """
        return np.asarray(self.calibrator_.predict_proba(self._members_z(texts, rules, cache)))

    def get_feature_names_out(self) -> np.ndarray:
        """Names of the explaining member's columns (words and character n-grams)."""
        lr = self._explainer()
        names = [f"word:{n}" for n in lr.vectorizers_[0].get_feature_names_out()]
        names += [f"char:{n}" for n in lr.vectorizers_[1].get_feature_names_out()]
        return np.array(names, dtype=object)

    def common_words(self) -> list[str]:
        """The single words among the explaining member's word features (seen in two or more training texts)."""
        return [str(w) for w in self._explainer().feature_names(0) if " " not in w]

    def stack_feature_names(self) -> list[str]:
        """Names of the stacking layer's inputs, in the order of ``calibrator_.coef_``."""
        return [f"member:{m}" for m in self.members] + ["rules:asserted_indicators", "rules:mentioned_only"]

    def _explainer(self) -> _Member:
        for m in self.members_:
            if m.kind == "lr":
                return m
        raise ValueError("no logistic-regression member to explain the score")

    def top_terms(self, text: str, rules: np.ndarray | None = None, k: int = 5, *,
                  cache: FeatureCache | None = None) -> list[tuple[str, float]]:
        """The word features that push this document's score up most: ``(term, contribution)``.

        Terms made only of function words, digits or single letters are skipped: they can carry weight but
        explain nothing to a reader.

        ``cache``: the dict passed to :meth:`predict_proba` for this same text, whose word columns are reused.
        """
        lr = self._explainer()
        words = lr.vectorizers_[0]
        n_words = len(words.vocabulary_)
        stacked = None if cache is None else cache.get(id(lr.vectorizers_))
        x = words.transform([text]).tocsr() if stacked is None else stacked[:, :n_words]
        coef = lr.model_.coef_[0][:n_words]
        contrib = x.data * coef[x.indices]
        names = lr.feature_names(0)
        out: list[tuple[str, float]] = []
        for n in np.argsort(-contrib, kind="stable").tolist():
            if contrib[n] <= 0 or len(out) == k:
                break
            term = str(names[x.indices[n]])
            if _informative(term):
                out.append((term, float(contrib[n])))
        return out


def _informative(term: str) -> bool:
    """Whether a word feature can explain a score to a reader: not only function words, digits or single letters.

    Such terms ("a", "they", "in a") can carry weight in the model, but pointing at them explains nothing.
    """
    return any(len(w) > 1 and not w.isdigit() and w not in ENGLISH_STOP_WORDS for w in re.split(r"[\W_]+", term))


def _same_vectorizers(a: list[TfidfVectorizer], b: list[TfidfVectorizer]) -> bool:
    return a is b or (len(a) == len(b) and all(
        x.get_params() == y.get_params() and x.vocabulary_ == y.vocabulary_ and np.array_equal(x.idf_, y.idf_)
        for x, y in zip(a, b, strict=True)))


def term_spans(text: str, term: str, limit: int = 2) -> list[tuple[int, int]]:
    """Character spans in ``text`` where a (possibly two-word) lower-cased term occurs as whole words."""
    words = [re.escape(w) for w in term.split()]
    pattern = r"(?<!\w)" + r"[\W_]+".join(words) + r"(?!\w)"
    return [(m.start(), m.end()) for m in re.finditer(pattern, text, flags=re.IGNORECASE)][:limit]
