"""Ingest: files, folders, CSV/JSONL rows and stdin become plain-text documents with an id.

Every reader yields :class:`Document` records lazily. A source that cannot be read yields a
Document whose ``error`` is set, so a batch always goes on and reports the failure in its place.
Evidence offsets refer to ``Document.text``, the extracted plain text.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .errors import (
    DocumentTimeoutError,
    DocumentTooLargeError,
    EmptyDocumentError,
    IngestError,
    ScreeningError,
    UnsupportedFormatError,
)
from .settings import Settings, get_settings

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
TABLE_SUFFIXES = {".csv", ".jsonl", ".ndjson"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | TABLE_SUFFIXES | {".pdf", ".docx"}
FORMATS = ("txt", "html", "pdf", "docx", "csv", "jsonl")
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# EMSCAD-style exports: the columns joined into one ad when no --text-field is given.
AD_COLUMNS = ("title", "company_profile", "description", "requirements", "benefits")
_BLOCK_TAGS = (
    "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "section", "article", "blockquote", "pre", "dd", "dt", "hr", "main", "aside", "figcaption",
)
_DROP_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "svg", "iframe", "head")
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass
class Document:
    """One document to screen: its id, its plain text, where it came from, or why it failed."""

    id: str
    text: str = ""
    source: str = ""
    error: ScreeningError | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id = clean_id(self.id)


def clean_id(value: str) -> str:
    r"""An id any UTF-8 output can hold: lone surrogates become backslash escapes, distinct ids stay distinct.

    They come from file names with bytes that are not UTF-8 and from ``\udc80``-style escapes in JSON.
    """
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes to text: UTF-8 (with or without BOM) first, then a detected encoding.

    Raises :class:`IngestError` for binary data (NUL bytes) or bytes no encoding explains.
    """
    if b"\x00" in data[:8192]:
        raise IngestError("binary content (NUL bytes); not a text document", code="binary")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    logging.getLogger("charset_normalizer").setLevel(logging.WARNING)

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise IngestError("text is not valid UTF-8 and no other encoding fits", code="undecodable")
    return str(best), str(best.encoding)


