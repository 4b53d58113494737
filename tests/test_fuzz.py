"""Property-based fuzzing of ingest and the engine (issue 8, part 1).

Properties, for arbitrary Unicode (combining marks, right-to-left text and bidi controls, zero-width
characters, NUL, lone surrogates escaped in JSON), very long tokens and lines, empty and
whitespace-only documents, and deeply nested or malformed HTML:

- no crash: a function either returns or raises a :class:`ScreeningError` subclass, nothing else;
- offsets: ``text[start:end] == evidence.text`` for every piece of evidence;
- the output is valid per the contract (``tests.helpers.assert_contract``) and encodes as UTF-8 JSON;
- the same input gives the same output.

Each property runs 10,000 cases under the default ``ci`` profile (see ``conftest_hypothesis.py``);
the engine properties use the small fixture taxonomy, and a tenth as many cases run against the
shipped profiles.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from screening.engine import Engine, split_chunks
from screening.errors import IngestError, ScreeningError
from screening.ingest import (
    Document,
    TableOptions,
    bytes_to_text,
    decode_text,
    html_to_text,
    normalise_text,
    read_csv,
    read_jsonl,
)
from screening.models.loading import default_engine
from screening.taxonomy import PROFILES

from .conftest_hypothesis import FUZZ, FUZZ_SHIPPED
from .helpers import assert_contract

# Short generated markup often looks like a file name to Beautiful Soup; the warning is beside the point here.
pytestmark = pytest.mark.filterwarnings("ignore::bs4.MarkupResemblesLocatorWarning")

# --- strategies ---------------------------------------------------------------------------------

COMBINING = "\u0300\u0301\u0308\u0327\u20d0\u0651\u05b8"
RTL = "\u05d0\u05d1\u05d2\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u0627\u0644\u0639\u0645\u0627\u0644"
BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
ODD_SPACE = "\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u00a0\u1680\u2000\u2007\u2028\u2029\u202f\u3000"
SURROGATES = "\ud800\udbff\udc00\udc80\udfff"
SPECIAL = COMBINING + RTL + BIDI + ZERO_WIDTH + ODD_SPACE + "\x00\x07\x1b\x7f\ufffd\U0001f600\U00010000"

# Words and phrases the fixture taxonomy reacts to, so that generated texts do raise evidence,
# with its assertion cues around them.
TRIGGERS = (
    "The agent keeps the workers' passports.", "passports kept by the employer", "passport retention",
    "passport is held", "confiscate", "no rest day", "No rest days", "whatsapp", "WhatsApp", "whats app",
    "keeps", "passports", "passport", "rest", "day",
)
CUES = ("no", "not", "never", "No evidence of", "was not found", "prohibit", "must not", "code of conduct",
        "will", "if", "risk of", "assess", "have been returned", "no longer", "but", "however", ";")

any_char = st.characters(exclude_categories=())  # every code point, lone surrogates included
unicode_text = st.text(any_char, max_size=60)
special_text = st.text(st.sampled_from(SPECIAL), min_size=1, max_size=12)
fragment = st.one_of(
    st.sampled_from(TRIGGERS), st.sampled_from(CUES), special_text, unicode_text,
    st.sampled_from((" ", "  ", "\n", "\r\n", "\n\n", ". ", "\t", "")),
)


@st.composite
def documents(draw: Any, with_surrogates: bool = True) -> str:
    """A document: trigger phrases, assertion cues and odd characters, joined in any order."""
    parts = draw(st.lists(fragment, max_size=24))
    sep = draw(st.sampled_from(("", " ", "\n", "\u200b", "\u202e", "\u0301 ")))
    text = sep.join(parts)
    return text if with_surrogates else normalise_text(text)


@st.composite
def long_documents(draw: Any) -> str:
    """A very long token or line (a unit repeated, no break) inside a document."""
    unit = draw(st.one_of(st.sampled_from(("x", "passport", "ab\u0301", "\u05d0", "no rest day ", "\u200b")),
                          st.text(st.sampled_from(SPECIAL), min_size=1, max_size=4).map(normalise_text)))
    around = draw(documents(with_surrogates=False))
    return around + unit * draw(st.integers(20, 100)) + around


BLOCK = ("p", "div", "li", "ul", "td", "tr", "table", "h1", "section", "article", "blockquote", "pre", "main")
INLINE = ("span", "b", "i", "a", "em", "strong", "font", "u")
DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "svg", "iframe")
HIDDEN = "HIDDENSENTINEL"
leaf_text = st.text(st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from(ZERO_WIDTH + BIDI), max_size=30)


def _tree(children: Any) -> Any:
    tag = st.sampled_from(BLOCK + INLINE)
    return st.builds(lambda t, kids: (t, kids), tag, st.lists(children, max_size=4))


html_trees = st.recursive(leaf_text, _tree, max_leaves=12)


def render(node: Any) -> str:
    """Markup of a generated tree; text is escaped, so it comes back unchanged."""
    if isinstance(node, str):
        return html.escape(node, quote=False)
    tag, kids = node
    return f"<{tag}>" + "".join(render(k) for k in kids) + f"</{tag}>"


def leaves(node: Any) -> list[str]:
    """The text leaves of a tree, in document order."""
    if isinstance(node, str):
        return [node]
    return [t for k in node[1] for t in leaves(k)]


MALFORMED = (
    "<", ">", "</", "<!", "<![", "<![ x", "<![CDATA[", "]]>", "<!--", "-->", "<!---", "<?xml", "<!DOCTYPE html",
    "<a href='", '<a href="', "<div", "</div", "<p/>", "<br>", "</br>", "<hr/>", "<script>", "</script>", "<style>",
    "<head>", "<body>", "</html>", "<table><tr><td>", "&", "&amp", "&#", "&#x;", "&#0;", "&#xd800;", "&#1114112;",
    "&nbsp;", "&lt;", "<<>>", "<\x00>", "<div\x00>", "<svg><script>", "<template><p>", "<nav><p>x</nav></p>",
)
markup = st.lists(
    st.one_of(st.sampled_from(MALFORMED), st.builds(render, st.recursive(leaf_text, _tree, max_leaves=6)),
              unicode_text, special_text), max_size=12,
).map("".join)

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1", "shift_jis", "koi8-r", "gb18030",
             "cp1256", "iso-8859-8")


@st.composite
def encoded_text(draw: Any) -> bytes:
    """Text encoded in a random encoding (what it cannot encode is replaced)."""
    text = draw(st.text(st.characters(exclude_categories=("Cs",)), max_size=120))
    return text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")


raw_bytes = st.one_of(st.binary(max_size=400), encoded_text(), st.builds(lambda t: t.encode("utf-8"), unicode_text.map(
    normalise_text)))


# --- helpers ------------------------------------------------------------------------------------

def no_crash(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a ScreeningError is an allowed outcome (returned), any other exception fails the test."""
    try:
        return fn(*args, **kwargs)
    except ScreeningError as exc:
        assert exc.code and isinstance(exc.message, str)
        return exc


