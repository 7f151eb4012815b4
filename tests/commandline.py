"""The real `articlebot` command, run two ways: in its own process as a user runs it, or in this process.

`run_articlebot` starts `python -m bot.cli` (what the `articlebot` script runs) and waits for it: the
real entry point, its exit status, its own log set-up. `articlebot_in_process` calls `bot.cli.main`
here, for tests that run many commands (a process start and model load each would cost seconds).
A test that drives a process while it runs (signals, a terminal, asyncio) starts `ARTICLEBOT` itself,
with `cli_environment()`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.support import REPO

ARTICLEBOT = (sys.executable, "-m", "bot.cli")


def cli_environment(**extra: str) -> dict[str, str]:
    """This environment without the user's ARTICLEBOT_ and DISCORD_ settings, importing this checkout, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARTICLEBOT_", "DISCORD_"))}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_articlebot(*args: str | bytes, cwd: Path = REPO, env: dict[str, str] | None = None,
                   **options: Any) -> subprocess.CompletedProcess[str]:
    """Run `articlebot ARGS` in its own process to the end; its output is captured unless `options` say otherwise."""
    options = {"capture_output": True, **options} if not {"stdout", "stderr"} & set(options) else options
    return subprocess.run([*ARTICLEBOT, *args], cwd=cwd, env=env or cli_environment(), text=True, timeout=300,
                          **options)


def articlebot_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `articlebot ARGS` through `bot.cli.main` in this process; its exit status, stdout and stderr."""
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err
