"""Preparing a corpus, measured: each phase (the streamed copy into the cache, then tokenising both splits) in a
fresh process of its own, so each peak resident memory is that phase's alone. Prints seconds, MB/s of corpus bytes
and peak RSS per phase. Usage: python -m ablations.bench.prepare_bench PATH [TOKENIZER] (a fresh $ABLATE_CACHE
measures a first preparation; a warm one measures finding it again)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PHASE = """
import json, resource, sys, time
from ablations.data.corpus import load_corpus
began = time.monotonic()
corpus = load_corpus(sys.argv[1], context=64)
if sys.argv[2] != "bytes":
    corpus = corpus.tokenized(sys.argv[2])
print(json.dumps({"s": time.monotonic() - began, "bytes": corpus.n_tokens,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(path: str, tokenizer: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PHASE, path, tokenizer], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    path, tokenizer = argv[0], argv[1] if len(argv) > 1 else "bytes"
    threads = os.environ.get("RAYON_NUM_THREADS", str(len(os.sched_getaffinity(0))))
    print(f"corpus {path}; tokenizer threads {threads}; cache {os.environ.get('ABLATE_CACHE', '(default)')}")
    for phase in ["bytes", *([tokenizer] if tokenizer != "bytes" else [])]:
        m = measure(path, phase)
        print(f"{phase:>12}: {m['s']:8.1f} s  {m['bytes'] / 1e6 / m['s']:8.1f} MB/s  peak RSS {m['peak_rss_mb']:7.0f} MB "
              f"({m['bytes'] / 1e6:,.0f} MB corpus)")


if __name__ == "__main__":
    main(sys.argv[1:])