def assert_clean_text(text: str) -> None:
    """Extracted text is what the engine may see: normalised, no surrogates, something to screen."""
    assert isinstance(text, str) and text.strip()
    assert "\r" not in text and "\x00" not in text
    assert not any("\ud800" <= ch <= "\udfff" for ch in text)


def assert_record(result: Any, text: str) -> dict[str, Any]:
    """The record is the contract's, its offsets point at ``text`` and it encodes as UTF-8 JSON."""
    record = result.to_dict(include_text=True)
    assert_contract(record, text)
    if record["error"] is None:
        assert record.get("text", text) == text
    json.dumps(record, ensure_ascii=False).encode("utf-8")
    return record


def screen_twice(engine: Engine, text: str) -> dict[str, Any] | ScreeningError:
    first = no_crash(engine.screen, text, "fuzz", include_text=True)
    if isinstance(first, ScreeningError):
        again = no_crash(engine.screen, text, "fuzz", include_text=True)
        assert isinstance(again, ScreeningError) and again.code == first.code
        return first
    record = assert_record(first, text)
    assert engine.screen(text, "fuzz", include_text=True).to_dict(include_text=True) == record
    return record


# --- ingest -------------------------------------------------------------------------------------

@FUZZ
@given(raw_bytes)
@example(b"\x00" * 10)
@example(b"\xff\xfe\x00\x00")
@example(b"\xef\xbb\xbf")
@example("caf\u00e9 na\u00efve \u2013 se\u00f1or".encode("cp1252"))
def test_decode_text_gives_text_or_an_ingest_error(data: bytes) -> None:
    out = no_crash(decode_text, data)
    if isinstance(out, ScreeningError):
        assert isinstance(out, IngestError) and out.code in ("binary", "undecodable")
        return
    text, encoding = out
    assert isinstance(text, str) and isinstance(encoding, str) and encoding
    assert decode_text(data) == out
    if b"\x00" not in data[:8192]:
        try:
            assert text == data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass  # not UTF-8: a detected encoding, checked above to be stable