def normalise_text(text: str) -> str:
    """Unify line endings, drop NUL characters and turn lone surrogates (not Unicode text) into U+FFFD.

    Everything else is kept, so offsets stay honest.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return _SURROGATES.sub("\ufffd", text)


def html_to_text(markup: str, *, max_tags: int | None = None) -> str:
    """Visible text of an HTML page, without scripts, styles and navigation, one block per line.

    The parsed tree costs memory per tag, so a page with more than ``max_tags`` tags (setting
    ``max_html_tags``) is refused before parsing; the tree is walked once without recursion, so deep
    nesting costs linear time.
    """
    from bs4 import BeautifulSoup, CData, NavigableString, Tag
    from bs4.exceptions import ParserRejectedMarkup

    limit = get_settings().max_html_tags if max_tags is None else max_tags
    markup = _SURROGATES.sub("\ufffd", markup)  # lone surrogates are not text, and Beautiful Soup encodes it
    tags = markup.count("<")
    if tags > limit:
        raise DocumentTooLargeError(f"HTML has up to {tags} tags; the limit is {limit} (setting max_html_tags)")
    try:
        soup = BeautifulSoup(markup, "html.parser")
    except ParserRejectedMarkup:  # its message quotes the markup, which is document text
        raise IngestError("HTML cannot be parsed", code="unreadable_html") from None
    parts: list[str] = []
    stack: list[Any] = [soup]
    while stack:
        node = stack.pop()
        if node is None:  # the end of a block element
            parts.append("\n")
        elif isinstance(node, Tag):
            if node.name in _DROP_TAGS:
                continue
            if node.name in _BLOCK_TAGS:
                parts.append("\n")
                stack.append(None)
            stack.extend(reversed(node.contents))
        elif type(node) in (NavigableString, CData):  # not comments, doctypes or script text
            parts.append(str(node))
    lines = (" ".join(line.split()) for line in "".join(parts).splitlines())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def pdf_to_text(data: bytes, *, max_pages: int | None = None, deadline: float | None = None) -> str:
    """Text of every page of a PDF, pages separated by a blank line.

    More than ``max_pages`` pages (setting ``max_pdf_pages``), or pypdf's own limits on page trees and
    decompressed streams, give ``too_large``; ``deadline`` (a ``time.monotonic()`` value) gives
    ``timeout``, checked between pages.
    """
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    # pypdf's warnings about malformed files quote the file's first bytes, which are document content.
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise IngestError("PDF is encrypted", code="unreadable_pdf")
        limit = get_settings().max_pdf_pages if max_pages is None else max_pages
        n = len(reader.pages)
        if n > limit:
            raise DocumentTooLargeError(f"PDF has {n} pages; the limit is {limit} (setting max_pdf_pages)")
        pages = []
        for page in reader.pages:
            if deadline is not None and time.monotonic() > deadline:
                raise DocumentTimeoutError("reading the PDF took too long (setting max_seconds)")
            pages.append(page.extract_text() or "")
    except ScreeningError:
        raise
    except LimitReachedError:
        raise DocumentTooLargeError("PDF exceeds pypdf's limits on page trees or decompressed streams") from None
    except Exception as exc:  # pypdf raises many types on malformed files, and its messages can quote them
        raise IngestError(f"PDF cannot be read ({exc.__class__.__name__})", code="unreadable_pdf") from None
    return "\n\n".join(p.strip() for p in pages if p.strip())


def docx_to_text(data: bytes, *, max_unpacked_bytes: int | None = None) -> str:
    """Text of a DOCX: paragraphs, then table cells row by row.

    A DOCX is a zip: parts whose declared sizes add up to more than ``max_unpacked_bytes`` (setting) are
    refused before anything is inflated. zipfile never inflates a member past its declared size, so a
    zip that lies about its sizes is bounded too.
    """
    import zipfile

    limit = get_settings().max_unpacked_bytes if max_unpacked_bytes is None else max_unpacked_bytes
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > limit:
            raise DocumentTooLargeError(
                f"DOCX unpacks to {unpacked} bytes; the limit is {limit} (setting max_unpacked_bytes)")
        from docx import Document as Docx

        d = Docx(io.BytesIO(data))
        parts = [p.text for p in d.paragraphs]
        for table in d.tables:
            for row in table.rows:
                parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    except ScreeningError:
        raise
    except Exception as exc:  # zipfile, python-docx and lxml errors; lxml's messages can quote the XML
        raise IngestError(f"DOCX cannot be read ({exc.__class__.__name__})", code="unreadable_docx") from None
    return "\n".join(p for p in parts if p.strip())


def format_of(name: str) -> str:
    """The ingest format of a file name, from its suffix."""
    suffix = Path(name).suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "txt"
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".pdf", ".docx"):
        return suffix[1:]
    raise UnsupportedFormatError(
        f"unsupported file type {suffix or '(none)'!r}; readable: {', '.join(sorted(SUFFIXES))}"
    )


def bytes_to_text(data: bytes, fmt: str, *, settings: Settings | None = None) -> str:
    """Extract plain text from one whole document's bytes (txt, html, pdf or docx), within the limits."""
    s = settings or get_settings()
    if fmt == "pdf":
        text = pdf_to_text(data, max_pages=s.max_pdf_pages, deadline=time.monotonic() + s.max_seconds)
    elif fmt == "docx":
        text = docx_to_text(data, max_unpacked_bytes=s.max_unpacked_bytes)
    elif fmt == "html":
        text = html_to_text(decode_text(data)[0], max_tags=s.max_html_tags)
    elif fmt == "txt":
        text = decode_text(data)[0]
    else:
        raise UnsupportedFormatError(f"format {fmt!r} holds many documents; read it as a table")
    text = normalise_text(text)
    if not text.strip():
        raise EmptyDocumentError("document has no text")
    if len(text) > s.max_chars:
        raise DocumentTooLargeError(
            f"extracted text is {len(text)} characters; the limit is {s.max_chars} (setting max_chars)")
    return text


@dataclass
class TableOptions:
    """How to read CSV/JSONL rows: which fields hold the text and the id."""

    text_fields: Sequence[str] = ()
    id_field: str | None = None


