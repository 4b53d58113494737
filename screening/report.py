"""Report writers for results: JSONL (the contract), CSV, a terminal table and self-contained HTML."""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

from .results import ScreeningResult

FORMATS = ("jsonl", "csv", "html", "table")
# Characters that can rewrite a terminal line or reorder it: C0/C1 controls, zero-width and bidi marks.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
CSV_COLUMNS = ("id", "profile", "score", "verdict", "indicators", "evidence_asserted", "evidence_other",
               "top_evidence", "error_code", "error_message")
# One colour per indicator position; FL and RC share the palette.
PALETTE = ("#fde68a", "#bfdbfe", "#fecaca", "#bbf7d0", "#e9d5ff", "#fed7aa", "#a5f3fc", "#fbcfe8",
           "#d9f99d", "#c7d2fe", "#fcd34d", "#99f6e4")


class JsonlWriter:
    """One JSON object per line, flushed per result so a killed run keeps what it wrote."""

    def __init__(self, out: IO[str], include_text: bool = False) -> None:
        self.out = out
        self.include_text = include_text

    def write(self, result: ScreeningResult) -> None:
        """Write one result."""
        self.out.write(json.dumps(result.to_dict(self.include_text), ensure_ascii=False) + "\n")
        self.out.flush()

    def close(self) -> None:
        """Nothing to finish for JSONL."""


class CsvWriter:
    """One row per document for spreadsheets; evidence summarised in columns."""

    def __init__(self, out: IO[str]) -> None:
        self.writer = csv.writer(out)
        self.writer.writerow(CSV_COLUMNS)
        self.out = out

    def write(self, result: ScreeningResult) -> None:
        """Write one result row."""
        asserted = [e for e in result.evidence if e.assertion == "asserted"]
        top = "; ".join(f"{e.indicator}: {e.text}" for e in asserted[:5])
        err = result.error or {}
        self.writer.writerow([
            result.id, result.profile, "" if result.score is None else round(result.score, 4), result.verdict or "",
            " ".join(i.id for i in result.indicators), len(asserted), len(result.evidence) - len(asserted), top,
            err.get("code", ""), err.get("message", ""),
        ])
        self.out.flush()

    def close(self) -> None:
        """Nothing to finish for CSV."""


class TableWriter:
    """A compact human-readable table for a terminal."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.out.write(f"{'id':40} {'verdict':8} {'score':>6}  indicators present\n")

    def write(self, result: ScreeningResult) -> None:
        """Write one result line and its asserted evidence."""
        if result.error:
            self.out.write(f"{printable(result.id)[:40]:40} {'error':8} {'':>6}  "
                           f"{result.error['code']}: {printable(result.error['message'])}\n")
            return
        ids = " ".join(i.id for i in result.indicators) or "-"
        self.out.write(f"{printable(result.id)[:40]:40} {result.verdict or '':8} {result.score or 0:6.2f}  {ids}\n")
        for e in result.evidence:
            if e.assertion == "asserted":
                self.out.write(f"{'':49}{e.indicator} \"{_clip(e.text)}\" ({e.rule})\n")
        self.out.flush()

    def close(self) -> None:
        """Nothing to finish for a table."""


def printable(text: str) -> str:
    r"""``text`` safe to print on a terminal: control, zero-width and bidi characters become escapes (``\x1b``)."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _clip(text: str, n: int = 70) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= n else text[: n - 1] + "…"


def highlight_html(text: str, evidence: Iterable[Any], colours: dict[str, str]) -> str:
    """Escape ``text`` and wrap evidence spans in ``<mark>`` with their explanation in the title.

    Overlapping spans are flattened: each character range carries the first span that covers it.
    """
    spans = sorted(evidence, key=lambda e: (e.start, -(e.end - e.start)))
    out: list[str] = []
    pos = 0
    for e in spans:
        if e.start < pos:
            continue
        out.append(html.escape(text[pos : e.start]))
        cls = "hit" if e.assertion == "asserted" else "hit muted"
        title = f"{e.indicator} · {e.rule} · {e.assertion} · {e.source}"
        out.append(
            f'<mark class="{cls}" tabindex="0" style="background:{colours.get(e.indicator, "#eee")}" '
            f'title="{html.escape(title)}" data-indicator="{html.escape(e.indicator)}">'
            f"{html.escape(text[e.start:e.end])}</mark>"
        )
        pos = e.end
    out.append(html.escape(text[pos:]))
    return "".join(out)


