"""`ablate prepare`: a corpus made ready once (copied into the cache, tokenised into shards) before runs or a
cluster array read it; every later `ablate run` with the same --data and --tokenizer finds it without work."""

from __future__ import annotations

import argparse
import time

from ablations.data.corpus import CorpusError, cache_dir, default_corpus, load_corpus, tokens_per_byte
from ablations.data.tokenizer import BYTES
from ablations.declare.flag_kinds import UsageError

MIN_CONTEXT = 64  # the smallest validation split worth preparing; a run with a longer context checks its own


def cmd_prepare(args: argparse.Namespace) -> int:
    began = time.monotonic()
    try:
        corpus, notice = (load_corpus(args.data, MIN_CONTEXT, say=print), "") if args.data else default_corpus(MIN_CONTEXT)
        if notice:
            print(notice)
        print(f"corpus: {corpus.name}, {corpus.n_tokens:,} bytes, sha256 {corpus.sha256[:12]} (in {cache_dir()})")
        if args.tokenizer != BYTES:
            corpus = corpus.tokenized(args.tokenizer, say=print)
            print(f"tokenizer {args.tokenizer}: {tokens_per_byte(corpus, 'val'):.3f} tokens per validation byte, "
                  f"vocabulary sha256 {corpus.tokenizer_sha256[:12]}")
    except CorpusError as error:
        raise UsageError(str(error)) from None
    print(f"ready in {time.monotonic() - began:.1f} s; runs name it with: --data {args.data or corpus.name} "
          f"--tokenizer {args.tokenizer}")
    return 0
