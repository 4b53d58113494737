"""Text clean-up before model features, so a score keys on words, not on layout.

Masking tokens (``#URL_...#``, ``#EMAIL_...#``, ``#PHONE_...#``), HTML tags, markdown symbols, bullets
and line breaks are replaced by spaces; case is folded. The same ad reflowed or stripped of markup
therefore gets the same features.
"""

from __future__ import annotations

import re

_MASK = re.compile(r"#(?:URL|EMAIL|PHONE)_[^#\s]*#")
_TAG = re.compile(r"</?[a-zA-Z][^>]{0,200}>")
_MARKUP = re.compile(r"[*_#>|`~•●▪►■◆✔✅➡️\[\](){}=+]+")
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Lower-cased text without masking tokens, tags, markup symbols or layout whitespace."""
    text = _MASK.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _MARKUP.sub(" ", text)
    return _SPACE.sub(" ", text).strip().lower()
