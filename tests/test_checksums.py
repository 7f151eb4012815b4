"""Damaged index files (#34): every file of a generation and of its segments is checksummed; a damaged one is
refused or rebuilt.

Flips one byte in each file of a real index (the seed article, the hash embedder: one segment) and
checks what a question and a build then do; `articlebot index --check` through the real CLI; and the
conversion of an index written before checksums (format 1).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index.config import Config
from index.embedders import HashEmbedder
from index.engine import Engine
from index.errors import IndexMismatchError
from index.store.embedded.generations import SEGMENTS, current_generation
from index.store.embedded.segment import LARGE_FILES
from tests.commandline import articlebot_in_process
from tests.support import REPO, settings_as_written

FORMAT_2 = REPO / "tests" / "data" / "index-format-2"


def _generation(config: Config) -> Path:
    folder = current_generation(config.index.index_dir)
    assert folder is not None
    return folder


def _flip(path: Path) -> None:
    """Flip every bit of one byte in the middle of a file: its size stays the same."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _segment(config: Config) -> Path:
    (folder,) = (config.index.index_dir / SEGMENTS).iterdir()
    return folder


def _files(config: Config) -> list[str]:
    """Build the index; the files its generation and its one segment record, as paths below the index folder."""
    Engine.from_config(config, HashEmbedder()).rebuild()
    manifest = json.loads((_generation(config) / "manifest.json").read_text("utf-8"))
    assert manifest["format"] == 3
    segment = json.loads((_segment(config) / "segment.json").read_text("utf-8"))
    return sorted([f"{_generation(config).name}/{n}" for n in manifest["files"]] +
                  [f"{SEGMENTS}/{_segment(config).name}/{n}" for n in segment["files"]])


def test_the_manifests_list_every_file(config: Config) -> None:
    names = _files(config)
    index_dir = config.index.index_dir
    on_disk = sorted(str(p.relative_to(index_dir)) for p in index_dir.rglob("*")
                     if p.is_file() and p.name not in ("manifest.json", "segment.json", "CURRENT", ".lock"))
    assert names == on_disk
    assert {"texts.bin", "vectors.npy", "postings_passage.npy", "articles.bin"} <= {Path(n).name for n in names}


@pytest.mark.parametrize("name", ["article.npy", "texts.bin", "vectors.npy", "articles.bin", "terms.bin",
                                  "postings_tf.npy", "segment.json", "repetition.npy", "repetition_counts.npy"])
def test_a_flipped_byte_is_refused_or_rebuilt(config: Config, name: str) -> None:
    _files(config)
    victim = next(p for p in config.index.index_dir.rglob(name))
    _flip(victim)
    asking = Engine.from_config(config, HashEmbedder())
    # The large files are hashed at build and by --check, not on every open (their sizes are).
    if name not in LARGE_FILES:
        with pytest.raises(IndexMismatchError, match=f"damaged \\(.*{name} does not hold the bytes written.*"
                                                     "articlebot index"):
            asking.ask("who was released?")
    else:  # found by --check, which marks the index damaged for the next build
        assert Engine.from_config(config, HashEmbedder()).store.check()
    # A build never reuses a damaged generation: it starts from scratch and the result is sound.
    report = Engine.from_config(config, HashEmbedder()).rebuild()
    assert report.chunks_embedded == report.chunks_total > 0
    assert Engine.from_config(config, HashEmbedder()).store.check() == []
    assert Engine.from_config(config, HashEmbedder()).ask("who was released?").citations


def test_a_truncated_file_is_refused_by_its_size(config: Config) -> None:
    _files(config)
    vectors = _segment(config) / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-4])
    with pytest.raises(IndexMismatchError, match="vectors.npy has .* bytes, not the .* written"):
        Engine.from_config(config, HashEmbedder()).ask("who was released?")


def test_index_check_through_the_cli(config: Config, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text(f"[index]\ncorpus_dir = {str(config.index.corpus_dir)!r}\n"
                    f"index_dir = {str(config.index.index_dir)!r}\n", "utf-8")
    status, out, err = articlebot_in_process(capsys, "index", "--config", str(toml))
    assert status == 0, err
    status, out, err = articlebot_in_process(capsys, "index", "--check", "--config", str(toml))
    assert (status, out.strip()) == (0, f"index OK: {config.index.index_dir}"), err
    _flip(_segment(config) / "vectors.npy")
    status, out, err = articlebot_in_process(capsys, "index", "--check", "--config", str(toml))
    assert status == 1
    assert "is damaged" in err
    assert "vectors.npy does not hold the bytes written" in err
    assert "run `articlebot index` to rebuild it" in err
    status, out, err = articlebot_in_process(capsys, "index", "--config", str(toml))
    assert status == 0, err
    assert "up to date" not in out, out
    assert articlebot_in_process(capsys, "index", "--check", "--config", str(toml))[0] == 0


def test_an_index_written_before_checksums_is_read_then_rewritten_with_them(config: Config,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(FORMAT_2 / "index", config.index.index_dir)
    settings_as_written(monkeypatch, config.index.index_dir)
    manifest_path = _generation(config) / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    manifest["format"] = 1
    del manifest["files"]
    manifest_path.write_text(json.dumps(manifest), "utf-8")
    engine = Engine.from_config(config, HashEmbedder())
    assert engine.ask("who was released?").citations  # format 1 is still read
    assert "no checksums" in engine.store.check()[0]
    report = Engine.from_config(config, HashEmbedder()).rebuild()
    assert report.chunks_embedded == 0  # passages and vectors copied, nothing embedded again
    assert json.loads((_generation(config) / "manifest.json").read_text("utf-8"))["format"] == 3
    assert Engine.from_config(config, HashEmbedder()).store.check() == []
