"""The real `articlebot` command, run as a user runs it."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import termios
import threading
from importlib import metadata
from pathlib import Path

import pytest

from tests.commandline import ARTICLEBOT, cli_environment, run_articlebot
from tests.support import HARBOUR, REPO, SEED


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    (corpus / SEED.name).write_bytes(SEED.read_bytes())
    (corpus / "broken.txt").write_bytes(b"\x00\x00\x00")
    result = run_articlebot("index", "--corpus", str(corpus), "--index-dir", str(index))
    assert result.returncode == 0, result.stderr
    assert "skipped: broken.txt" in result.stdout
    assert "1 added" in result.stdout
    return corpus, index


def test_reindexing_an_unchanged_corpus_embeds_nothing(built: tuple[Path, Path]) -> None:
    corpus, index = built
    result = run_articlebot("index", "--corpus", str(corpus), "--index-dir", str(index))
    assert result.returncode == 0
    assert "already up to date" in result.stdout
    assert "0 chunks embedded" in result.stdout


def test_ask_prints_the_answer_and_numbered_quoted_sources(built: tuple[Path, Path]) -> None:
    result = run_articlebot("ask", "--corpus", str(built[0]), "--index-dir", str(built[1]), "who was released?")
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("\n\n")
    assert "three political prisoners" in answer
    assert answer.rstrip().endswith("[1]")
    # The passage is line 8 of the file, where `articlebot show` and an editor find it.
    assert sources.startswith("[1] Quiet Diplomatic Shift: U.S. Engages with Belarusian Leadership, line 8 (")
    assert SEED.read_text("utf-8").split("\n")[7].startswith("In a notable outcome of this trip, three political")


def test_ask_shows_the_answering_sentence_of_a_long_passage_with_its_phrase_marked_and_its_lines(
        tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(HARBOUR, "utf-8")
    assert run_articlebot("index", "--corpus", str(corpus), "--index-dir", str(index)).returncode == 0
    question = "Who lit the lanterns on the north pier?"
    asked = ("ask", "--corpus", str(corpus), "--index-dir", str(index), question)
    shown, as_json = run_articlebot(*asked), run_articlebot(*asked[:-1], "--json", question)
    assert shown.returncode == 0, shown.stderr
    answer = json.loads(as_json.stdout)
    (sentence,) = answer["sentences"]
    cited = answer["citations"][sentence["citation"] - 1]
    # The case of the issue: the answering sentence lies past the opening that used to be shown.
    assert sentence["start"] - cited["start"] > 300
    phrase = sentence["text"][sentence["highlight"][0]:sentence["highlight"][1]]
    assert phrase == "Mira Kovac"
    # The JSON's line is the file's line where the quote starts (its first line is that line's text).
    lines = HARBOUR.split("\n")
    assert cited["line"] == 1
    assert lines[cited["line"] - 1] == cited["quote"].split("\n")[0]
    assert answer["citations"][1]["line"] == 7
    assert lines[6] == answer["citations"][1]["quote"]
    sources = shown.stdout.partition("\n\n")[2]
    assert sources.startswith("[1] Brellin harbour reopens, lines 1–5 (harbour.txt)\n")
    assert "[2] Brellin harbour reopens, line 7 (harbour.txt)" in sources
    wrapped = sources.split("\n[2]")[0].split("\n", 1)[1]  # source [1]'s quote, wrapped and indented
    quoted = " ".join(wrapped.split())
    assert quoted.startswith('"…'), "cut before the sentence"
    assert quoted.endswith('quay."'), "the sentence whole, to the passage's end"
    assert "were lit by «Mira Kovac», the harbour master's daughter, as the town band played on the quay." in quoted
    # Only the marks and the ellipsis are added: the rest is the article's text (wrapped at spaces).
    article = " ".join(HARBOUR.split())
    assert quoted[2:-1].replace("«", "").replace("»", "") in article


def test_ask_json_prints_one_object_per_question(built: tuple[Path, Path], tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "who was released?"}\n\n{"question": "What is the capital of Australia?"}\n'
                         '{"question": "   "}\n')
    corpus, index = built
    result = run_articlebot("ask", "--corpus", str(corpus), "--index-dir", str(index), "--json", "--questions",
                            str(questions))
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stderr
    released, australia, empty = (json.loads(line) for line in lines)
    assert not released["abstained"]
    assert australia["abstained"]
    assert empty["error"]
    assert [r["declined"] for r in (released, australia, empty)] == [False, True, True]  # = "abstained"
    text = SEED.read_text("utf-8")
    for citation in released["citations"]:
        assert text[citation["start"]:citation["end"]] == citation["quote"]
        assert text.split("\n")[citation["line"] - 1].startswith(citation["quote"].split("\n")[0])
        assert citation["source"] == SEED.name
        assert citation["url"] is None
    assert result.returncode == 1  # one question could not be asked


def test_ask_piped_into_a_reader_that_stops_early_ends_quietly(built: tuple[Path, Path], tmp_path: Path) -> None:
    questions = tmp_path / "many.txt"
    questions.write_text("who was released?\n" * 200)  # far more output than a pipe holds
    process = subprocess.Popen([*ARTICLEBOT, "ask", "--index-dir", str(built[1]), "--questions", str(questions)],
                               cwd=REPO, env=cli_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    assert process.stderr is not None
    assert process.stdout.readline() == "Q: who was released?\n"  # `| head -1`
    process.stdout.close()
    error = process.stderr.read()
    assert process.wait(timeout=300) == 141
    assert "Traceback" not in error, error
    assert "Broken pipe" not in error, error


def test_show_prints_the_text_offsets_refer_to(built: tuple[Path, Path]) -> None:
    result = run_articlebot("show", "--index-dir", str(built[1]), SEED.name)
    assert result.returncode == 0
    assert result.stdout == SEED.read_text("utf-8")


def test_missing_corpus_missing_index_and_bad_arguments_say_what_to_do(tmp_path: Path) -> None:
    missing = run_articlebot("index", "--corpus", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "i"))
    assert missing.returncode != 0
    assert "does not exist" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run_articlebot("index", "--corpus", str(tmp_path / "empty"), "--index-dir", str(tmp_path / "i"))
    assert empty.returncode != 0
    assert "holds no articles" in empty.stderr
    no_index = run_articlebot("ask", "--index-dir", str(tmp_path / "i"), "who?")
    assert no_index.returncode != 0
    assert "articlebot index" in no_index.stderr
    neither = run_articlebot("ask", "--index-dir", str(tmp_path / "i"))
    assert neither.returncode == 2
    assert "give a question" in neither.stderr
    assert "Traceback" not in missing.stderr + empty.stderr + no_index.stderr + neither.stderr


@pytest.mark.parametrize("command", ["index", "ask", "show", "sources", "eval", "run"])
def test_every_command_explains_itself_with_an_example(command: str) -> None:
    result = run_articlebot(command, "--help")
    assert result.returncode == 0
    assert "example" in result.stdout


def test_global_options_work_before_and_after_the_command(built: tuple[Path, Path], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[index]\ncorpus_dir = '{built[0]}'\nindex_dir = '{built[1]}'\n", "utf-8")
    for args in (("sources", "--config", str(config)), ("--config", str(config), "sources")):
        result = run_articlebot(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout.startswith(f"{SEED.name}: "), args  # the index the config names
    # -v before or after the command: the build says (at INFO) why it builds from scratch.
    for n, args in enumerate((("index", "--config", str(config), "-v"), ("--verbose", "--config", str(config), "index"),
                              ("index", "--config", str(config)))):
        result = run_articlebot(*args, "--index-dir", str(tmp_path / f"index{n}"), cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        verbose = "-v" in args or "--verbose" in args
        assert ("INFO index.store.embedded.build: building from scratch" in result.stderr) == verbose


def test_version_and_a_bare_command_line_answer_without_an_error() -> None:
    version = run_articlebot("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"articlebot {metadata.version('articlebot')}"
    bare = run_articlebot()
    assert bare.returncode == 2
    assert bare.stdout.startswith("usage: articlebot")
    assert "ask " in bare.stdout  # the whole help: the commands, and the examples
    assert "examples:" in bare.stdout
    assert "error" not in bare.stdout + bare.stderr
    feeds = run_articlebot("feeds")
    assert feeds.returncode == 2
    assert "sync " in feeds.stdout
    assert "list " in feeds.stdout
    assert "error" not in feeds.stdout + feeds.stderr


def test_ask_records_its_questions_only_when_the_config_says_so(built: tuple[Path, Path], tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(built[1], index)
    config = tmp_path / "config.toml"
    config.write_text(f"[index]\nindex_dir = '{index}'\n", "utf-8")
    assert run_articlebot("ask", "--config", str(config), "What is the capital of Australia?").returncode == 0
    nothing = run_articlebot("gaps", "--config", str(config), "--json")
    assert nothing.returncode == 0, nothing.stderr  # only the CLI was used: an empty record, not an error
    assert json.loads(nothing.stdout) == {"days": 30, "gaps": []}
    said = run_articlebot("gaps", "--config", str(config))
    assert said.returncode == 0
    assert "No questions are recorded" in said.stdout

    config.write_text(f"[index]\nindex_dir = '{index}'\n[record]\ncli = true\n", "utf-8")
    assert run_articlebot("ask", "--config", str(config), "What is the capital of Australia?").returncode == 0
    assert run_articlebot("ask", "--config", str(config), "who was released?").returncode == 0  # answered: no gap
    found = run_articlebot("gaps", "--config", str(config), "--json")
    assert found.returncode == 0, found.stderr
    [gap] = json.loads(found.stdout)["gaps"]
    assert gap["questions"] == ["What is the capital of Australia?"]
    assert gap["declined"] == 1


def test_run_without_a_token_says_how_to_give_one(tmp_path: Path) -> None:
    result = run_articlebot("run", "--index-dir", str(tmp_path / "i"))
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr


@pytest.mark.parametrize("k", ["0", "-1", "21", "three"])
def test_a_top_k_that_cannot_be_cited_is_refused(built: tuple[Path, Path], k: str) -> None:
    _, index = built
    result = run_articlebot("ask", "--index-dir", str(index), "--top-k", k, "who was released?")
    assert result.returncode == 2
    assert "--top-k" in result.stderr
    assert not result.stdout


def test_json_lines_stay_one_line_when_a_quote_holds_a_line_separator(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    text = "The ferry left Dover at noon.\u2028It reached Calais at two.\u2029 Nobody was hurt.\n"
    (corpus / "sep.txt").write_text(text, "utf-8")
    assert run_articlebot("index", "--corpus", str(corpus), "--index-dir", str(index)).returncode == 0
    result = run_articlebot("ask", "--index-dir", str(index), "--json", "When did the ferry leave?", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()  # str.splitlines breaks at U+2028 and U+2029 too
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert all(text[c["start"]:c["end"]] == c["quote"] for c in answer["citations"])
    assert any("\u2028" in c["quote"] for c in answer["citations"])


def test_show_says_when_the_file_changed_since_it_was_indexed(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / SEED.name).write_bytes(SEED.read_bytes())
    assert run_articlebot("index", "--corpus", str(corpus), "--index-dir", str(index)).returncode == 0
    unchanged = run_articlebot("show", "--corpus", str(corpus), "--index-dir", str(index), SEED.name)
    assert unchanged.returncode == 0
    assert "changed since" not in unchanged.stderr
    (corpus / SEED.name).write_text("Edited after indexing.\n" + SEED.read_text("utf-8"), "utf-8")
    edited = run_articlebot("show", "--corpus", str(corpus), "--index-dir", str(index), SEED.name)
    assert edited.returncode == 0
    assert edited.stdout.startswith("Edited after indexing.")
    assert "changed since it was indexed" in edited.stderr
    assert "articlebot index" in edited.stderr


def test_a_named_pipe_and_a_name_that_is_not_utf8_are_skipped_with_the_reason(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / SEED.name).write_bytes(SEED.read_bytes())
    os.mkfifo(corpus / "pipe.txt")  # opening it to read would wait for a writer forever
    with open(os.path.join(os.fsencode(corpus), b"bad\xffname.txt"), "wb") as f:
        f.write(b"The ferry left Dover at noon and reached Calais at two, its captain said.\n")
    result = run_articlebot("index", "--corpus", str(corpus), "--index-dir", str(index))
    assert result.returncode == 0, result.stderr
    assert "skipped: pipe.txt — a named pipe, not a regular file, so it is not read" in result.stdout
    assert "skipped: bad\\xffname.txt — its name is not valid UTF-8; rename the file" in result.stdout
    assert "1 added" in result.stdout
    again = run_articlebot("index", "--corpus", str(corpus), "--index-dir", str(index))
    assert again.returncode == 0, again.stderr
    assert "0 added" in again.stdout


def test_an_article_over_the_passage_limit_is_skipped_with_the_reason(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / SEED.name).write_bytes(SEED.read_bytes())
    sentence = "The council met on Tuesday and agreed the budget for the new library after a long debate. "
    (corpus / "book.txt").write_text(sentence * 2_000, "utf-8")  # 180 kB on one line
    config = tmp_path / "config.toml"
    config.write_text(f"[index]\ncorpus_dir = '{corpus}'\nindex_dir = '{index}'\nmax_chunks_per_article = 50\n")
    result = run_articlebot("index", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "skipped: book.txt — it makes " in result.stdout
    assert "passages, more than the 50 one article may have (index.max_chunks_per_article)" in result.stdout
    assert "1 added" in result.stdout


def test_a_question_that_is_not_text_is_refused_in_plain_words(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, index = built
    result = run_articlebot("ask", "--index-dir", str(index), b"who \xff was released?")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "articlebot: the question holds bytes that are not text (not valid UTF-8" in result.stderr

    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "who \\ud800 was released?"}\n'
                         '{"question": "who was\\u0085released?"}\n', "utf-8")
    result = run_articlebot("ask", "--index-dir", str(index), "--json", "--questions", str(questions))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    first, second = result.stdout.split("\n")[:2]  # U+0085 is a line end to str.splitlines: written escaped
    assert "\\u0085" in second
    assert "\u0085" not in result.stdout
    refused, answered = json.loads(first), json.loads(second)
    assert refused["question"] == "who \ud800 was released?"
    assert "half of a character" in refused["error"]
    assert answered["question"] == "who was\u0085released?"
    assert not answered["abstained"]


def test_eval_shows_its_progress_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / SEED.name).write_bytes(SEED.read_bytes())
    text = SEED.read_text("utf-8")
    gold = "three political prisoners"
    rows = [{"question": question, "article": SEED.name, "impossible": False,
             "answers": [{"text": gold, "start": text.index(gold), "end": text.index(gold) + len(gold)}]}
            for question in ("who was released?", "Who was freed?", "Who were let go?")]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    terminal, stderr = pty.openpty()  # stderr a terminal, as a user running it sees it
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # one with a width, for tqdm
    shown = bytearray()
    reader = threading.Thread(target=_read_all, args=(terminal, shown))
    reader.start()
    try:
        result = run_articlebot("eval", "--corpus", str(tmp_path / "corpus"), "--questions", str(questions), "--json",
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=stderr)
    finally:
        os.close(stderr)
        reader.join(30)
    assert result.returncode == 0, shown.decode(errors="replace")
    assert json.loads(result.stdout)["questions"] == 3
    bars = shown.decode(errors="replace")
    assert "embedding" in bars
    assert "asking" in bars
    assert "3/3" in bars
    assert "question" in bars


def _read_all(terminal: int, into: bytearray) -> None:
    """Read a pseudo-terminal until its other end is closed."""
    try:
        while data := os.read(terminal, 4096):
            into.extend(data)
    except OSError:  # EIO: the other end closed
        pass
    finally:
        os.close(terminal)
