"""`ablate list` and `ablate archs`: what the catalogue and the architecture survey hold, printed (nothing trains)."""

from __future__ import annotations

import argparse

from ablations.catalogue import all_ablations
from ablations.declare.flag_kinds import UsageError
from ablations.declare.presets import PRESETS
from ablations.declare.spec import GROUPS, Ablation


def cmd_list(args: argparse.Namespace) -> int:
    ablations = all_ablations().values()
    for group in GROUPS:
        print(f"## {group}\n")
        for ablation in (a for a in ablations if a.group == group):
            _describe(ablation)
    print("presets: " + "; ".join(f"{name}: {p.description} ({p.tokens:,} tokens a run, "
                                  f"{p.tokens_per_parameter():,.1f} per non-embedding parameter)" for name, p in PRESETS.items()))
    return 0


def _describe(ablation: Ablation) -> None:
    print(f"{ablation.name}\n  headline: {ablation.headline}\n  source:   {ablation.source}")
    for name, overrides in ablation.variants.items():
        role = " (baseline)" if name == ablation.baseline else ""
        print(f"  variant:  {name}{role}: {', '.join(f'{k}={v}' for k, v in overrides.items())}")
    for claim in ablation.claims:
        margin = f" (margin {claim.margin:g})" if claim.margin else ""
        print(f"  claim:    {claim.says} ({claim.treatment} vs {claim.baseline}, {claim.metric} {claim.direction}{margin})")
    lrs = ", ".join(f"{lr:g}" for lr in ablation.lrs) or "the preset's"
    first = f" from seed {ablation.first_seed}" if ablation.first_seed else ""
    print(f"  seeds:    {ablation.seeds} by default{first}; LRs: {lrs}\n")


ARCHS_START, ARCHS_END = "<!-- archs:start -->", "<!-- archs:end -->"


def cmd_archs(args: argparse.Namespace) -> int:
    from ablations.reporting.markdown import SURVEY_BLOCK, fill_block
    from models.survey import rules_markdown
    from models.zoo import spreadsheet_markdown

    blocks = {(ARCHS_START, ARCHS_END): spreadsheet_markdown(), SURVEY_BLOCK: rules_markdown()}
    texts = {path: path.read_text() for path in args.write or []}
    for path, text in texts.items():
        if not any(start in text and end in text for start, end in blocks):
            raise UsageError(f"{path} has no {ARCHS_START} … {ARCHS_END} or {' … '.join(SURVEY_BLOCK)} block to fill")
    print("\n\n".join(blocks.values()))
    for path, text in texts.items():
        for block, body in blocks.items():
            text = fill_block(text, block, body)
        path.write_text(text)
        print(f"filled the blocks of {path}")
    if args.figure:
        from ablations.reporting.survey_figure import plot_survey

        print(f"drew {plot_survey(args.figure)}")
    return 0
