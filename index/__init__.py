"""articlebot's engine: corpus, chunking, embedding, FAISS and BM25 retrieval, extractive answers.

It never imports discord; the CLI, the bot and the tests all use it through `index.engine.Engine`.
"""

import os

# FAISS and torch both run OpenMP thread pools; with the default spin-waiting, idle threads of one
# steal the cores the other is computing on (measured: a 10 s test took 100 s on 2 cores). This
# must be set before either library loads, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# How log lines look, in the CLI and the bot and in an index build's own process (index/store/build_process.py).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
