"""Adding articles to the corpus folder, from links or files, and removing them, by path or URL.

The corpus folder stays the one source of truth: these functions only write or delete files in it,
and the caller then updates the index exactly as `articlebot index` does. Nothing is written until
the article has been fetched, extracted and read as the index will read it, so a refusal changes
nothing. Files appear whole: each is written to a hidden temporary file in the corpus folder (which
the index never reads) and then linked or renamed into place, under a name made only of word
characters and dashes, so it cannot land outside the folder or replace another article by accident.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from index.articles.corpus import (
    SUFFIXES,
    Article,
    ArticleSkipped,
    CorpusFile,
    decode,
    file_bytes,
    front_matter,
    is_extracted,
    is_shared,
    read_article,
    scan_sources,
)
from index.articles.extraction import ExtractionRefused, extract
from index.articles.fetch import Page, check_url, fetch_page, same_site
from index.articles.text import words
from index.config import Config
from index.errors import ArticlebotError, FetchError, IngestError
from index.store.postgres.database import live_manifest

# A page must hold at least this many words in lines of prose (six words or more) to be an
# article: what is left of a page of links, buttons and headings after extraction is not.
MIN_PROSE_WORDS = 30
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Addition:
    """What became of one link or file given to `add`.

    `outcome` is "added", "refreshed" (replaced by a new fetch), "present" (already in the corpus:
    nothing changed) or "unchanged" (fetched again with --refresh, and the same as before).
    """

    given: str
    source: str
    title: str
    url: str | None
    outcome: str
    replaced: str | None = None  # the article file it replaced under another name (a .txt or .html refreshed as .md)

    @property
    def touched(self) -> tuple[str, ...]:
        """The sources of the corpus it wrote or removed (what the index must read again)."""
        return (self.source, self.replaced) if self.replaced else (self.source,)

    @property
    def changed(self) -> bool:
        """Whether the corpus folder is different now (so the index needs updating)."""
        return self.outcome in ("added", "refreshed")


@dataclass(frozen=True)
class Removal:
    """An article removed from the corpus folder."""

    source: str
    title: str
    url: str | None


@dataclass(frozen=True)
class WebArticle:
    """An article extracted from a web page: its metadata and main text, paragraphs apart."""

    title: str
    url: str
    date: str | None
    author: str | None
    body: str

    def markdown(self, fetched: datetime) -> str:
        """The article as a Markdown file with front matter, as written to the corpus."""
        meta = {"title": self.title, "url": self.url, "date": self.date, "author": self.author,
                "fetched": fetched.astimezone(UTC).isoformat(timespec="seconds")}
        lines = ["---", *(f"{key}: {_one_line(value)}" for key, value in meta.items() if value), "---", ""]
        return "\n".join(lines) + "\n" + self.body + "\n"


@dataclass(frozen=True)
class _Known:
    """An article file already in the corpus, with what duplicates are recognised by."""

    source: str
    path: Path
    sha256: str
    title: str
    url: str | None
    text_key: str | None


def is_url(item: str) -> bool:
    """Whether `add` or `remove` was given a link (anything with a scheme) rather than a file or path."""
    return bool(_URL.match(item.strip())) and not Path(item).exists()


def add(config: Config, item: str, *, refresh: bool = False) -> Addition:
    """Add one link (fetched) or local file (copied) to the corpus; raises IngestError saying why not."""
    return add_url(config, item, refresh=refresh) if is_url(item) else add_file(config, Path(item))


def add_url(config: Config, url: str, *, refresh: bool = False, now: datetime | None = None) -> Addition:
    """Fetch a page and write its article into the corpus as Markdown; a link already there changes nothing."""
    url = check_url(url)
    corpus = _corpus_folder(config, create=True)
    known = _catalogue(config)
    match = _find(known, link=url_key(url))
    if match is not None and not refresh:
        return Addition(url, match.source, match.title, match.url, "present")
    article = extract_article(fetch_page(url, config.fetch))
    with _one_writer(corpus):
        return _save_page(config, corpus, url, article, refresh=refresh, now=now)


def _save_page(config: Config, corpus: Path, url: str, article: WebArticle, *, refresh: bool,
               now: datetime | None) -> Addition:
    """add_url's second half, under the corpus's lock: the corpus read again, then the article written or not."""
    known = _catalogue(config)  # again: another add may have written this very article while it was fetched
    match = (_find(known, link=url_key(url)) or _find(known, link=url_key(article.url))
             or _find(known, text=_text_key(article.body)))
    if match is not None and not refresh:
        return Addition(url, match.source, match.title, match.url, "present")
    if match is not None and is_shared(config.index, match.source):
        raise IngestError(_shared_refusal(match.source, "refreshed"))
    if match is not None and match.url and not same_site(match.url, article.url):
        raise IngestError(f"the link now leads to another site ({article.url}), so {match.source} (from "
                          f"{match.url}) is not replaced by its text; add that page by its own link if it belongs")
    text = article.markdown(now or datetime.now(UTC))
    data = text.encode("utf-8")
    _check_readable(f"{slug(article.title)}.md", data)
    if match is not None:
        if _without_fetched(match.path.read_bytes()) == _without_fetched(data):
            return Addition(url, match.source, match.title, match.url, "unchanged")
        if match.path.suffix.lower() == ".md":
            _replace(match.path, data)
            return Addition(url, match.source, article.title, article.url, "refreshed")
    path = _write_new(corpus, slug(article.title), ".md", data)
    if match is not None:  # a refreshed .txt or .html article becomes the .md that replaces it
        match.path.unlink(missing_ok=True)
    source = path.relative_to(corpus).as_posix()
    return Addition(url, source, article.title, article.url, "refreshed" if match else "added",
                    replaced=match.source if match is not None else None)


def add_file(config: Config, path: Path) -> Addition:
    """Copy a local .txt, .md, .html or .pdf file into the corpus; the same file already there changes nothing."""
    if not path.exists():
        raise IngestError("there is no such file (to add a web page, give its whole link, starting with https://)")
    if not path.is_file():
        raise IngestError("it is not a file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        accepted = ", ".join(sorted(SUFFIXES))
        what = f"{suffix} files" if suffix else "files without an extension"
        raise IngestError(f"{what} are not accepted (only {accepted})")
    limit = int(config.index.max_file_mb * 1_000_000)
    if path.stat().st_size > limit:
        raise IngestError(f"it is larger than the {config.index.max_file_mb:g} MB limit (index.max_file_mb)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IngestError(f"it cannot be read: {e.strerror or e}") from None
    inside = _as_source_path(_corpus_folder(config, create=True), path)
    if inside is not None:
        raise IngestError(f"it is already in the corpus folder (as {inside}); run `articlebot index` to index it")
    return add_data(config, path.name, data, given=str(path))


def add_data(config: Config, name: str, data: bytes, *, given: str | None = None) -> Addition:
    """Write a file's bytes (an upload) into the corpus under its cleaned name; the same article there changes nothing.

    Only the last part of `name` is used, cleaned to word characters, dots and dashes, so it cannot
    lead outside the corpus folder. Raises IngestError saying why not.
    """
    base = PurePosixPath(name.replace("\\", "/")).name
    suffix = PurePosixPath(base).suffix.lower()
    if suffix not in SUFFIXES:
        accepted = ", ".join(sorted(SUFFIXES))
        what = f"{suffix} files" if suffix else "files without an extension"
        raise IngestError(f"{what} are not accepted (only {accepted})")
    limit = int(config.index.max_file_mb * 1_000_000)
    if len(data) > limit:
        raise IngestError(f"it is larger than the {config.index.max_file_mb:g} MB limit (index.max_file_mb)")
    corpus = _corpus_folder(config, create=True)
    stem = _safe_stem(PurePosixPath(base).stem)
    article = _check_readable(stem + suffix, data)  # before the lock: an HTML file may take seconds to read
    with _one_writer(corpus):
        return _save_data(config, corpus, stem, suffix, data, article, given or name)


def _save_data(config: Config, corpus: Path, stem: str, suffix: str, data: bytes, article: Article,
               given: str) -> Addition:
    """add_data's second half, under the corpus's lock: checked against the corpus, then written or not."""
    known = _catalogue(config)
    sha = hashlib.sha256(data).hexdigest()
    text_key = _text_key(_body(data, suffix)) if not is_extracted(suffix) else None
    match = (next((k for k in known if k.sha256 == sha), None)
             or (_find(known, link=url_key(article.url)) if article.url else None)
             or (_find(known, text=text_key) if text_key else None))
    if match is not None:
        return Addition(given, match.source, match.title, match.url, "present")
    target = _write_new(corpus, stem, suffix, data)
    return Addition(given, target.relative_to(corpus).as_posix(), article.title, article.url, "added")


def remove(config: Config, target: str) -> list[Removal]:
    """Delete an article from the corpus folder, named by its path in the corpus or its URL."""
    corpus = _corpus_folder(config, create=False)
    known = _catalogue(config)
    if is_url(target):
        key = url_key(target)
        matches = [k for k in known if k.url and url_key(k.url) == key]
    else:
        by_source = {k.source: k for k in known}
        names = (_as_source(target), _as_source_path(corpus, Path(target)))
        matches = [by_source[name] for name in dict.fromkeys(names) if name in by_source][:1]
    if not matches:
        raise IngestError(f"{target} is not an article in the corpus folder {corpus} "
                          "(see `articlebot sources` for the paths and URLs)")
    own = [m for m in matches if not is_shared(config.index, m.source)]
    if not own:
        raise IngestError(_shared_refusal(matches[0].source, "removed"))
    matches = own
    if len(matches) == len(known):
        raise IngestError(f"{matches[0].source} is the last article in the corpus, and an index cannot be empty; "
                          "add another article first")
    for match in matches:
        match.path.unlink(missing_ok=True)
    return [Removal(m.source, m.title, m.url) for m in matches]


def extract_article(page: Page) -> WebArticle:
    """The article on a fetched page (main text, title, canonical URL, date, author); raises FetchError."""
    html = page_text(page.body, page.charset)
    try:
        document = extract(html, url=page.url, isolated=True)  # in a child: the bot's process never parses it
    except ExtractionRefused as e:
        raise FetchError(str(e)) from None

    def field(name: str) -> str:
        return _one_line(document.get(name, ""))

    lines = [line.strip() for line in document.get("text", "").splitlines() if line.strip()]
    prose = sum(len(words(line)) for line in lines if len(words(line)) >= 6)
    if prose < MIN_PROSE_WORDS:
        raise FetchError(f"no article text was found on the page (only {prose} words of prose outside "
                         "navigation and boilerplate)")
    canonical = field("url")
    if not canonical.lower().startswith(("http://", "https://")) or not same_site(canonical, page.url):
        canonical = page.url  # a page may claim any link; only one on the site it came from is believed
    title = field("title") or lines[0][:150]
    return WebArticle(title=title, url=canonical, date=field("date") or None, author=field("author") or None,
                      body="\n\n".join(lines))


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def page_text(body: bytes, charset: str | None) -> str:
    """A page's bytes as text: in the charset the server or the page declares, else UTF-8 if they are
    valid UTF-8, else the encoding charset-normalizer finds (Windows-1252 where it fits as well as
    any, as browsers read undeclared pages).

    Left to trafilatura, undeclared Windows-1252 came out in whatever single-byte encoding its guess
    picked first: "Café" saved as "Cafķ" (Windows-1257).
    """
    declared = _META_CHARSET.search(body[:4096])
    for name in (charset, declared.group(1).decode("ascii") if declared else None):
        if name:
            with contextlib.suppress(LookupError):
                return body.decode(codecs.lookup(name).name, errors="replace")
    with contextlib.suppress(UnicodeDecodeError):
        return body.decode("utf-8")
    from charset_normalizer import from_bytes  # imported here: only undeclared pages pay for it

    matches = from_bytes(body[:200_000])
    best = matches.best()
    encoding = "cp1252"
    if best is not None:
        least = min(m.chaos for m in matches)
        plausible = [m.encoding for m in matches if m.chaos <= least]
        encoding = "cp1252" if "cp1252" in plausible else best.encoding
    return body.decode(encoding, errors="replace")


def url_key(url: str) -> str:
    """What two links to the same page share: host, port, path and query, without scheme, fragment or final '/'."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").lower()
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    return urlunsplit(("", netloc, parts.path.rstrip("/") or "/", parts.query, ""))


