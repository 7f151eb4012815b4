"""The corpus: finding article files in a folder and reading each into an `Article`.

Reading is split in two so that an unchanged corpus costs almost nothing to check:
`scan_corpus` lists the files and hashes their bytes; `read_article` parses one file, and is
only called for files whose hash the index does not already know.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from index.articles.extraction import ExtractionRefused, extract
from index.articles.text import Span, is_markup, paragraphs, words
from index.config import IndexConfig
from index.errors import CorpusError
from index.types import SkippedFile

SUFFIXES = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
            ".html": "html", ".htm": "html", ".pdf": "pdf"}
# Kinds whose text is extracted from the file: citation offsets refer to the extracted text, which
# the index keeps (the file itself is never rewritten).
EXTRACTED = frozenset({"html", "pdf"})
# Bumped whenever reading changes what an article's text or paragraphs are, so that old
# index entries are re-read rather than trusted.
READER_VERSION = 1
# In a server's own index, the shared corpus's articles are named by their path under this folder
# name; a folder of that name at the top of the server's own corpus is left out (and reported),
# so the two can never be confused.
SHARED_PREFIX = "shared/"


class ArticleSkipped(Exception):
    """Raised by `read_article` for a file that cannot be indexed; the message says why."""


@dataclass(frozen=True)
class CorpusFile:
    """One candidate article file, with the hash of its bytes."""

    source: str  # path relative to the corpus folder, with forward slashes
    location: Path | str  # where it is (a scan gives a string: a Path per file cost more than the rest of a scan)
    sha256: str
    data: bytes | None  # None: not read, the index's record of the file vouched for its hash (`Seen`)
    seen: Seen | None = None  # the file as the scan found it, for the index to record

    @property
    def path(self) -> Path:
        """Where the file is."""
        return self.location if isinstance(self.location, Path) else Path(self.location)


class Seen(NamedTuple):
    """A file's size and modification time as a scan found them, and when (all in nanoseconds but the size).

    A later scan that finds the same size and modification time trusts the hash recorded with them
    instead of reading the file again, if the file was last modified over a second before that scan
    saw it (a file changed within the same clock tick as it was read keeps its modification time:
    such a file is always read again, as git does with its index).
    """

    size: int
    mtime_ns: int
    seen_ns: int

    def vouches_for(self, found: os.stat_result) -> bool:
        """Whether a file found with `found` is, byte for byte, the file this record was made of."""
        return (stat.S_ISREG(found.st_mode) and found.st_size == self.size and found.st_mtime_ns == self.mtime_ns
                and self.mtime_ns < self.seen_ns - _RACY_NS)


# A file modified less than this before a scan read it is read again by the next scan.
_RACY_NS = 1_000_000_000


def file_bytes(file: CorpusFile) -> bytes:
    """The file's bytes: those the scan read, or read now for a file the index vouched for."""
    if file.data is not None:
        return file.data
    return _read_regular(file.path, -1)


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of prose: its span in the article text and its number as readers count them."""

    span: Span
    number: int


@dataclass(frozen=True)
class Article:
    """An article as indexed: its text (what quotes refer to), metadata and prose paragraphs."""

    source: str
    sha256: str
    text: str
    title: str
    url: str | None
    date: str | None
    author: str | None
    paragraphs: tuple[Paragraph, ...]
    warning: str | None = None


def scan_corpus(root: Path, *, max_bytes: int, known: Mapping[str, tuple[Seen, str]] | None = None
                ) -> tuple[list[CorpusFile], list[SkippedFile]]:
    """List the article files below `root` (recursively, never following links out of it).

    `known` holds, by source, how the index last saw each file and its hash then: a file that
    record vouches for (`Seen.vouches_for`) is not read again. At a hundred thousand files, reading
    and hashing them all took most of the time of a build that changes one.
    """
    if not root.exists():
        raise CorpusError(f"corpus folder {root} does not exist; "
                          "create it and put articles (.txt, .md, .html, .pdf) in it")
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a folder")
    root = root.resolve()
    files: list[CorpusFile] = []
    skipped: list[SkippedFile] = []
    for source, path, entry in _entries(root):
        found = _found(source, path, entry, max_bytes=max_bytes, known=known)
        if isinstance(found, CorpusFile):
            files.append(found)
        else:
            skipped.append(found)
    return files, skipped


def read_file(source: str, path: Path | str, *, max_bytes: int) -> CorpusFile | SkippedFile | None:
    """One file of the corpus, as a scan finds it: read and hashed, or skipped and why; None when it is not there."""
    try:
        return _found(source, str(path), None, max_bytes=max_bytes)
    except FileNotFoundError:
        return None


def _found(source: str, path: str, entry: os.DirEntry[str] | None, *, max_bytes: int,
           known: Mapping[str, tuple[Seen, str]] | None = None) -> CorpusFile | SkippedFile:
    """A file a scan found: read and hashed (unless `known` vouches for it), or skipped and why.

    Raises FileNotFoundError when it is gone (only without `entry`: a listed file that is gone is skipped).
    """
    if not _is_utf8(source):  # the manifest and every message are UTF-8: such a name cannot be kept
        return SkippedFile(_printable(source), "its name is not valid UTF-8; rename the file")
    try:
        found = entry.stat(follow_symlinks=False) if entry is not None else os.lstat(path)
    except FileNotFoundError:
        if entry is None:
            raise
        return SkippedFile(source, "cannot be read: it was removed while the folder was read")
    except OSError as e:
        return SkippedFile(source, f"cannot be read: {e.strerror or e}")
    if stat.S_ISLNK(found.st_mode):
        return SkippedFile(source, "symbolic link (links are never followed)")
    record = known.get(source) if known else None
    if record is not None and record[0].vouches_for(found):
        return CorpusFile(source, path, record[1], None, record[0])
    seen = Seen(found.st_size, found.st_mtime_ns, time.time_ns())
    try:
        data = _read_regular(path, max_bytes + 1)
    except _NotAFile as e:
        return SkippedFile(source, f"{e}, not a regular file, so it is not read")
    except OSError as e:
        return SkippedFile(source, f"cannot be read: {e.strerror or e}")
    if len(data) > max_bytes:
        limit = f"{max_bytes / 1_000_000:g} MB"
        return SkippedFile(source, f"larger than the {limit} limit (index.max_file_mb)")
    return CorpusFile(source, path, hashlib.sha256(data).hexdigest(), data, seen)


def _entries(root: Path) -> Iterator[tuple[str, str, os.DirEntry[str]]]:
    """The article files below `root` as (source, path, entry): each folder's files by name, then its folders.

    Hidden files and folders are left out, and links to folders are not followed. Written with
    os.scandir and strings: with os.walk and pathlib, listing 33,000 files took 1.5 s.
    """
    folders: list[tuple[str, str]] = [("", str(root))]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as scanning:
            entries = sorted(scanning, key=lambda e: e.name)
        below = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                below.append((f"{prefix}{name}/", entry.path))
            elif name[name.rfind("."):].lower() in SUFFIXES:  # not os.path.splitext: a third of a scan's time
                yield prefix + name, entry.path, entry
        folders.extend(reversed(below))


def scan_sources(config: IndexConfig, known: Mapping[str, tuple[Seen, str]] | None = None
                 ) -> tuple[list[CorpusFile], list[SkippedFile]]:
    """The article files an index is built from: the corpus folder's, and for a server that sees the
    shared corpus, the shared folder's too (the file's index.corpus_dir), named under SHARED_PREFIX.

    A server's own folder that does not exist yet is then an empty one (/add creates it). `known`:
    the index's records of the files, by source (see `scan_corpus`).
    """
    max_bytes = int(config.max_file_mb * 1_000_000)
    shared = config.shared_corpus_dir
    if shared is None:
        return scan_corpus(config.corpus_dir, max_bytes=max_bytes, known=known)
    files: list[CorpusFile] = []
    skipped: list[SkippedFile] = []
    if config.corpus_dir.exists():
        files, skipped = scan_corpus(config.corpus_dir, max_bytes=max_bytes, known=known)
        reserved = sum(f.source.startswith(SHARED_PREFIX) for f in files)
        reserved += sum(s.source.startswith(SHARED_PREFIX) for s in skipped)
        files = [f for f in files if not f.source.startswith(SHARED_PREFIX)]
        skipped = [s for s in skipped if not s.source.startswith(SHARED_PREFIX)]
        if reserved:
            skipped.append(SkippedFile(SHARED_PREFIX, f"{reserved} file(s) of this server's own folder named "
                                       f"{SHARED_PREFIX.rstrip('/')}, the name its index gives the shared "
                                       "articles: rename the folder"))
    shared_known = {s.removeprefix(SHARED_PREFIX): r for s, r in (known or {}).items() if s.startswith(SHARED_PREFIX)}
    shared_files, shared_skipped = scan_corpus(shared, max_bytes=max_bytes, known=shared_known)
    files += [CorpusFile(SHARED_PREFIX + f.source, f.location, f.sha256, f.data, f.seen) for f in shared_files]
    skipped += [SkippedFile(SHARED_PREFIX + s.source, s.reason, s.sha256) for s in shared_skipped]
    return files, skipped


def is_shared(config: IndexConfig, source: str) -> bool:
    """Whether a source names one of the shared articles in a server's index (never in the shared index itself)."""
    return config.shared_corpus_dir is not None and source.startswith(SHARED_PREFIX)


