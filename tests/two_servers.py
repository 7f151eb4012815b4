"""Two servers whose own articles answer the same question differently, beside the shared seed corpus.

A regatta won by Anna Berg in the north server's article and by Tomas Lind in the east server's: an
answer that names the other server's winner has read the wrong corpus. `servers` writes them as a
config file ([guilds] tables, for the engine and the CLI); `corpora` gives them to the fake Discord's servers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.config import Config, load_config
from tests.support import SEED

NORTH, EAST = 111111111111111111, 222222222222222222
QUESTION = "Who won the Harbour Regatta?"
REGATTA = """The Harbour Regatta

The Harbour Regatta was won on Saturday by {winner} of the {club}, who finished the twelve-mile course
in {time}, well ahead of the other forty boats that started from the old pier in the morning.

The race committee said the wind dropped in the afternoon, and several crews retired before the
final mark off the lighthouse, where the tide runs hardest after three o'clock.
"""
NORTH_ARTICLE = REGATTA.format(winner="Anna Berg", club="Northside Sailing Club", time="two hours and ten minutes")
EAST_ARTICLE = REGATTA.format(winner="Tomas Lind", club="Eastport Yacht Club", time="two hours and forty minutes")
FEES = """Harbour fees rise

The harbour board raised the mooring fees for visiting yachts by eight per cent from April, to pay
for the repair of the south breakwater that was damaged in the winter storms last year.
"""


def servers(root: Path, *, share: bool = True) -> Config:
    """A config file naming two servers with a regatta article each, beside the shared seed corpus."""
    (root / "corpus").mkdir()
    shutil.copy(SEED, root / "corpus" / SEED.name)
    for name, text in (("north", NORTH_ARTICLE), ("east", EAST_ARTICLE)):
        (root / "corpora" / name).mkdir(parents=True)
        (root / "corpora" / name / "regatta.txt").write_text(text, encoding="utf-8")
    path = root / "config.toml"
    path.write_text(f"[index]\nshare_corpus = {'true' if share else 'false'}\n"
                    f"[guilds.{NORTH}]\ncorpus = 'corpora/north'\n[guilds.{EAST}]\ncorpus = 'corpora/east'\n")
    return load_config(path, environ={})


def corpora(tmp_path: Path) -> Callable[[Any], dict[int, Path]]:
    """Give the fake's first server the north regatta article, its second the east one and a note on fees."""
    north, east = tmp_path / "corpora" / "north", tmp_path / "corpora" / "east"
    north.mkdir(parents=True)
    east.mkdir(parents=True)
    (north / "regatta-north.txt").write_text(NORTH_ARTICLE, encoding="utf-8")
    (east / "regatta-east.txt").write_text(EAST_ARTICLE, encoding="utf-8")
    (east / "harbour-fees.txt").write_text(FEES, encoding="utf-8")
    return lambda fake: {fake.guild_ids[0]: north, fake.guild_ids[1]: east}