@FUZZ
@given(raw_bytes, st.sampled_from(("txt", "html")))
@example(b"<![ x", "html")
@example(b"  \r\n\t ", "txt")
@example(b"a\x00b" + b" " * 9000 + b"c\x00", "txt")
def test_text_and_html_bytes_give_normalised_text_or_an_ingest_error(data: bytes, fmt: str) -> None:
    out = no_crash(bytes_to_text, data, fmt)
    if isinstance(out, ScreeningError):
        assert isinstance(out, IngestError)
        return
    assert_clean_text(out)
    assert bytes_to_text(data, fmt) == out


@FUZZ
@given(markup)
@example("<![ x")
@example("\ud800")
@example("<div>" * 500 + "deep" + "</div>" * 500)
@example("<p>a<div>b</p>c</div>")
@example("<script>x" + "<p>" * 50)
def test_any_markup_gives_clean_lines_or_an_ingest_error(page: str) -> None:
    out = no_crash(html_to_text, page)
    if isinstance(out, ScreeningError):
        assert isinstance(out, IngestError)
        return
    assert isinstance(out, str)
    assert out == out.strip() and "\n\n\n" not in out
    for line in out.split("\n"):
        assert line == " ".join(line.split())
    assert html_to_text(page) == out


@FUZZ
@given(html_trees, st.lists(st.tuples(st.sampled_from(DROP), st.integers(0, 3)), max_size=3))
def test_well_formed_html_keeps_every_visible_text_and_drops_hidden_parts(tree: Any, hidden: list) -> None:
    page = render(tree)
    for tag, depth in hidden:  # hidden parts, possibly nested in visible blocks
        page = "<div>" * depth + f"<{tag}><p>{HIDDEN}</p></{tag}>" + "</div>" * depth + page
    out = html_to_text(page)
    flat = " ".join(out.split())
    assert HIDDEN not in out
    position = 0
    for leaf in leaves(tree):
        words = " ".join(leaf.split())
        if words:
            found = flat.find(words, position)
            assert found >= 0, (words, flat)
            position = found  # visible text keeps its order


csv_value = st.one_of(unicode_text.map(normalise_text), special_text.map(normalise_text),
                      st.sampled_from(("", " ", "a,b", '"quoted"', "line\nbreak", "cr\rlf\r\n", "x\x00y", "\x00")))


@FUZZ
@given(st.lists(st.tuples(st.text(st.characters(exclude_categories=("Cs",)), max_size=8), csv_value), max_size=8))
def test_csv_rows_become_one_document_each_with_their_text(rows: list[tuple[str, str]]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["id", "text"])
    writer.writerows(rows)
    docs = list(read_csv(io.StringIO(buf.getvalue(), newline=""), "fuzz.csv", TableOptions()))
    assert len(docs) == len(rows)
    for n, ((doc_id, text), doc) in enumerate(zip(rows, docs, strict=True), 1):
        assert isinstance(doc, Document)
        assert doc.id == (doc_id if doc_id else f"fuzz:{n}")
        expected = normalise_text(text).strip()
        if doc.error is not None:
            assert isinstance(doc.error, ScreeningError) and doc.error.code == "empty_document"
            assert not expected.strip()
        else:
            assert doc.text == expected
            assert_clean_text(doc.text)


json_value = st.one_of(unicode_text, special_text, st.sampled_from(SURROGATES), st.integers(), st.none(),
                       st.booleans(), st.floats(allow_nan=False), st.lists(unicode_text, max_size=3))
bad_lines = st.sampled_from((
    "{", "[]", "null", '"text"', "{'text': 1}", '{"text": "a"', "\x00", "{" * 50_000, "[" * 100_000,
    '{"text": ' + "9" * 5_000 + "}", '{"text": 1e999}', '{"text": "\\ud800"', '{"text": "\\x41"}', "\ufeff{}",
))