def locations(config: IndexConfig) -> Callable[[str], str]:
    """`article_path` as a function giving strings, made without pathlib (a build may name every indexed file)."""
    own = str(config.corpus_dir.resolve())
    shared = str(config.shared_corpus_dir.resolve()) if config.shared_corpus_dir is not None else None

    def location(source: str) -> str:
        if shared is not None and source.startswith(SHARED_PREFIX):
            return f"{shared}/{source.removeprefix(SHARED_PREFIX)}"
        return f"{own}/{source}"

    return location


def article_path(config: IndexConfig, source: str) -> Path:
    """The file an indexed source names: in the shared folder for a server's shared article, else in corpus_dir."""
    if config.shared_corpus_dir is not None and is_shared(config, source):
        return config.shared_corpus_dir / source.removeprefix(SHARED_PREFIX)
    return config.corpus_dir / source


class _NotAFile(Exception):
    """A corpus entry that is not a regular file (a named pipe, a device, a socket); the message says which."""


def _read_regular(path: Path | str, limit: int) -> bytes:
    """Up to `limit` bytes of a regular file (-1: all of it), never following a link; raises _NotAFile for
    anything else.

    The file is opened without blocking and checked once open: opening a named pipe (mkfifo) to read
    waits for a writer forever, and checking before opening would leave a moment to swap the file.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb") as f:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kinds = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                     (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
            raise _NotAFile(next((kind for test, kind in kinds if test(mode)), "an unknown kind"))
        return f.read(limit)


def _is_utf8(name: str) -> bool:
    """Whether a name read from the file system is valid UTF-8 (Python keeps other bytes as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(name: str) -> str:
    """A file name whatever its bytes, with those that are not UTF-8 written as backslash escapes (bad\\xffname)."""
    return os.fsencode(name).decode("utf-8", errors="backslashreplace")


def read_article(file: CorpusFile, *, isolated: bool = False) -> Article:
    """Parse one file into an Article, or raise ArticleSkipped saying why it cannot be indexed.

    `isolated`: extract an HTML file's text in a child process with limits (index/articles/extraction.py).
    """
    kind = SUFFIXES[file.path.suffix.lower()]
    data = file_bytes(file)
    if not data.strip():
        raise ArticleSkipped("empty file")
    meta: dict[str, str] = {}
    warning = None
    if kind == "pdf":
        text, meta = _extract_pdf(data)
    elif b"\x00" in data[:8192]:
        raise ArticleSkipped("binary file (it contains NUL bytes), not text")
    else:
        text, warning = decode(data)
        odd = _odd_share(text)
        if odd > MAX_ODD_SHARE:
            raise ArticleSkipped(f"binary file, not text ({odd:.0%} of its characters are control codes or "
                                 "bytes no text encoding gives)")
    body = Span(0, len(text))
    if kind == "html":
        text, meta = _extract_html(text, isolated=isolated)
        body = Span(0, len(text))
    elif kind == "markdown":
        meta, body = front_matter(text)
    spans = [s for s in paragraphs(text[: body.end]) if s.start >= body.start]
    kept = _prose_paragraphs(text, spans)
    if not kept:
        raise ArticleSkipped("no readable text in it")
    title = meta.get("title") or _markdown_title(text, kept) if kind == "markdown" else meta.get("title")
    title = title or detect_title(text, kept) or _title_from_name(file.source)
    return Article(
        source=file.source, sha256=file.sha256, text=text, title=title.strip(),
        url=meta.get("url") or None, date=meta.get("date") or None, author=meta.get("author") or None,
        paragraphs=tuple(kept), warning=warning,
    )


# Text holds almost no control codes; bytes of a picture or an archive, read as Windows-1252, hold
# about one in eight (random bytes: 13 %). Above this share a file is taken for binary.
MAX_ODD_SHARE = 0.02
_ODD_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})  # control, lone surrogate, private use, unassigned