def _row_text(row: dict[str, Any], fields: Sequence[str], where: str, max_chars: int) -> str:
    missing = [f for f in fields if f not in row]
    if missing:
        raise IngestError(f"{where}: no field {missing[0]!r} (fields: {', '.join(map(str, row))})", code="no_text_field")
    parts = [p for p in (normalise_text(str(row[f])).strip() for f in fields if row[f] is not None) if p]
    if not parts:  # checked after normalising: a field of NULs is empty too
        raise EmptyDocumentError(f"{where}: text fields are empty")
    text = "\n\n".join(parts)
    if len(text) > max_chars:
        raise DocumentTooLargeError(f"{where}: text is {len(text)} characters; the limit is {max_chars} "
                                    "(setting max_chars)")
    return text


class _BoundedLines:
    """The lines of a text stream, none read past ``limit`` characters.

    A longer line is skipped to its end and raises :class:`DocumentTooLargeError`; unlike a generator,
    the iterator can be called again after that, so the rows after it are still read.
    """

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream = stream
        self.limit = limit

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = str(self.stream.readline(self.limit + 1))
        if not line:
            raise StopIteration
        if len(line) > self.limit:
            while line and not line.endswith(("\n", "\r")):
                line = str(self.stream.readline(1 << 20))
            raise DocumentTooLargeError(f"a line is longer than {self.limit} characters (setting max_chars)")
        return line


def _text_fields_for(columns: Sequence[str], opts: TableOptions, source: str) -> list[str]:
    if opts.text_fields:
        return list(opts.text_fields)
    if "text" in columns:
        return ["text"]
    if {"description", "title"} <= set(columns):
        return [c for c in AD_COLUMNS if c in columns]
    raise IngestError(
        f"{source}: no 'text' column; name the text column(s) with --text-field (columns: {', '.join(columns)})",
        code="no_text_field",
    )


def _rows_to_documents(
    rows: Iterator[tuple[int, dict[str, Any] | None, ScreeningError | None]],
    source: str,
    stem: str,
    opts: TableOptions,
) -> Iterator[Document]:
    fields: list[str] | None = None
    max_chars = get_settings().max_chars
    for n, row, err in rows:
        fallback_id = f"{stem}:{n}"
        if err is not None or row is None:
            yield Document(fallback_id, source=source, error=err)
            continue
        if fields is None:
            fields = _text_fields_for(list(row), opts, source)
        id_field = opts.id_field or ("id" if "id" in row else None)
        doc_id = str(row.get(id_field)) if id_field and row.get(id_field) not in (None, "") else fallback_id
        try:
            yield Document(doc_id, _row_text(row, fields, f"{source} row {n}", max_chars), source=source)
        except ScreeningError as exc:
            yield Document(doc_id, source=source, error=exc)


def read_csv(stream: io.TextIOBase | Any, source: str, opts: TableOptions) -> Iterator[Document]:
    """One document per CSV row, read lazily; no line or field is read past ``max_chars`` (setting)."""
    max_chars = get_settings().max_chars
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1, max_chars))
    reader = csv.DictReader(_BoundedLines(stream, max_chars))

    def rows() -> Iterator[tuple[int, dict[str, Any] | None, ScreeningError | None]]:
        n = 0
        while True:
            n += 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except DocumentTooLargeError as exc:
                yield n, None, DocumentTooLargeError(f"{source} row {n}: {exc.message}")
                continue
            except csv.Error as exc:
                code = "too_large" if "field limit" in str(exc) else "malformed_row"
                yield n, None, IngestError(f"{source} row {n}: malformed CSV: {exc}", code=code)
                continue
            yield n, dict(row), None

    yield from _rows_to_documents(rows(), source, Path(source).stem or "stdin", opts)


def read_jsonl(stream: io.TextIOBase | Any, source: str, opts: TableOptions) -> Iterator[Document]:
    """One document per JSON line, read lazily; blank lines are skipped, lines over ``max_chars`` refused."""
    lines = _BoundedLines(stream, get_settings().max_chars)

    def rows() -> Iterator[tuple[int, dict[str, Any] | None, ScreeningError | None]]:
        n = 0
        while True:
            n += 1
            try:
                line = next(lines)
            except StopIteration:
                return
            except DocumentTooLargeError as exc:
                yield n, None, DocumentTooLargeError(f"{source} line {n}: {exc.message}")
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, None, IngestError(f"{source} line {n}: invalid JSON: {exc.msg}", code="malformed_row")
                continue
            except (ValueError, RecursionError) as exc:  # nested too deeply, or an integer too long
                yield n, None, IngestError(f"{source} line {n}: invalid JSON ({exc.__class__.__name__})",
                                           code="malformed_row")
                continue
            if not isinstance(obj, dict):
                yield n, None, IngestError(f"{source} line {n}: expected a JSON object", code="malformed_row")
                continue
            yield n, obj, None

    yield from _rows_to_documents(rows(), source, Path(source).stem or "stdin", opts)


