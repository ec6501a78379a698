"""`ablate ladder`: an ablation's runs at every rung of the scale ladder (presets of one shape rule, smallest
first), as ordinary runs sent together: same ids, resumable, one array on a cluster. Every rung must read its
training split at most once; a corpus too small for that is refused before anything is written."""

from __future__ import annotations

import argparse

from ablations.cli.run import _corpus, _design, run_specs, specs_at
from ablations.declare.flag_kinds import UsageError
from models import non_embedding_params


def cmd_ladder(args: argparse.Namespace) -> int:
    args.preset = args.rungs[-1]  # the largest rung says whether a cluster job asks for GPUs
    designs = {rung: _design(args, rung) for rung in args.rungs}
    corpus = _corpus(args, max(design.context for design in designs.values()))
    pilots = {rung: specs_at(args, design, corpus) for rung, design in designs.items()}
    over = {}
    for rung, specs in pilots.items():
        most = max(specs, key=lambda spec: spec.passes)
        baseline = next((s for s in specs if s.variant == designs[rung].ablation.baseline), most)
        print(f"{rung}: {non_embedding_params(baseline.model) / 1e6:.2f}M non-embedding parameters ({baseline.variant}), "
              f"{most.train.steps:,} steps, {most.train.steps * most.train.batch_size * most.model.context / 1e6:.2f}M "
              f"tokens, {most.passes:.2f} passes, {len(specs)} run(s)")
        if most.passes > 1:
            over[rung] = most.passes
    if over:
        raise UsageError(f"--rungs {','.join(over)}: their runs would read the training split of {corpus.name} "
                         f"{', '.join(f'{p:.2f}' for p in over.values())} times; a ladder is single-pass at every rung: "
                         "give --data a larger corpus (stdlib holds ~30 MB; hf:... a dataset) or leave those rungs out")
    return run_specs(args, list(pilots.values()))