def _odd_share(text: str) -> float:
    """The share of a text's first 64k characters that are control codes (other than line and tab ones),
    undecodable bytes (U+FFFD) or code points no text uses."""
    sample = text[:65_536]
    if not sample:
        return 0.0
    odd = sum(1 for c in sample if c == "\ufffd" or (unicodedata.category(c) in _ODD_CATEGORIES
                                                      and c not in "\t\n\r\f\v"))
    return odd / len(sample)


def is_extracted(suffix: str) -> bool:
    """Whether a file with this suffix is indexed by text extracted from it (HTML, PDF) rather than its own text."""
    return SUFFIXES.get(suffix.lower()) in EXTRACTED


def decode(data: bytes) -> tuple[str, str | None]:
    """Decode file bytes: UTF-8 (with or without BOM), else Windows-1252 with a warning."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "not valid UTF-8; read as Windows-1252"


def _prose_paragraphs(text: str, spans: list[Span]) -> list[Paragraph]:
    """Drop markup-only paragraphs and verbatim repeats; number what is left."""
    seen: set[str] = set()
    kept: list[Paragraph] = []
    for span in spans:
        chunk = text[span.start:span.end]
        if is_markup(chunk) or not words(chunk):
            continue
        key = " ".join(words(chunk))
        if key in seen:
            continue
        seen.add(key)
        kept.append(Paragraph(span, len(kept) + 1))
    return kept


def detect_title(text: str, paras: list[Paragraph]) -> str | None:
    """Guess a plain-text article's title: a short heading-like line near the top, preferring a repeated one."""
    candidates = []
    for p in paras[:6]:
        line = text[p.span.start:p.span.end].lstrip("#").strip()
        if "\n" in line or len(line) > 150 or len(words(line)) > 20 or line.endswith((".", "?", "!", ",", ";")):
            continue
        candidates.append(line)
    if not candidates:
        return None
    body = text.lower()
    repeated = [c for c in candidates if body.count(c.lower()) > 1]
    return (repeated or candidates)[0]