def slug(title: str) -> str:
    """A file name stem from a title: lower-case words joined by dashes, never empty, never a path."""
    text = unicodedata.normalize("NFKC", title).lower()
    stem = re.sub(r"[\W_]+", "-", text).strip("-")[:80].rstrip("-")
    return stem or "article"


def _safe_stem(stem: str) -> str:
    """A copied file's own name, kept where it is safe: word characters, dots and dashes, not hidden."""
    cleaned = re.sub(r"[^\w.-]+", "-", unicodedata.normalize("NFKC", stem)).strip(".-")[:100]
    return cleaned or "article"


def _corpus_folder(config: Config, *, create: bool) -> Path:
    corpus = config.index.corpus_dir
    if create:
        try:
            corpus.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IngestError(f"the corpus folder {corpus} cannot be created: {e.strerror or e}") from None
    elif not corpus.is_dir():
        raise IngestError(f"the corpus folder {corpus} does not exist")
    return corpus


def _shared_refusal(source: str, done: str) -> str:
    return (f"{source} is one of the shared articles, which other servers see too, so it cannot be {done} "
            "from here, only in the shared corpus itself (the main corpus folder)")


def _catalogue(config: Config) -> list[_Known]:
    """The article files in the corpus, with their URL and a key of their text, to recognise duplicates.

    For a server that sees the shared corpus, the shared articles are listed too (under SHARED_PREFIX),
    so that adding one of them changes nothing; they are never written or removed from here.
    """
    files, _ = scan_sources(config.index)
    try:  # the index knows the URLs and titles of HTML and PDF articles without extracting them again
        indexed = {a.source: a for a in live_manifest(config.index).articles}
    except ArticlebotError:
        indexed = {}
    known = []
    for file in files:
        suffix = file.path.suffix.lower()
        meta: dict[str, str] = {}
        text_key = None
        if not is_extracted(suffix):
            data = file_bytes(file)
            text = decode(data)[0]
            if SUFFIXES[suffix] == "markdown":
                meta = front_matter(text)[0]
            text_key = _text_key(_body(data, suffix))
        info = indexed.get(file.source)
        url = meta.get("url") or (info.url if info else None)
        title = meta.get("title") or (info.title if info else None) or file.source
        known.append(_Known(file.source, file.path, file.sha256, title, url, text_key))
    return known