_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:1.5rem;max-width:70rem;color:#1f2937}
h1{font-size:1.4rem} .doc{border:1px solid #d1d5db;border-radius:6px;padding:1rem;margin:1rem 0}
.text{white-space:pre-wrap;background:#fafafa;padding:.75rem;border-radius:4px;max-height:30rem;overflow:auto}
mark.hit{padding:0 2px;border-radius:3px} mark.muted{background:#e5e7eb!important;text-decoration:line-through}
mark:focus{outline:2px solid #111} .verdict-high{color:#b91c1c} .verdict-review{color:#b45309}
.legend span{display:inline-block;margin:.15rem .4rem;padding:0 .4rem;border-radius:3px}
table{border-collapse:collapse} td,th{border:1px solid #d1d5db;padding:.25rem .5rem;text-align:left}
"""


class HtmlWriter:
    """A self-contained HTML report: summary counts, then each document with highlighted evidence.

    Without the document text (``include_text`` off) the report lists evidence snippets only.
    """

    def __init__(self, out: IO[str], taxonomy_names: dict[str, str], include_text: bool = False) -> None:
        self.out = out
        self.names = taxonomy_names
        self.colours = {iid: PALETTE[n % len(PALETTE)] for n, iid in enumerate(taxonomy_names)}
        self.include_text = include_text
        self.parts: list[str] = []
        self.verdicts: Counter[str] = Counter()
        self.indicators: Counter[str] = Counter()

    def write(self, result: ScreeningResult) -> None:
        """Add one document section."""
        self.verdicts[result.verdict or "error"] += 1
        self.indicators.update(i.id for i in result.indicators)
        esc = html.escape
        if result.error:
            self.parts.append(f'<section class="doc"><h2>{esc(result.id)}</h2><p>Could not be screened: '
                              f'{esc(result.error["code"])}: {esc(result.error["message"])}</p></section>')
            return
        found = ", ".join(f"{i.id} {esc(i.name)}" for i in result.indicators) or "none"
        body = [f'<section class="doc"><h2>{esc(result.id)}</h2>',
                f'<p>Verdict: <strong class="verdict-{result.verdict}">{result.verdict}</strong> '
                f"(score {result.score or 0:.2f}). Indicators present: {found}.</p>"]
        if self.include_text and result.text is not None:
            body.append(f'<div class="text">{highlight_html(result.text, result.evidence, self.colours)}</div>')
        if result.evidence:
            body.append("<table><tr><th>indicator</th><th>words</th><th>rule</th><th>status</th><th>source</th></tr>")
            for e in result.evidence:
                body.append(f"<tr><td>{esc(e.indicator)}</td><td>{esc(_clip(e.text, 120))}</td><td>{esc(e.rule)}</td>"
                            f"<td>{esc(e.assertion)}</td><td>{esc(e.source)}</td></tr>")
            body.append("</table>")
        body.append("</section>")
        self.parts.append("".join(body))

    def close(self) -> None:
        """Write the whole page."""
        esc = html.escape
        legend = "".join(f'<span style="background:{self.colours[i]}">{esc(i)} {esc(n)}</span>'
                         for i, n in self.names.items())
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.verdicts.items()))
        inds = ", ".join(f"{k} ({v})" for k, v in self.indicators.most_common()) or "none"
        self.out.write(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f'content="width=device-width,initial-scale=1"><title>Screening report</title><style>{_CSS}</style>'
            f"</head><body><h1>Screening report</h1><p>Documents by verdict: {esc(counts)}.</p>"
            f"<p>Indicators present (documents): {esc(inds)}.</p>"
            f"<p>Indicators present are prompts for a person to review, not findings of forced labour or "
            f"trafficking. Struck-through marks are negated, policy, hypothetical or remediated mentions, or rule "
            f"matches the model does not support, that do not count.</p>"
            f"<p class=legend>{legend}</p>{''.join(self.parts)}</body></html>\n"
        )
        self.out.flush()


def make_writer(fmt: str, out: IO[str], taxonomy_names: dict[str, str], include_text: bool = False) -> Any:
    """A writer for ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "jsonl":
        return JsonlWriter(out, include_text)
    if fmt == "csv":
        return CsvWriter(out)
    if fmt == "html":
        return HtmlWriter(out, taxonomy_names, include_text)
    if fmt == "table":
        return TableWriter(out)
    raise ValueError(f"unknown format {fmt!r}")