def _markdown_title(text: str, paras: list[Paragraph]) -> str | None:
    for p in paras[:6]:
        line = text[p.span.start:p.span.end]
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _title_from_name(source: str) -> str:
    stem = PurePosixPath(source).stem
    return re.sub(r"[-_]+", " ", stem).strip().capitalize() or source


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


def front_matter(text: str) -> tuple[dict[str, str], Span]:
    """Read simple `key: value` front matter; the body starts after it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, Span(0, len(text))
    meta = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip().strip("\"'")
    if "link" in meta and "url" not in meta:
        meta["url"] = meta["link"]
    return meta, Span(match.end(), len(text))


def _extract_html(html: str, *, isolated: bool) -> tuple[str, dict[str, str]]:
    """The main text of a page (no scripts, styles, navigation) and its title, canonical URL, date and author."""
    try:
        document = extract(html, isolated=isolated)
    except ExtractionRefused as e:
        raise ArticleSkipped(str(e)) from None
    text = document.get("text", "")
    if not text.strip():
        raise ArticleSkipped("no article text found in the HTML page")
    meta = {name: document[name] for name in ("title", "url", "date", "author") if document.get(name)}
    return text, meta


def _extract_pdf(data: bytes) -> tuple[str, dict[str, str]]:
    """The text of a PDF's pages (a blank line between pages) and its title and author, with pypdf.

    Only text the PDF holds as text is read: a scanned page is a picture, and is refused as such.
    """
    import pypdf  # imported here: only PDF articles pay for it
    from pypdf.errors import PyPdfError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ArticleSkipped("the PDF is protected by a password")
        pages = [_reflow(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata
    except ArticleSkipped:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as e:
        raise ArticleSkipped(f"not a readable PDF ({e})") from None
    text = "\n\n".join(page for page in pages if page)
    if not words(text):
        raise ArticleSkipped("the PDF holds no text (a scan? pictures of text are not read)")
    meta = {}
    if info is not None:
        meta = {name: str(value).strip() for name, value in (("title", info.title), ("author", info.author))
                if value and str(value).strip()}
    return text, meta


def _reflow(page: str) -> str:
    """A page's lines as paragraphs: a PDF breaks lines where the page is full, not where sentences end.

    A line runs on into the next unless it is short (under 85 % of the page's usual line: a
    paragraph's last line, a heading) and the next one starts like a new paragraph; a blank line
    always ends one. Hyphens at a line's end are kept, since a PDF does not say which are soft.
    """
    lines = [line.strip() for line in page.splitlines()]
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return ""
    usual = lengths[(len(lengths) * 3) // 4]
    paragraphs: list[str] = []
    current = previous = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if current and len(previous) < 0.85 * usual and (line[0].isupper() or line[0].isdigit()
                                                          or line[0] in "\"'“‘•-–(["):
            paragraphs.append(current)
            current = ""
        if not current:
            current = line
        elif current.endswith("-") and current[-2:-1].isalpha():
            current += line
        else:
            current += " " + line
        previous = line
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)