def _find(known: list[_Known], *, link: str | None = None, text: str | None = None) -> _Known | None:
    """The known article with this URL key or this text key, if any."""
    for k in known:
        if link is not None and k.url and url_key(k.url) == link:
            return k
        if text is not None and k.text_key == text:
            return k
    return None


def _body(data: bytes, suffix: str) -> str:
    """A text or Markdown file's text after its front matter."""
    text = decode(data)[0]
    if SUFFIXES[suffix] == "markdown":
        body = front_matter(text)[1]
        return text[body.start:body.end]
    return text


def _text_key(text: str) -> str:
    """The same for two texts that differ only in spacing and line breaks."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _check_readable(name: str, data: bytes) -> Article:
    """Read the file as the index will, before it is written; raises IngestError when it would be skipped.

    An HTML file is extracted in a child process with limits, since this runs in the bot's own process.
    """
    try:
        return read_article(CorpusFile(name, Path(name), hashlib.sha256(data).hexdigest(), data), isolated=True)
    except ArticleSkipped as e:
        raise IngestError(f"it cannot be indexed: {e}") from None


def _without_fetched(data: bytes) -> bytes:
    return re.sub(rb"(?m)^fetched: .*\n", b"", data, count=1)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _as_source(target: str) -> str | None:
    """`target` as a path relative to the corpus, or None when it would leave it."""
    path = PurePosixPath(target.replace(os.sep, "/"))
    if path.is_absolute() or ".." in path.parts:
        return None
    return path.as_posix()


def _as_source_path(corpus: Path, path: Path) -> str | None:
    """A path on this machine that lies inside the corpus, as its source there; None otherwise."""
    try:
        return path.resolve().relative_to(corpus.resolve()).as_posix()
    except (ValueError, OSError):
        return None


@contextlib.contextmanager
def _one_writer(corpus: Path) -> Iterator[None]:
    """Hold the corpus folder's lock while one add decides and writes.

    Without it, the same link added twice at once (two users, a feed and a user) was fetched by both,
    each found the corpus without it, and both wrote it: page.md and page-2.md. The lock is an flock
    on the folder itself (no lock file left in it), so it holds between threads, between processes
    (the bot and the command line), and is let go when its holder dies.
    """
    descriptor = os.open(corpus, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # lets go of the lock


def _write_new(corpus: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Write `data` under a new name in the corpus (stem, stem-2, ...): whole or not at all, never over a file."""
    temporary = _temporary(corpus, data)
    try:
        for n in range(1, 1000):
            path = corpus / f"{stem}{'' if n == 1 else f'-{n}'}{suffix}"
            if path.resolve().parent != corpus.resolve():  # cannot happen with a safe stem; checked regardless
                raise IngestError(f"{path.name} would be written outside the corpus folder")
            try:
                os.link(temporary, path)  # fails if the name is taken, even by a concurrent add
                return path
            except FileExistsError:
                continue
        raise IngestError(f"the corpus already holds 999 files named like {stem}{suffix}")
    finally:
        temporary.unlink(missing_ok=True)


def _replace(path: Path, data: bytes) -> None:
    """Replace a file's bytes atomically: readers see the old file or the new one, never half of one."""
    temporary = _temporary(path.parent, data)
    try:
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _temporary(folder: Path, data: bytes) -> Path:
    """A hidden file in `folder` (so the index never reads it) holding `data`, flushed to disk."""
    descriptor, name = tempfile.mkstemp(dir=folder, prefix=".articlebot-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)
