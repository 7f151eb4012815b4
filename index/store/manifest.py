"""What an index was built from and with, and whether a configuration can read it or build on it.

Both stores keep the same manifest: the embedded one as manifest.json in a generation folder
(index/store/embedded/generations.py), PostgreSQL in the generations table (index/store/postgres/).
`BuiltWith` is the part that decides whether an index fits a configuration: the model, how it ran
(backend) and the chunking settings. Questions refuse an index built otherwise
(`check_built_with`), and a build starts from scratch instead of reusing its vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from index.errors import IndexMismatchError
from index.types import ArticleInfo, SkippedFile

# Format 2 added `files`: each file of a generation with its size and SHA-256, checked when it is
# opened. Format 3 keeps the passages in segments (index/store/embedded/segment.py): a generation
# lists them (`segments`), with the articles deleted from each, and the articles are the segments'.
# Formats 1 and 2 are still read (index/store/embedded/legacy.py); the next build converts them.
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)


@dataclass(frozen=True)
class FileSum:
    """One file of a generation as written: its size in bytes and its SHA-256."""

    size: int
    sha256: str


@dataclass(frozen=True)
class SegmentRef:
    """A segment as a generation lists it: its name, the SHA-256 of its segment.json, the articles deleted from it."""

    name: str
    sha256: str
    deleted: tuple[int, ...] = ()


@dataclass(frozen=True)
class BuiltWith:
    """What decides whether an index's vectors and passages fit a configuration."""

    model: str
    backend: str  # how the model ran; questions must be embedded the same way
    settings: dict[str, Any]  # chunking and reading settings (index/store/build.py `chunk_settings`)


def check_built_with(index: BuiltWith, wanted: BuiltWith, where: str) -> None:
    """Raise IndexMismatchError, saying what differs, unless the index at `where` was built as `wanted`."""
    if index.model != wanted.model:
        raise IndexMismatchError(
            f"{where} was built with model {index.model!r} but the configuration names {wanted.model!r}; "
            "run `articlebot index` to rebuild it")
    if index.backend != wanted.backend:
        raise IndexMismatchError(
            f"{where} was embedded with backend {index.backend!r} but the configuration names "
            f"{wanted.backend!r}; run `articlebot index` to rebuild it")
    if index.settings != wanted.settings:
        raise IndexMismatchError(
            f"{where} was built with other chunking settings ({index.settings}); "
            "run `articlebot index` to rebuild it")


@dataclass(frozen=True)
class Manifest:
    """What an index was built from and with."""

    model: str
    backend: str  # how the model ran; questions must be embedded the same way
    dimension: int
    settings: dict[str, Any]
    built_at: str
    versions: dict[str, str]
    articles: tuple[ArticleInfo, ...]
    skipped: tuple[SkippedFile, ...]
    chunks: int
    # The generation's files (path relative to its folder) as written; empty for a format-1 index
    # and in PostgreSQL, which checks its own pages.
    files: dict[str, FileSum] = field(default_factory=dict)
    # Format 3 (the embedded store): the generation's segments, oldest first. Its articles are theirs:
    # a generation's manifest.json does not repeat them.
    segments: tuple[SegmentRef, ...] = ()
    format: int = FORMAT_VERSION

    @property
    def built_with(self) -> BuiltWith:
        """The model, backend and settings the index was built with."""
        return BuiltWith(self.model, self.backend, self.settings)

    def to_json(self) -> dict[str, Any]:
        """The manifest as a generation's manifest.json holds it (format 3: the segments instead of the articles)."""
        return {
            "format": FORMAT_VERSION, "model": self.model, "backend": self.backend,
            "dimension": self.dimension,
            "settings": self.settings, "built_at": self.built_at, "versions": self.versions,
            "chunks": self.chunks,
            "segments": [{"name": r.name, "sha256": r.sha256, "deleted": list(r.deleted)} for r in self.segments],
            "skipped": [s.__dict__ for s in self.skipped],
            "files": {name: {"size": f.size, "sha256": f.sha256} for name, f in sorted(self.files.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Read a manifest; raises KeyError/TypeError on a malformed one."""
        if data.get("format") not in READABLE_FORMATS:
            raise IndexMismatchError(
                f"the index was written in format {data.get('format')}, this version reads formats "
                f"{', '.join(map(str, READABLE_FORMATS))}")
        return cls(
            model=data["model"], backend=data.get("backend", "torch"), dimension=int(data["dimension"]),
            settings=dict(data["settings"]),
            built_at=data["built_at"], versions=dict(data["versions"]), chunks=int(data["chunks"]),
            articles=tuple(ArticleInfo(**a) for a in data.get("articles", ())),
            skipped=tuple(SkippedFile(**s) for s in data["skipped"]),
            files={name: FileSum(int(f["size"]), str(f["sha256"])) for name, f in data.get("files", {}).items()},
            segments=tuple(SegmentRef(str(r["name"]), str(r["sha256"]), tuple(int(a) for a in r["deleted"]))
                           for r in data.get("segments", ())),
            format=int(data["format"]),
        )
