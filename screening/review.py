"""Reports from a finished run: a self-contained HTML summary and a Label Studio import file.

Both read the JSONL a ``screening scan`` wrote. The Label Studio export carries evidence as
pre-annotations so reviewers confirm or reject them; it needs the document text, so the scan must
have been run with ``--include-text``.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ScreeningError
from .report import PALETTE, highlight_html
from .results import Evidence


def read_results(path: Path) -> Iterator[dict[str, Any]]:
    """Result records from a JSONL file; a malformed line is a clear error naming the line."""
    try:
        f = path.open(encoding="utf-8")
    except OSError as exc:
        raise ScreeningError(f"{path}: cannot read: {exc.strerror}", code="unreadable") from None
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise ScreeningError(f"{path}:{n}: not a JSON result line", code="malformed_row") from None
            if not isinstance(record, dict) or "id" not in record:
                raise ScreeningError(f"{path}:{n}: not a screening result", code="malformed_row")
            yield record


def _bars(counts: Counter[str], title: str) -> str:
    if not counts:
        return f"<h2>{html.escape(title)}</h2><p>none</p>"
    top = max(counts.values())
    rows = []
    for n, (label, value) in enumerate(counts.most_common()):
        width = 100 * value / top
        rows.append(f'<div class="bar"><span class="label">{html.escape(label)}</span>'
                    f'<span class="fill" style="width:{width:.1f}%;background:{PALETTE[n % len(PALETTE)]}"></span>'
                    f'<span class="value">{value}</span></div>')
    return f"<h2>{html.escape(title)}</h2>" + "".join(rows)


_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:1.5rem;max-width:72rem;color:#1f2937}
.bar{display:flex;align-items:center;gap:.5rem;margin:.15rem 0}.label{width:14rem}.fill{height:1rem;border-radius:3px}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d1d5db;padding:.25rem .5rem;text-align:left;vertical-align:top}
mark{padding:0 2px;border-radius:3px}mark.muted{background:#e5e7eb!important;text-decoration:line-through}
.text{white-space:pre-wrap;background:#fafafa;padding:.5rem;max-height:16rem;overflow:auto}
input{padding:.3rem;width:20rem;max-width:100%}
"""
_JS = """
document.getElementById('filter').addEventListener('input', function (e) {
  var q = e.target.value.toLowerCase();
  document.querySelectorAll('#results tbody tr').forEach(function (tr) {
    tr.style.display = tr.textContent.toLowerCase().indexOf(q) === -1 ? 'none' : '';
  });
});
"""


def html_report(path: Path, top: int = 20) -> str:
    """A self-contained HTML summary of a results file: charts, top flagged documents, a filterable table."""
    records = list(read_results(path))
    verdicts = Counter(r.get("verdict") or "error" for r in records)
    indicators = Counter(i["id"] for r in records for i in r.get("indicators", []))
    ids = sorted(indicators)
    colours = {iid: PALETTE[n % len(PALETTE)] for n, iid in enumerate(ids)}
    flagged = sorted((r for r in records if r.get("verdict") in ("review", "high")), key=lambda r: -(r["score"] or 0))
    esc = html.escape
    parts = [f"<h2>Top {min(top, len(flagged))} flagged documents</h2>"]
    for r in flagged[:top]:
        found = ", ".join(f"{i['id']} {esc(i['name'])}" for i in r["indicators"]) or "none (model score only)"
        parts.append(f"<h3>{esc(str(r['id']))}: {r['verdict']} ({r['score']:.2f})</h3><p>Indicators present: {found}</p>")
        if r.get("text"):
            ev = [Evidence(**{k: e[k] for k in ("indicator", "rule", "start", "end", "text", "assertion", "source")})
                  for e in r["evidence"]]
            parts.append(f'<div class="text">{highlight_html(r["text"], ev, colours)}</div>')
        else:
            parts.append("<ul>" + "".join(f"<li>{esc(e['indicator'])} ({esc(e['assertion'])}, {esc(e['source'])}): "
                                          f"{esc(e['text'][:200])}</li>" for e in r["evidence"][:12]) + "</ul>")
    rows = "".join(
        f"<tr><td>{esc(str(r['id']))}</td><td>{r.get('verdict') or 'error'}</td>"
        f"<td>{_score(r.get('score'))}</td>"
        f"<td>{' '.join(i['id'] for i in r.get('indicators', []))}</td>"
        f"<td>{esc((r.get('error') or {}).get('code', ''))}</td></tr>"
        for r in records
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        f'content="width=device-width,initial-scale=1"><title>Screening summary</title><style>{_CSS}</style></head><body>'
        f"<h1>Screening summary: {len(records)} documents</h1>"
        "<p>Indicators present are prompts for a person to review, not findings of forced labour or trafficking.</p>"
        + _bars(verdicts, "Documents by verdict") + _bars(indicators, "Documents by indicator present")
        + "".join(parts)
        + '<h2>All documents</h2><label>Filter <input id="filter" type="search"></label>'
        "<table id=results><thead><tr><th>id</th><th>verdict</th><th>score</th><th>indicators</th><th>error</th></tr>"
        f"</thead><tbody>{rows}</tbody></table><script>{_JS}</script></body></html>\n"
    )


def _score(score: float | None) -> str:
    return "" if score is None else f"{score:.2f}"


def label_studio_tasks(path: Path) -> list[dict[str, Any]]:
    """Flagged documents as Label Studio import tasks with evidence as pre-annotations."""
    tasks = []
    for r in read_results(path):
        if r.get("verdict") not in ("review", "high"):
            continue
        if "text" not in r:
            raise ScreeningError(f"{path}: result {r['id']!r} has no text; scan with --include-text to export",
                                 code="no_text")
        result = [
            {"id": f"e{n}", "from_name": "indicator", "to_name": "text", "type": "labels",
             "value": {"start": e["start"], "end": e["end"], "text": e["text"], "labels": [e["indicator"]]},
             "meta": {"text": [f"{e['rule']} · {e['assertion']} · {e['source']}"]}}
            for n, e in enumerate(r["evidence"]) if e["assertion"] == "asserted" and e["indicator"] != "MODEL"
        ]
        tasks.append({"data": {"text": r["text"], "id": r["id"], "profile": r["profile"], "score": r["score"]},
                      "predictions": [{"model_version": (r.get("engine") or {}).get("model") or "rules",
                                       "score": r["score"], "result": result}]})
    return tasks