def _open_text(path: Path) -> io.TextIOWrapper:
    with path.open("rb") as f:
        head = f.read(65536)
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the end of the sample
            encoding = decode_text(head)[1]
    return open(path, encoding=encoding, errors="replace", newline="")


def read_path(
    path: Path, opts: TableOptions, *, max_bytes: int = DEFAULT_MAX_BYTES, follow_symlinks: bool = False,
    root: Path | None = None,
) -> Iterator[Document]:
    """Documents from one file or, recursively and in sorted order, from a folder."""
    if path.is_dir():
        base = root or path
        for child in sorted(path.rglob("*")):
            if child.is_symlink() and not follow_symlinks:
                yield Document(str(child.relative_to(base)), source=str(child), error=IngestError(
                    "symbolic link not followed (use --follow-symlinks to read it)", code="symlink"))
                continue
            if child.is_file() and child.suffix.lower() in SUFFIXES:
                yield from read_path(child, opts, max_bytes=max_bytes, follow_symlinks=follow_symlinks, root=base)
        return
    doc_id = str(path.relative_to(root)) if root else str(path)
    try:
        fmt = format_of(path.name)
        size = path.stat().st_size
    except FileNotFoundError:
        yield Document(doc_id, source=str(path), error=IngestError("no such file", code="not_found"))
        return
    except ScreeningError as exc:
        yield Document(doc_id, source=str(path), error=exc)
        return
    except OSError as exc:
        yield Document(doc_id, source=str(path), error=IngestError(f"cannot read: {exc.strerror}", code="unreadable"))
        return
    if fmt in ("csv", "jsonl"):
        try:
            with _open_text(path) as stream:
                reader = read_csv if fmt == "csv" else read_jsonl
                yield from reader(stream, str(path), opts)
        except ScreeningError as exc:
            yield Document(doc_id, source=str(path), error=exc)
        except OSError as exc:
            yield Document(doc_id, source=str(path), error=IngestError(f"cannot read: {exc}", code="unreadable"))
        return
    if size > max_bytes:
        yield Document(doc_id, source=str(path), error=DocumentTooLargeError(
            f"file is {size} bytes; the limit is {max_bytes} (setting max_bytes)"))
        return
    try:
        data = path.read_bytes()
        yield Document(doc_id, bytes_to_text(data, fmt), source=str(path), meta={"format": fmt})
    except ScreeningError as exc:
        yield Document(doc_id, source=str(path), error=exc)
    except OSError as exc:
        yield Document(doc_id, source=str(path), error=IngestError(f"cannot read: {exc.strerror}", code="unreadable"))


def read_stream(stream: BinaryIO, fmt: str, opts: TableOptions, name: str = "stdin",
                max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Document]:
    """Documents from a binary stream such as stdin, in the given format."""
    if fmt in ("csv", "jsonl"):
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        reader = read_csv if fmt == "csv" else read_jsonl
        try:
            yield from reader(text, name, opts)
        except ScreeningError as exc:
            yield Document(name, source=name, error=exc)
        return
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        yield Document(name, source=name, error=DocumentTooLargeError(f"input exceeds {max_bytes} bytes"))
        return
    try:
        yield Document(name, bytes_to_text(data, fmt), source=name, meta={"format": fmt})
    except ScreeningError as exc:
        yield Document(name, source=name, error=exc)


def read_inputs(inputs: Sequence[str], opts: TableOptions, *, input_format: str | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES, follow_symlinks: bool = False) -> Iterator[Document]:
    """Documents from every input in order: paths, folders, or ``-`` for standard input."""
    for item in inputs:
        if item == "-":
            yield from read_stream(sys.stdin.buffer, input_format or "txt", opts, max_bytes=max_bytes)
            continue
        path = Path(item)
        if not path.exists() and not path.is_symlink():
            yield Document(item, source=item, error=IngestError(f"{item}: no such file or folder", code="not_found"))
            continue
        yield from read_path(path, opts, max_bytes=max_bytes, follow_symlinks=follow_symlinks)
