"""The engine's public API (index/__init__.py): every listed name imports, and importing it stays cheap."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import index

REPO = Path(__file__).resolve().parent.parent


def test_every_public_name_is_listed_and_resolves() -> None:
    assert set(index.__all__) == {"LOG_FORMAT", *index._PUBLIC}
    for module in set(index._PUBLIC.values()):  # a submodule once imported must not hide a public name
        importlib.import_module(module)
    for name in index.__all__:
        value = getattr(index, name)
        assert getattr(value, "__name__", name) == name or name == "LOG_FORMAT"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        index.Nothing  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_loads_no_model_or_index_library() -> None:
    code = ("import sys, index; print(sorted(m for m in ('faiss', 'torch', 'onnxruntime', 'psycopg', 'bm25s', "
            "'index.engine') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bot_benchmarks_and_training_use_no_private_name_of_the_engine() -> None:
    """Outside index/, only public names: no `from index.x import _private`."""
    offenders = []
    for folder in ("bot", "benchmarks", "training"):
        for path in (REPO / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                stripped = line.strip()
                if stripped.startswith("from index") and " import " in stripped:
                    names = stripped.split(" import ", 1)[1].replace("(", "").split(",")
                    if any(n.strip().split(" as ")[0].startswith("_") for n in names):
                        offenders.append(f"{path.relative_to(REPO)}:{number}: {stripped}")
    assert offenders == []
