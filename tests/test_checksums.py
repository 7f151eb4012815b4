"""Damaged index files (#34): every file of a generation is checksummed; a damaged one is refused or rebuilt.

Flips one byte in each file of a real generation (the seed article, the hash embedder) and checks
what a question and a build then do; `articlebot index --check` through the real CLI; and the
migration of an index written before checksums (format 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.config import Config
from index.embedders import HashEmbedder
from index.engine import Engine
from index.errors import IndexMismatchError
from index.store.embedded.generations import LARGE_FILES, current_generation
from tests.commandline import articlebot_in_process


def _generation(config: Config) -> Path:
    folder = current_generation(config.index.index_dir)
    assert folder is not None
    return folder


def _flip(path: Path) -> None:
    """Flip every bit of one byte in the middle of a file: its size stays the same."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _files(config: Config) -> list[str]:
    Engine.from_config(config, HashEmbedder()).rebuild()
    manifest = json.loads((_generation(config) / "manifest.json").read_text("utf-8"))
    assert manifest["format"] == 2
    return sorted(manifest["files"])


def test_the_manifest_lists_every_file_of_the_generation(config: Config) -> None:
    names = _files(config)
    folder = _generation(config)
    on_disk = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert names == on_disk
    assert {"chunks.npz", "chunks.txt", "vectors.npy", "extracted.json"} <= set(names)


@pytest.mark.parametrize("name", ["chunks.npz", "chunks.txt", "vectors.npy", "extracted.json", "lexical"])
def test_a_flipped_byte_is_refused_or_rebuilt(config: Config, name: str) -> None:
    names = _files(config)
    victim = next(n for n in names if n == name or n.startswith(name + "/"))
    _flip(_generation(config) / victim)
    asking = Engine.from_config(config, HashEmbedder())
    # The large files are hashed at build and by --check, not on every open (their sizes are).
    if victim not in LARGE_FILES:
        with pytest.raises(IndexMismatchError, match=f"damaged \\({victim} does not hold the bytes written.*"
                                                     "articlebot index"):
            asking.ask("who was released?")
    # A build never reuses a damaged generation: it starts from scratch and the result is sound.
    report = Engine.from_config(config, HashEmbedder()).rebuild()
    assert report.chunks_embedded == report.chunks_total > 0
    assert Engine.from_config(config, HashEmbedder()).store.check() == []
    assert Engine.from_config(config, HashEmbedder()).ask("who was released?").citations


def test_a_truncated_file_is_refused_by_its_size(config: Config) -> None:
    _files(config)
    vectors = _generation(config) / "vectors.npy"
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
    _flip(_generation(config) / "vectors.npy")
    status, out, err = articlebot_in_process(capsys, "index", "--check", "--config", str(toml))
    assert status == 1
    assert "is damaged" in err
    assert "vectors.npy does not hold the bytes written" in err
    assert "run `articlebot index` to rebuild it" in err
    status, out, err = articlebot_in_process(capsys, "index", "--config", str(toml))
    assert status == 0, err
    assert "up to date" not in out, out
    assert articlebot_in_process(capsys, "index", "--check", "--config", str(toml))[0] == 0


def test_an_index_written_before_checksums_is_read_then_rewritten_with_them(config: Config) -> None:
    _files(config)
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
    assert json.loads((_generation(config) / "manifest.json").read_text("utf-8"))["format"] == 2
    assert Engine.from_config(config, HashEmbedder()).store.check() == []
