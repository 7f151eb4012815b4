# Set-up, demo and tests. `make demo` and `make test` work on a fresh machine: both install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-quick lint eval eval-news train-reader train-ranker train-furniture clean

install: $(STAMP)

# torch goes in first and pinned: it is a local CPU wheel here, and an unpinned torch pulls in CUDA.
# The runtime alone (`pip install .`) needs no torch; tests and training do (the [torch] extra).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,train,torch]'
	touch $(STAMP)

demo: install
	$(BIN)/articlebot index
	@echo
	$(BIN)/articlebot ask "who was released?"

test: install
	$(BIN)/python -m pytest -q

# Everything but the tests that start PostgreSQL or the bot against the fake Discord, and the slow ones
# (their markers: pyproject.toml); `make test` runs them all.
test-quick: install
	$(BIN)/python -m pytest -q -m "not postgres and not discord and not slow"

lint: install
	$(BIN)/ruff check index bot tests benchmarks training
	$(BIN)/mypy index bot

eval: install
	$(BIN)/articlebot eval --corpus ../shared/eval/squad-dev/corpus --corpus ../shared/eval/squad-train/corpus \
		--questions ../shared/eval/squad-dev/questions.jsonl --questions ../shared/eval/squad-train/questions.jsonl \
		--offtopic benchmarks/offtopic-questions.txt

# All three shared sets: the SQuAD pair as one corpus, and the scraped news pages on their own.
eval-news: install
	$(BIN)/articlebot eval --corpus ../shared/eval/news-dev/corpus --questions ../shared/eval/news-dev/questions.jsonl \
		--offtopic benchmarks/offtopic-questions.txt

# Rebuild the shipped reading model (index/models/reader/) from ../shared/qa-train: about 80 minutes on 2 cores.
train-reader: install
	$(BIN)/python training/train_reader.py

# Rebuild the answer ranker and confidence model (index/models/ranker/) from ../shared/qa-train: about
# 25 minutes on 2 cores, a fixed seed.
train-ranker: install
	$(BIN)/python training/train_ranker.py

# Rebuild the furniture models (index/models/furniture/) from ../shared/qa-train, news-dev's pages and
# template furniture: about a minute on 2 cores, fixed seeds.
train-furniture: install
	$(BIN)/python training/train_furniture.py

# The model's ONNX files are kept per user, keyed by the weights (index/embedders/onnx_runtime.py): only those go,
# from ARTICLEBOT_MODEL_CACHE or the default $XDG_CACHE_HOME/articlebot, never anything else there.
MODEL_CACHE ?= $(or $(ARTICLEBOT_MODEL_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/articlebot)

clean:
	rm -rf $(VENV) data .pytest_cache
	rm -f '$(MODEL_CACHE)'/*.onnx
	rmdir '$(MODEL_CACHE)' 2>/dev/null || true
