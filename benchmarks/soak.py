"""Soak and load (issue 15): one bot process answering many questions against the fake Discord, reindexing meanwhile.

    .venv/bin/python benchmarks/soak.py                    # 20,000 questions: about 1.5 h on 2 busy cores
    .venv/bin/python benchmarks/soak.py --questions 300    # a trial: about 2 minutes

The bot is the real one: `articlebot run` in its own process, the real discord.py client talking over
loopback sockets to the fake Discord the tests use (tests/fakediscord), which runs in this process.
Its corpus is the seed article plus the shared news-dev articles, copied into a temporary folder.

Questions come from the shared eval sets with made-up words mixed in (each one new, so the BM25
tokenizer's caches would grow if questions leaked into them), asked in turn as /ask (a fifth of them
private) and as @mentions, by 5,000 users. While they run, at fixed points: a /reindex after changing
an article, an `articlebot index` from another process after adding one, a second /reindex after
changing another. Each event is followed by a question about what it added, to see it served.

Measured: the bot's resident memory (sampled every 50 ms from /proc) at start (index loaded, first
question answered), after the warm-up (1,000 questions) and at the end, and the median of the samples
over each slice of questions (growth is judged on those: one sample can land on a model run in flight);
its peak during each reindex;
answer latency (from the event sent to the reply received) per slice of 1,000 questions; errors
(error log lines, refusals, apologies, missing replies, anything the fake refuses); and whether the
generation the bot serves at the end is the one CURRENT names (the generation whose vectors the bot
has memory-mapped, and /status). Writes benchmarks/results-soak.json and its section of
benchmarks/RESULTS.md (between the "soak" markers).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(HERE)]  # the fake Discord and tests.support, as the tests do

from bench import percentile, replace_section  # noqa: E402
from fakediscord import ADMINISTRATOR, EVERYDAY, FakeDiscord, FakeUser, Sent  # noqa: E402

from bot.render import APOLOGY  # noqa: E402
from index.answering.answer import DECLINED  # noqa: E402
from index.store.embedded.generations import current_generation, read_manifest  # noqa: E402
from tests.support import SEED, SHARED_EVAL  # noqa: E402

BEGIN, END = "<!-- soak: begin -->", "<!-- soak: end -->"
TOKEN = "FAKE.discord-token.soak-never-log-me-5d2a9b"
FULL_RUN = 20_000
USERS = 5_000  # each asks every 5,000th question: far from the default cooldown (3 per 30 s)
REPLY_TIMEOUT = 120.0
REINDEX_TIMEOUT = 900.0
SAMPLE_EVERY = 0.05
LOG_LEVEL = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


# --- questions ---------------------------------------------------------------------------------------------

SYLLABLES = ("bra", "cu", "dre", "fo", "gli", "ka", "lor", "mi", "nu", "pex", "quo", "ri", "sta", "tu", "vel",
             "wy", "xan", "zor", "plim", "threk")


def invented_word(rng: random.Random, number: int) -> str:
    """A made-up word never used before in this run: random syllables, then `number` in letters."""
    letters = ""
    while True:
        number, digit = divmod(number, 26)
        letters += chr(ord("a") + digit)
        if not number:
            break
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) + "q" + letters


def make_questions(count: int, seed: int) -> list[str]:
    """`count` questions of the shared eval sets in random order, most with 1-3 new made-up words inserted."""
    rng = random.Random(seed)
    base = [json.loads(line)["question"].strip()
            for name in ("squad-dev", "news-dev")
            for line in (SHARED_EVAL / name / "questions.jsonl").read_text("utf-8").splitlines() if line.strip()]
    questions, invented = [], 0
    for _ in range(count):
        words = rng.choice(base).split()
        if rng.random() < 0.8:
            for _ in range(rng.randint(1, 3)):
                words.insert(rng.randint(0, len(words)), invented_word(rng, invented))
                invented += 1
        questions.append(" ".join(words)[:400])
    return questions


# --- the fake Discord, made to last 20,000 questions -------------------------------------------------------

class SoakDiscord(FakeDiscord):
    """The tests' fake Discord, indexing what the bot sends by question and forgetting finished questions.

    The tests' fake keeps everything and finds things by scanning it, which is quadratic over a long
    run and would slow the fake, not the bot, as the run goes on. Problems are counted, not raised,
    so that the soak goes on and reports them all.
    """

    sent: list[Sent]

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.by_key: dict[str, list[Sent]] = {}
        self._waiters: dict[str, asyncio.Event] = {}
        self._finished: set[str] = set()

    @staticmethod
    def key(sent: Sent) -> str | None:
        """Which question a thing the bot sent answers: its interaction token, or the message it replies to."""
        if sent.token:
            return sent.token
        reference = sent.body.get("message_reference") if sent.kind == "message" else None
        return f"reply:{int(reference['message_id'])}" if reference else None

    def _record(self, sent: Sent) -> Sent:
        sent = super()._record(sent)
        key = self.key(sent)
        if key is not None:
            self.by_key.setdefault(key, []).append(sent)
            waiter = self._waiters.get(key)
            if waiter is not None:
                waiter.set()
        return sent

    def check(self) -> None:
        """Problems are reported at the end, not raised at the next wait."""

    async def until(self, key: str, predicate: Callable[[Sent], bool], within: float) -> Sent | None:
        """The first thing sent for `key` that satisfies `predicate`, or None after `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            found = next((s for s in self.by_key.get(key, ()) if predicate(s)), None)
            remaining = deadline - loop.time()
            if found is not None or remaining <= 0:
                return found
            waiter = self._waiters[key] = asyncio.Event()
            try:
                await asyncio.wait_for(waiter.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                del self._waiters[key]

    def finish(self, key: str) -> None:
        """Forget a question that has its answer (at the next `prune`)."""
        self.by_key.pop(key, None)
        self._finished.add(key)

    def prune(self) -> None:
        """Drop what finished questions left in the fake's records (typing indicators included)."""
        kept: list[Sent] = []
        for sent in self.sent:
            if sent.kind == "typing" or self.key(sent) in self._finished:
                self.messages.pop(sent.message_id or 0, None)
            else:
                kept.append(sent)
        self.sent = kept
        for key in self._finished:
            if key.startswith("reply:"):
                self.messages.pop(int(key.removeprefix("reply:")), None)
        self._finished.clear()
        self.requests.clear()


# --- the bot process's memory --------------------------------------------------------------------------------

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mapped_generations(pid: int) -> list[str]:
    """The index generations whose vectors a process has memory-mapped: the snapshots it holds."""
    generations = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 6:
            continue
        path = parts[5].removesuffix(" (deleted)")
        if Path(path).name == "vectors.npy":
            generations.add(Path(path).parent.name + (" (deleted)" if parts[5].endswith(" (deleted)") else ""))
    return sorted(generations)


def reset_peak(pid: int) -> bool:
    """Reset a process's VmHWM to its current RSS (Linux ≥ 4.0); whether that worked."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    """Samples a process's RSS every 50 ms, in a thread, until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int]] = []  # (time.monotonic(), kB)
        self._halt = threading.Event()

    def run(self) -> None:
        """Sample until `stop`."""
        while not self._halt.wait(SAMPLE_EVERY):
            try:
                self.samples.append((time.monotonic(), proc_status(self.pid)["VmRSS"]))
            except (OSError, KeyError):
                return  # the process has gone

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._halt.set()
        self.join()

    def now_mb(self) -> float:
        """The RSS now, in MB."""
        return proc_status(self.pid)["VmRSS"] / 1024

    def between(self, since: float, until: float) -> list[int]:
        """The samples (kB) taken between two moments."""
        return [kb for at, kb in self.samples if since <= at <= until]

    def peak_mb(self, since: float, until: float) -> float:
        """The highest sample between two moments, in MB."""
        return max(self.between(since, until), default=0) / 1024

    def median_mb(self, since: float, until: float) -> float:
        """The median sample between two moments, in MB: the typical RSS, not one moment's.

        A single sample lands wherever the models happen to be: each run maps its working memory and hands
        it back, so samples taken a second apart differ by tens of MB.
        """
        inside = self.between(since, until)
        return statistics.median(inside) / 1024 if inside else self.now_mb()


# --- the run -------------------------------------------------------------------------------------------------

@dataclass
class Tally:
    """Everything measured while questions are asked."""

    questions: int
    slice: int
    warmup: int
    warmup_mb: float = 0.0
    latency_ms: list[float | None] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    completed: int = 0
    slices: list[dict[str, Any]] = field(default_factory=list)
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        self.latency_ms = [None] * self.questions

    async def reached(self, completed: float) -> None:
        """Wait until this many questions have their replies."""
        async with self.progress:
            await self.progress.wait_for(lambda: self.completed >= completed)

    def count(self, verdict: str, detail: str = "") -> None:
        """Count a reply; keep the first failures' details."""
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
        if verdict in ("failed", "missing") and len(self.failures) < 20:
            self.failures.append(detail)


def verdict_of(reply: Sent | None) -> tuple[str, str]:
    """Whether a reply is an answer ('answered' or 'declined') or an error ('failed', 'missing'), with why.

    Anything else the bot can say instead (a refusal, an apology, an engine error) is a failure here.
    """
    if reply is None:
        return "missing", "no reply"
    if reply.kind in ("followup", "message"):
        if any(e.get("title") == "Sources" for e in reply.embeds):
            return "answered", ""
        if reply.content == DECLINED:
            return "declined", ""
    return "failed", f"{reply.kind}: {reply.content[:200]!r}"


async def ask(fake: SoakDiscord, number: int, question: str, user: FakeUser, *,
              dm: bool = False) -> tuple[Sent | None, float]:
    """Ask as /ask (even numbers; a fifth of them private), as an @mention, or in a DM: the reply, its latency.

    The commands are synced to the server only, so a DM is a plain message to the bot.
    """
    began = time.monotonic()
    if number % 2 == 0 and not dm:
        interaction = await fake.slash("ask", user, question=question, private=number % 10 == 4)
        key = interaction.token
        # An error replaces the thinking message (an edit), a refusal before deferring is a type-4 callback.
        reply = await fake.until(key, lambda s: s.kind in ("followup", "edit") or (
            s.kind == "callback" and s.body.get("type") == 4), REPLY_TIMEOUT)
    else:
        content = question if dm else f"<@{fake.me.id}> {question}"
        asked = await fake.post(content, user, mentions=() if dm else (fake.me,), dm=dm)
        key = f"reply:{asked}"
        reply = await fake.until(key, lambda s: s.kind == "message", REPLY_TIMEOUT)
    fake.finish(key)
    latency = (reply.at - began) * 1000 if reply is not None else float("nan")
    return reply, latency


async def probe(fake: SoakDiscord, question: str, expected: str, tries: int = 5) -> dict[str, Any]:
    """Ask until the answer shows `expected` (the bot may open a newer generation a question late).

    In a DM, so that it takes none of the server's question slots, which the soak's questions use.
    """
    user = fake.user("prober")
    reply = None
    for attempt in range(1, tries + 1):
        reply, latency = await ask(fake, 0, question, user, dm=True)
        if reply is not None and expected in reply.text:
            return {"question": question, "expected": expected, "found": True, "tries": attempt,
                    "latency_ms": round(latency, 1)}
        await asyncio.sleep(1)
    return {"question": question, "expected": expected, "found": False, "tries": tries,
            "reply": reply.text[:300] if reply is not None else None}


@dataclass(frozen=True)
class Change:
    """An edit to the corpus that an event indexes, and a question whose answer shows it is served."""

    file: str
    text: str
    question: str
    expected: str


CHANGES = (
    Change("lake-erie-toxic-algae.md",
           "A later survey by the hydrologist Ilvana Korsgaard counted 4,817 monitoring buoys on the lake.",
           "How many monitoring buoys did the hydrologist Ilvana Korsgaard count?", "4,817"),
    Change("soak-harbour-lanterns.txt",
           "Harbour lanterns restored\n\nThe town of Veldmark restored its 93 harbour lanterns in March. The work "
           "was led by the glassmaker Oskar Thelwin, who spent eleven weeks on it.",
           "Who led the restoration of the Veldmark harbour lanterns?", "Thelwin"),
    Change("bhutan-archery-ticket-prices.txt",
           "Tickets for the final in Thimphu were later capped at 260 ngultrum by the organiser Pema Dorvik.",
           "At what price did the organiser Pema Dorvik cap the tickets for the final in Thimphu?", "260"),
)


def apply_change(corpus: Path, change: Change) -> None:
    """Add the change's paragraph to its article, or write the article when it is new."""
    path = corpus / change.file
    if path.exists():
        path.write_text(path.read_text("utf-8").rstrip() + "\n\n" + change.text + "\n", "utf-8")
    else:
        path.write_text(change.text + "\n", "utf-8")


@dataclass
class Soak:
    """One soak run: the fake Discord, the bot process, its memory, and what happened."""

    fake: SoakDiscord
    bot: asyncio.subprocess.Process
    sampler: RssSampler
    corpus: Path
    index_dir: Path
    tally: Tally
    events: list[dict[str, Any]] = field(default_factory=list)

    async def reindex(self, change: Change) -> dict[str, Any]:
        """Change an article, run /reindex as an admin, and measure the bot's memory while it runs."""
        apply_change(self.corpus, change)
        admin = self.fake.user("librarian", permissions=EVERYDAY | ADMINISTRATOR)
        before, exact = self.sampler.now_mb(), reset_peak(self.bot.pid)
        began, completed = time.monotonic(), self.tally.completed
        interaction = await self.fake.slash("reindex", admin)
        done = await self.fake.until(interaction.token, lambda s: s.kind == "edit" and (
            "finished" in s.content or "failed" in s.content or s.content == APOLOGY), REINDEX_TIMEOUT)
        ended = time.monotonic()
        hwm = proc_status(self.bot.pid)["VmHWM"] / 1024 if exact else None
        self.fake.finish(interaction.token)
        return {"event": "/reindex", "file": change.file, "at_question": completed,
                "seconds": round(ended - began, 1), "result": done.content if done else "no result",
                "ok": done is not None and "Reindex finished" in done.content,
                "questions_meanwhile": self.tally.completed - completed,
                "rss_before_mb": round(before, 1), "rss_peak_mb": round(self.sampler.peak_mb(began, ended), 1),
                "rss_hwm_mb": round(hwm, 1) if hwm is not None else None,
                "rss_after_mb": round(self.sampler.now_mb(), 1),
                "probe": await probe(self.fake, change.question, change.expected)}

    async def index_from_another_process(self, change: Change) -> dict[str, Any]:
        """Add an article and run `articlebot index` in a process of its own while the bot serves."""
        apply_change(self.corpus, change)
        before, exact = self.sampler.now_mb(), reset_peak(self.bot.pid)
        began, completed = time.monotonic(), self.tally.completed
        process = await asyncio.create_subprocess_exec(
            *articlebot(), "index", "--corpus", str(self.corpus), "--index-dir", str(self.index_dir),
            env=clean_environment(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await process.communicate()
        ended = time.monotonic()
        found = await probe(self.fake, change.question, change.expected)  # the bot opens the new generation here
        hwm = proc_status(self.bot.pid)["VmHWM"] / 1024 if exact else None
        return {"event": "articlebot index (another process)", "file": change.file, "at_question": completed,
                "seconds": round(ended - began, 1), "exit_status": process.returncode,
                "result": output.decode(errors="replace").strip()[-500:], "ok": process.returncode == 0,
                "questions_meanwhile": self.tally.completed - completed,
                "rss_before_mb": round(before, 1),
                "rss_peak_mb": round(self.sampler.peak_mb(began, time.monotonic()), 1),
                "rss_hwm_mb": round(hwm, 1) if hwm is not None else None,
                "rss_after_mb": round(self.sampler.now_mb(), 1), "probe": found}

    async def run_events(self) -> None:
        """The events, in order, each when its share of the questions has been answered."""
        plan = ((0.30, self.reindex, CHANGES[0]), (0.45, self.index_from_another_process, CHANGES[1]),
                (0.60, self.reindex, CHANGES[2]))
        for share, event, change in plan:
            await self.tally.reached(share * self.tally.questions)
            print(f"  {event.__name__} after {self.tally.completed} questions ...", flush=True)
            result = await event(change)
            result["completed_after"] = self.tally.completed
            print(f"  ... {result['seconds']} s, RSS {result['rss_before_mb']} → peak {result['rss_peak_mb']} MB, "
                  f"probe {'found' if result['probe']['found'] else 'NOT FOUND'}", flush=True)
            self.events.append(result)

    async def ask_all(self, questions: list[str], concurrency: int) -> None:
        """Ask every question, `concurrency` at a time, counting replies and printing progress per slice."""
        users = [self.fake.user(f"reader{i}") for i in range(min(USERS, len(questions)))]
        numbers = iter(range(len(questions)))
        tally = self.tally
        slice_began, cpu_began = time.monotonic(), cpu_seconds(self.bot.pid)

        async def worker() -> None:
            nonlocal slice_began, cpu_began
            for number in numbers:
                reply, latency = await ask(self.fake, number, questions[number], users[number % len(users)])
                verdict, detail = verdict_of(reply)
                tally.count(verdict, f"question {number} ({'slash' if number % 2 == 0 else 'mention'}): {detail}")
                tally.latency_ms[number] = None if reply is None else latency
                async with tally.progress:
                    tally.completed += 1
                    tally.progress.notify_all()
                if tally.completed == tally.warmup:
                    tally.warmup_mb = round(self.sampler.now_mb(), 1)
                if tally.completed % 200 == 0:
                    self.fake.prune()
                if tally.completed % tally.slice == 0 or tally.completed == tally.questions:
                    now, cpu = time.monotonic(), cpu_seconds(self.bot.pid)
                    done = tally.completed - (tally.slices[-1]["completed"] if tally.slices else 0)
                    entry = {"completed": tally.completed, "seconds": round(now - slice_began, 1),
                             "bot_cpu_ms_per_question": round((cpu - cpu_began) * 1000 / max(1, done), 1),
                             "rss_mb": round(self.sampler.now_mb(), 1),
                             "rss_median_mb": round(self.sampler.median_mb(slice_began, now), 1)}
                    tally.slices.append(entry)
                    slice_began, cpu_began = now, cpu
                    errors = sum(tally.verdicts.get(v, 0) for v in ("failed", "missing"))
                    print(f"[{tally.completed:>6}/{tally.questions}] {done / max(entry['seconds'], 1e-9):5.1f} q/s, "
                          f"RSS {entry['rss_mb']:.1f} MB, bot CPU {entry['bot_cpu_ms_per_question']} ms/q, "
                          f"failed or missing {errors}", flush=True)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def final_check(self) -> dict[str, Any]:
        """Whether the bot serves the generation CURRENT names: its mapped vectors, /status, and every change."""
        probes = [await probe(self.fake, c.question, c.expected) for c in CHANGES]
        current = current_generation(self.index_dir)
        manifest = read_manifest(self.index_dir)
        served = mapped_generations(self.bot.pid)
        interaction = await self.fake.slash("status", self.fake.user("curious"))
        status = await self.fake.until(interaction.token, lambda s: s.kind == "followup", REPLY_TIMEOUT)
        fields = {f["name"]: f["value"] for f in status.embeds[0]["fields"]} if status and status.embeds else {}
        built = int(datetime.datetime.fromisoformat(manifest.built_at).timestamp())
        status_fits = (fields.get("Articles") == str(len(manifest.articles))
                       and f"<t:{built}:" in fields.get("Index built", ""))
        assert current is not None
        return {"current": current.name, "generations_mapped_by_bot": served,
                "status_articles": fields.get("Articles"), "manifest_articles": len(manifest.articles),
                "status_matches_manifest": status_fits, "probes": probes,
                "newest_served": served == [current.name] and status_fits and all(p["found"] for p in probes)}


def articlebot() -> list[str]:
    """The real command line: the venv's `articlebot` script, else `python -m bot.cli`."""
    script = Path(sys.executable).with_name("articlebot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def clean_environment(**extra: str) -> dict[str, str]:
    """This environment without a developer's articlebot or Discord settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARTICLEBOT_", "DISCORD_"))}
    env.update(extra)
    return env


def read_log(lines: list[str]) -> dict[str, Any]:
    """The bot's log: its error and warning records (first lines), tracebacks, and whether the token leaked."""
    errors, warnings = [], []
    for line in lines:
        level = LOG_LEVEL.match(line)
        if level and level.group(1) in ("ERROR", "CRITICAL"):
            errors.append(line[:300])
        elif level and level.group(1) == "WARNING":
            warnings.append(line[:300])
    return {"errors": errors, "warnings": warnings,
            "tracebacks": sum(line.startswith("Traceback (most recent call last)") for line in lines),
            "token_leaked": any(TOKEN in line for line in lines), "lines": len(lines)}


def prepare(root: Path, fake: FakeDiscord) -> tuple[Path, Path, Path]:
    """The corpus (seed and news-dev articles), where the index goes, and a config.toml pointing at the fake."""
    corpus, index_dir, config = root / "corpus", root / "index", root / "config.toml"
    shutil.copytree(SHARED_EVAL / "news-dev" / "corpus", corpus)
    shutil.copy(SEED, corpus / SEED.name)
    config.write_text(
        f"[index]\ncorpus_dir = {json.dumps(str(corpus))}\nindex_dir = {json.dumps(str(index_dir))}\n\n"
        f"[discord]\nguild_ids = [{fake.guild_id}]\napi_base_url = {json.dumps(fake.api_url)}\n"
        f"gateway_url = {json.dumps(fake.gateway_url)}\nguild_ready_timeout = 0.1\n", "utf-8")
    return corpus, index_dir, config


async def keep_lines(stream: asyncio.StreamReader, lines: list[str]) -> None:
    """Collect a process's output lines until it closes them."""
    async for line in stream:
        lines.append(line.decode(errors="replace").rstrip("\n"))


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak in a temporary folder; the results as one dict."""
    questions = make_questions(args.questions, args.seed)
    tally = Tally(args.questions, args.slice or min(1000, max(50, args.questions // 10)),
                  warmup=min(1000, args.questions // 4))
    fake = SoakDiscord(TOKEN)
    await fake.start()
    log: list[str] = []
    with tempfile.TemporaryDirectory(prefix="articlebot-soak-") as tmp:
        root = Path(tmp)
        corpus, index_dir, config = prepare(root, fake)
        built = time.monotonic()
        index = await asyncio.create_subprocess_exec(
            *articlebot(), "index", "--corpus", str(corpus), "--index-dir", str(index_dir),
            env=clean_environment(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output = (await index.communicate())[0].decode(errors="replace")
        if index.returncode != 0:
            await fake.stop()
            raise SystemExit(f"articlebot index failed:\n{output}")
        print(f"index built in {time.monotonic() - built:.0f} s: {output.strip().splitlines()[-1]}", flush=True)

        bot = await asyncio.create_subprocess_exec(
            *articlebot(), "--verbose", "run", "--config", str(config), cwd=root,
            env=clean_environment(DISCORD_TOKEN=TOKEN), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        assert bot.stdout is not None
        logging = asyncio.create_task(keep_lines(bot.stdout, log))
        sampler = RssSampler(bot.pid)
        sampler.start()
        run = Soak(fake, bot, sampler, corpus, index_dir, tally)
        try:
            started = time.monotonic()
            await fake.ready(timeout=300)
            ready_mb = sampler.now_mb()
            first, first_ms = await ask(fake, 0, "Who visited Minsk?", fake.user("first"))
            start_mb = sampler.now_mb()
            print(f"bot ready in {time.monotonic() - started:.1f} s, RSS {ready_mb:.1f} MB; first answer in "
                  f"{first_ms:.0f} ms ({verdict_of(first)[0]}), RSS {start_mb:.1f} MB", flush=True)
            load_before = os.getloadavg()
            began = time.monotonic()
            events = asyncio.create_task(run.run_events())
            await run.ask_all(questions, args.concurrency)
            seconds = time.monotonic() - began
            await events
            final = await run.final_check()
            load_after = os.getloadavg()
            bot_cpu = cpu_seconds(bot.pid)
        finally:
            sampler.stop()
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
            try:
                exit_status = await asyncio.wait_for(bot.wait(), 60)
            except TimeoutError:
                bot.kill()
                exit_status = await bot.wait()
            await logging
            await fake.stop()
    log_report = read_log(log)

    end_mb = tally.slices[-1]["rss_mb"]
    latency = []
    for first_number in range(0, args.questions, tally.slice):
        values = [v for v in tally.latency_ms[first_number:first_number + tally.slice] if v is not None]
        latency.append({"questions": f"{first_number + 1}-{min(args.questions, first_number + tally.slice)}",
                        "p50_ms": round(percentile(values, 50), 1) if values else None,
                        "p95_ms": round(percentile(values, 95), 1) if values else None,
                        "max_ms": round(max(values), 1) if values else None})
    failed = sum(tally.verdicts.get(v, 0) for v in ("failed", "missing"))
    errors = (len(log_report["errors"]) + log_report["tracebacks"] + failed + len(fake.problems) + len(fake.unknown)
              + sum(not e["ok"] for e in run.events) + (exit_status != 0) + log_report["token_leaked"])
    growth = (end_mb - tally.warmup_mb) / tally.warmup_mb * 100
    # Growth once the events are over: a leak keeps growing, memory a reindex left behind does not.
    events_over = max((e["completed_after"] for e in run.events), default=0)
    settled = next((s for s in tally.slices if s["completed"] >= events_over), tally.slices[-1])
    steady = (end_mb - settled["rss_mb"]) / settled["rss_mb"] * 100 if settled is not tally.slices[-1] else None
    # The same, from each slice's median sample (end-of-slice samples catch model runs in flight): the first
    # slice that begins after the warm-up against the last.
    after_warmup = next((s for s in tally.slices if s["completed"] - tally.slice >= tally.warmup), tally.slices[-1])
    median_growth = ((tally.slices[-1]["rss_median_mb"] - after_warmup["rss_median_mb"])
                     / after_warmup["rss_median_mb"] * 100)
    answered = [v for v in tally.latency_ms if v is not None]
    return {
        "date": datetime.date.today().isoformat(), "trial": args.questions < FULL_RUN,
        "questions": args.questions, "concurrency": args.concurrency, "slice": tally.slice, "warmup": tally.warmup,
        "seconds": round(seconds, 1), "questions_per_second": round(args.questions / seconds, 2),
        "bot_cpu_seconds": round(bot_cpu, 1), "cpus": os.cpu_count(),
        "load_before": load_before, "load_after": load_after,
        "articles": len(list((SHARED_EVAL / "news-dev" / "corpus").iterdir())) + 1,
        "rss_mb": {"ready": round(ready_mb, 1), "start": round(start_mb, 1), "after_warmup": tally.warmup_mb,
                   "end": end_mb, "growth_after_warmup_pct": round(growth, 2),
                   "after_events": {"completed": settled["completed"], "rss_mb": settled["rss_mb"]},
                   "growth_after_events_pct": round(steady, 2) if steady is not None else None,
                   "max_sampled": round(max(kb for _, kb in sampler.samples) / 1024, 1),
                   "median_after_warmup": {"completed": after_warmup["completed"],
                                           "rss_mb": after_warmup["rss_median_mb"]},
                   "median_end": tally.slices[-1]["rss_median_mb"],
                   "median_growth_after_warmup_pct": round(median_growth, 2),
                   "per_slice": [{"completed": s["completed"], "rss_mb": s["rss_mb"],
                                  "rss_median_mb": s["rss_median_mb"]} for s in tally.slices]},
        "latency_all": {"p50_ms": round(percentile(answered, 50), 1) if answered else None,
                        "p95_ms": round(percentile(answered, 95), 1) if answered else None},
        "latency": latency, "slices": tally.slices, "replies": tally.verdicts,
        "events": run.events, "final_index": final,
        "errors": {"total": errors, "failed_or_missing_replies": failed, "failures": tally.failures,
                   "log_errors": log_report["errors"][:20], "tracebacks": log_report["tracebacks"],
                   "log_warnings": log_report["warnings"][:20], "fake_problems": fake.problems[:20],
                   "unknown_routes": fake.unknown[:20], "bot_exit_status": exit_status,
                   "token_leaked": log_report["token_leaked"], "bot_log_lines": log_report["lines"]},
        "gateway": {"identifies": fake.identifies, "resumes": len(fake.resumes), "heartbeats": len(fake.heartbeats)},
        "fake_records_left": len(fake.sent),
    }


# --- publishing ----------------------------------------------------------------------------------------------

def write_section(r: dict[str, Any], results: Path) -> None:
    """Replace (or add) the soak section of RESULTS.md."""
    rss, errors, final = r["rss_mb"], r["errors"], r["final_index"]
    met = "yes" if rss["median_growth_after_warmup_pct"] <= 5 else "no"
    title = "## Soak and load (issue 15)"
    if r["trial"]:
        title += f" — trial run, {r['questions']:,} questions, not the {FULL_RUN:,}-question soak"
    minutes = r["seconds"] / 60
    growth = rss["growth_after_events_pct"]
    after_events = f"{growth:+.2f} %" if growth is not None else "– (no questions after the events)"
    lines = [
        BEGIN, title, "",
        f"Measured {r['date']} with `.venv/bin/python benchmarks/soak.py --questions {r['questions']}`: one "
        f"`articlebot run` process (the real discord.py client over loopback sockets) against the tests' fake "
        f"Discord, serving the seed article and the news-dev articles ({r['articles']} files). "
        f"{r['questions']:,} questions from the shared eval sets, 80 % of them with one to three new made-up words, "
        f"alternately as /ask (a fifth of those private) and as @mentions, {r['concurrency']} at a time, in "
        f"{minutes:.1f} min ({r['questions_per_second']} questions/s; the bot used {r['bot_cpu_seconds']} s of CPU). "
        f"Meanwhile, after 30 %, 45 % and 60 % of the questions: /reindex after changing an article, "
        f"`articlebot index` in another process after adding one, /reindex after changing another. "
        f"{r['cpus']} cores; load average before/after {r['load_before'][0]:.1f} / {r['load_after'][0]:.1f} "
        "(the soak itself keeps both cores busy: the bot, and the fake Discord with its question senders; a load "
        "well over the core count means other work shared them and latencies are pessimistic).", "",
        "| resident memory of the bot | MB |", "|---|---|",
        f"| ready (index loaded) | {rss['ready']} |",
        f"| start (after the first answer) | {rss['start']} |",
        f"| after {r['warmup']:,} questions (warm-up) | {rss['after_warmup']} |",
        f"| after {r['questions']:,} questions | {rss['end']} |",
        f"| growth after warm-up, from these two samples | {rss['growth_after_warmup_pct']:+.2f} % |",
        f"| median of the samples over questions {rss['median_after_warmup']['completed'] - r['slice'] + 1:,}-"
        f"{rss['median_after_warmup']['completed']:,} (first slice after the warm-up) "
        f"| {rss['median_after_warmup']['rss_mb']} |",
        f"| median of the samples over the last {r['slice']:,} questions | {rss['median_end']} |",
        f"| **growth after warm-up, medians (target ≤ 5 %)** | **{rss['median_growth_after_warmup_pct']:+.2f} %** "
        f"({met}) |",
        f"| after the events (question {rss['after_events']['completed']:,}) | {rss['after_events']['rss_mb']} |",
        f"| growth from there to the end | {after_events} |",
        f"| highest sample (every 50 ms) | {rss['max_sampled']} |", "",
        "| event | after question | s | questions meanwhile | RSS before → peak → after, MB | served after |",
        "|---|---|---|---|---|---|",
    ]
    for e in r["events"]:
        peak = max(e["rss_peak_mb"], e["rss_hwm_mb"] or 0)
        probe = e["probe"]
        served = f"yes ({probe['tries']} tr{'y' if probe['tries'] == 1 else 'ies'})" if probe["found"] else "NO"
        lines.append(f"| {e['event']} ({e['file']}) | {e['at_question']:,} | {e['seconds']} | "
                     f"{e['questions_meanwhile']} | {e['rss_before_mb']} → {peak} (+{peak - e['rss_before_mb']:.1f}) "
                     f"→ {e['rss_after_mb']} | {served} |")
    lines += ["", "Peaks are the higher of the kernel's high-water mark (VmHWM, reset before each event) and the "
              "highest 50 ms sample; the CLI event's window runs until the bot has answered from the new generation.",
              "One sample lands wherever the models happen to be: every model run maps its working memory and "
              "hands it back afterwards, so samples a second apart differ by tens of MB. The target is judged on "
              "medians of all the 50 ms samples over a slice of questions.",
              "", "| questions | p50 ms | p95 ms | max ms | RSS at the end, MB | median RSS, MB | "
              "bot CPU ms / question |",
              "|---|---|---|---|---|---|---|"]
    for row, part in zip(r["latency"], r["slices"], strict=True):
        lines.append(f"| {row['questions']} | {row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} | "
                     f"{part['rss_mb']} | {part['rss_median_mb']} | {part['bot_cpu_ms_per_question']} |")
    replies = ", ".join(f"{count:,} {verdict}" for verdict, count in sorted(r["replies"].items()))
    lines += ["", f"Latency is from the gateway event sent to the reply received, including waiting for a free "
              f"question thread; over the whole run p50 {r['latency_all']['p50_ms']} ms, p95 "
              f"{r['latency_all']['p95_ms']} ms. Replies: {replies}.", "",
              f"Errors: **{errors['total']}** ({errors['failed_or_missing_replies']} failed or missing replies, "
              f"{len(errors['log_errors'])} error log lines, {len(errors['fake_problems'])} messages the fake refused, "
              f"bot exit status {errors['bot_exit_status']}, "
              f"token in the log: {'yes' if errors['token_leaked'] else 'no'}; "
              f"{len(errors['log_warnings'])} warnings). Gateway: {r['gateway']['identifies']} IDENTIFY, "
              f"{r['gateway']['resumes']} RESUME.", "",
              f"Final index: CURRENT names `{final['current']}`; the bot has memory-mapped the vectors of "
              f"{', '.join(f'`{g}`' for g in final['generations_mapped_by_bot']) or 'no generation'}; /status shows "
              f"{final['status_articles']} articles (manifest: {final['manifest_articles']}) and "
              f"{'the' if final['status_matches_manifest'] else 'NOT the'} manifest's build time; all three changes "
              f"{'are' if all(p['found'] for p in final['probes']) else 'are NOT all'} answered. Newest served: "
              f"**{'yes' if final['newest_served'] else 'no'}**.", END]
    replace_section(results, BEGIN, END, "\n".join(lines))


def main() -> None:
    """Parse the options, run the soak, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=FULL_RUN, help=f"questions to ask (default {FULL_RUN:,})")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="questions in flight at once (default 2; the bot allows 4 per server)")
    parser.add_argument("--slice", type=int, default=0,
                        help="questions per latency slice (default 1,000, less for short runs)")
    parser.add_argument("--seed", type=int, default=15, help="random seed for questions and made-up words")
    parser.add_argument("--json", type=Path, default=HERE / "results-soak.json", help="where to write the figures")
    parser.add_argument("--markdown", type=Path, default=HERE / "RESULTS.md",
                        help="the RESULTS.md whose soak section to write")
    args = parser.parse_args()
    if args.questions < 20 or not 1 <= args.concurrency <= 3:
        parser.error("--questions must be at least 20 and --concurrency from 1 to 3 (the bot allows 4 per server)")
    result = asyncio.run(soak(args))
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    write_section(result, args.markdown)
    print(f"errors: {result['errors']['total']}; "
          f"RSS growth after warm-up {result['rss_mb']['growth_after_warmup_pct']} % "
          f"(medians {result['rss_mb']['median_growth_after_warmup_pct']} %); "
          f"newest index served: {result['final_index']['newest_served']}", flush=True)


if __name__ == "__main__":
    main()