@FUZZ
@given(st.lists(st.one_of(
    st.fixed_dictionaries({"id": st.one_of(unicode_text, st.integers()), "text": json_value}),
    st.fixed_dictionaries({"text": json_value}),
    bad_lines,
    unicode_text.map(normalise_text).map(lambda s: s.replace("\n", " ")),
), max_size=6), st.booleans())
@example([{"id": "\udc80", "text": "a \ud800 b passport retention"}], True)
@example([{"text": "\udfff" * 3}], True)
def test_jsonl_lines_become_documents_or_error_records(lines: list[Any], ascii_only: bool) -> None:
    def dump(obj: Any) -> str:
        if isinstance(obj, str):
            return obj
        return json.dumps(obj, ensure_ascii=True if ascii_only else False)

    body = "\n".join(dump(x) for x in lines) + "\n"
    if not ascii_only:
        body = normalise_text(body)  # a file holds UTF-8 bytes: raw lone surrogates cannot be in it
    docs = list(read_jsonl(io.StringIO(body, newline=""), "fuzz.jsonl", TableOptions()))
    assert len(docs) <= len(body.splitlines()) + 1
    for doc in docs:
        assert isinstance(doc, Document)
        doc.id.encode("utf-8")  # every id can be written out
        if doc.error is not None:
            assert isinstance(doc.error, ScreeningError)
        else:
            assert_clean_text(doc.text)


# --- engine -------------------------------------------------------------------------------------

@FUZZ
@given(documents())
@example("")
@example("   \n\t ")
@example("\x00")
@example("The agent keeps the workers' \ud800 passports.")
@example("\u202eThe agent keeps the workers' passports.\u202c No rest day \u200b whatsapp")
def test_engine_screens_any_text_with_honest_offsets_and_the_same_result_twice(mini_engine: Engine, text: str) -> None:
    out = screen_twice(mini_engine, text)
    clean = normalise_text(text)
    if isinstance(out, ScreeningError):
        assert out.code == "invalid_text"  # lone surrogates: not Unicode text
        assert clean != text
    if clean != text:  # what ingest hands the engine is always screened
        assert assert_record(mini_engine.screen(clean, "fuzz", include_text=True), clean)["error"] is None


@FUZZ
@given(long_documents())
@example("passport" * 20_000)
@example("x" * 300_000 + " keeps passports " + "\u0301" * 100_000)
def test_engine_screens_very_long_tokens_and_lines_with_honest_offsets(mini_engine: Engine, text: str) -> None:
    record = assert_record(mini_engine.screen(text, "fuzz", include_text=True), text)
    assert record["error"] is None


@FUZZ
@given(documents(with_surrogates=False), st.text(any_char, max_size=20))
def test_engine_document_path_never_raises_and_keeps_the_id(mini_engine: Engine, text: str, doc_id: str) -> None:
    result = mini_engine.screen_document(Document(doc_id, text), include_text=True)
    record = assert_record(result, text)
    assert record["error"] is None
    record["id"].encode("utf-8")  # an id from a file name or a JSON field can always be written out


@FUZZ
@given(st.text(st.sampled_from("ab \n.\u0301\u05d0"), max_size=400), st.integers(1, 60))
def test_chunks_cover_the_text_exactly_within_the_size(text: str, size: int) -> None:
    chunks = split_chunks(text, size)
    assert "".join(c for _, c in chunks) == text
    position = 0
    for offset, piece in chunks:
        assert offset == position and len(piece) <= size and (piece or not text)
        position += len(piece)


@pytest.fixture(scope="module", params=PROFILES)
def shipped_engine(request: pytest.FixtureRequest) -> Engine:
    """The engine ``screening scan`` builds for a shipped profile (with its shipped model when there is one)."""
    return default_engine(request.param)


@FUZZ_SHIPPED
@given(text=documents())
@example(text="The agent keeps the workers' passports and we pay no recruitment fee. WhatsApp only.")
def test_shipped_profiles_screen_any_text_with_honest_offsets(shipped_engine: Engine, text: str) -> None:
    screen_twice(shipped_engine, text)
    clean = normalise_text(text)
    if clean != text:
        assert assert_record(shipped_engine.screen(clean, "fuzz", include_text=True), clean)["error"] is None


def test_evidence_across_chunk_boundaries_keeps_exact_offsets(mini_engine: Engine) -> None:
    finding = "The agent keeps the workers' passports. No rest day. WhatsApp only."
    filler = "Inspection notes " * 6_000  # ~100,000 characters without a line break
    text = (filler + finding + " ") * 3 + "x" * 250_000 + finding
    result = mini_engine.screen(text, include_text=True)
    assert_record(result, text)
    assert len({e.start for e in result.evidence if e.indicator == "X01"}) == 4
