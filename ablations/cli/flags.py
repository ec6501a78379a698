"""Every subcommand's flags, declared once: its kind (what values it takes), default and help.

The CLI builds its parser from this table and checks every value against it before a command starts
(`declare.flag_kinds.check_flags`); tests draw bad values for each entry. A flag that depends on another is
declared after it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ablations.data.corpus import cache_dir
from ablations.data.tokenizer import BYTES, HUB, MAX_BPE, bpe_size, from_hub, is_file, pretrained
from ablations.declare.flag_kinds import (
    Command,
    EditFile,
    Flag,
    Folder,
    ListOf,
    OneOf,
    OutFile,
    Positive,
    Refused,
    Switch,
    TextSource,
    Whole,
)
from ablations.declare.presets import LADDER, PRESETS
from ablations.jobs.executors import DEFAULT, EXECUTORS

USER_RESULTS = "ablate-results"  # a user's own runs: never the repository's committed reference in results/
DTYPES = ("float32", "bfloat16")


def _ablations(args: argparse.Namespace) -> list[str]:
    from ablations.catalogue import all_ablations

    return list(all_ablations())


def _variants(args: argparse.Namespace) -> list[str]:
    from ablations.catalogue import all_ablations

    return list(all_ablations()[args.name].variants)


class Tokenizer:
    ALLOWED = (f"give bytes, bpe:N with N from 257 to {MAX_BPE} (e.g. bpe:2048), a byte-level tokenizer.json, or "
               "hf:NAME (a hub repository's)")

    def parse(self, text: str, args: argparse.Namespace) -> str:
        if text.startswith(HUB):  # fetched (or found in the Hugging Face cache) once, then a file like any other
            try:
                text = str(from_hub(text[len(HUB):], cache_dir() / "tokenizers"))
            except ValueError as why:
                raise Refused(str(why)) from None
        if is_file(text):  # a pretrained tokenizer: checked here, so a bad file stops before any corpus is read
            path = Path(text).expanduser().resolve()
            if not path.is_file():
                raise Refused(f"{self.ALLOWED}; {path} is not a file")
            try:
                pretrained(str(path))
            except ValueError as why:
                raise Refused(f"{self.ALLOWED}; {why}") from None
            return str(path)
        try:
            bpe_size(text)
        except ValueError:
            raise Refused(self.ALLOWED) from None
        return text


def _wandb_usable(wanted: bool, args: argparse.Namespace) -> str | None:
    from ablations.training.run_logger import wandb_unusable

    return wandb_unusable() if wanted else None


def _executors(args: argparse.Namespace) -> list[str]:
    return list(EXECUTORS)  # read when checked, so an executor registered later is a choice too


def _executor_usable(executor: str, args: argparse.Namespace) -> str | None:
    return EXECUTORS[executor].unusable()


def _parallel_limit(args: argparse.Namespace) -> tuple[int | None, str]:
    return EXECUTORS[args.executor].parallel_limit()


def _below_smallest_context(args: argparse.Namespace) -> tuple[int | None, str]:
    return min(args.contexts) - 1, "below the smallest --contexts"


def _cuda_visible(device: str, args: argparse.Namespace) -> str | None:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return "no CUDA device is visible; use --device cpu"
    return None


def results_dir_default() -> str:
    return os.environ.get("ABLATE_RESULTS") or USER_RESULTS


def _results_label() -> str:
    return "$ABLATE_RESULTS" if os.environ.get("ABLATE_RESULTS") else f"--results-dir (default ./{USER_RESULTS})"


def results_dir(write: bool, what: str = "") -> Flag:
    return Flag("--results-dir", Folder(write), metavar="DIR", default=results_dir_default, default_label=_results_label,
                help=what or f"where runs and reports go (default: $ABLATE_RESULTS or ./{USER_RESULTS}; the repository's "
                "committed reference runs are in results/)")


ABLATION = Flag("ablation", OneOf("ablation", _ablations), dest="name", metavar="NAME",
                help="ablation name (see `ablate list`)", example="rmsnorm_vs_layernorm")
PRESET = OneOf("preset", list(PRESETS))
DEVICE = Flag("--device", OneOf("device", ("cpu", "cuda")), check=_cuda_visible, help="default: cuda when visible, else cpu")
THREADS = Flag("--threads", Whole(1), metavar="N", help="torch CPU threads (default: torch's; CPU timings depend on it "
               "and on other load, and the report records it)")
ROUNDS = Flag("--rounds", Whole(2), default="30", metavar="N", help="timed rounds, each timing every variant once (30)")
WARMUP = Flag("--warmup", Whole(0), default="5", metavar="N", help="untimed rounds first (5)")
EXECUTOR_HELP = "; ".join(f"{name}: {executor.help}" + (" (default)" if name == DEFAULT else "")
                          for name, executor in EXECUTORS.items())

RUN = [
    ABLATION,
    Flag("--preset", PRESET, default="tiny", metavar="NAME", help=f"size and budget: {', '.join(PRESETS)} (default: tiny)"),
    Flag("--seeds", Whole(1, words=("auto",)), metavar="N|auto", help="seeds per variant, from the ablation's first seed "
         "(default: its pilot); auto: the pilot, then as many seeds for the claims' variants as the pilot's spread says "
         "their targets need (Stein 1945)"),
    Flag("--max-seeds", Whole(1), metavar="N", help="cap on the seeds --seeds auto runs (default: the ablation's "
         "declared cap, 10 unless its catalogue file says otherwise)"),
    Flag("--lrs", ListOf(Positive()), metavar="LR,LR", help="learning rates to sweep (default: the ablation's, else the "
         "preset's)"),
    Flag("--variants", ListOf(OneOf("variant", _variants)), metavar="A,B",
         help="comma-separated subset of the ablation's variants (default: all)"),
    Flag("--data", TextSource(("shakespeare", "stdlib")), metavar="CORPUS", help="shakespeare, stdlib, a path to a "
         "text file or directory, or a Hugging Face dataset: hf:NAME (the hub, cached once) or hf:PATH (local parquet, "
         "jsonl or arrow files), then :field=F (default text), :split=S (default train), :config=C "
         "(default: shakespeare if a local copy exists, else stdlib)"),
    Flag("--tokenizer", Tokenizer(), default=BYTES, metavar="bytes|bpe:N|FILE.json|hf:NAME", help="bytes (default), a "
         "byte-level BPE of N tokens trained on the training split and cached, a pretrained byte-level tokenizer.json "
         "(GPT-2 style), or hf:NAME, a hub repository's tokenizer.json (e.g. hf:gpt2; cached once); part of each run's "
         "identity; losses are reported in nats per byte, exactly, either way"),
    Flag("--compile", Switch(), help="torch.compile each model (fused kernels; part of the run's identity; the first "
         "step's excess time, mostly compilation, is recorded apart from the step-time metrics)"),
    Flag("--executor", OneOf("executor", _executors), default=DEFAULT, check=_executor_usable,
         metavar="|".join(EXECUTORS), help=EXECUTOR_HELP),
    Flag("--parallel", Whole(1, high=_parallel_limit), default="1", metavar="K", help="local runs at once, at most the "
         "cores; each takes cores/K torch threads (default 1: concurrent runs distort each other's speed)"),
    Flag("--force", Switch(), help="discard stored results and rerun"),
    Flag("--wandb", Switch(), check=_wandb_usable, help="also log each run to Weights & Biases (the wandb extra), beside "
         "TensorBoard: one W&B run per (variant, seed, LR), grouped by ablation and design, in project $WANDB_PROJECT "
         "(default ablate); online once `wandb login` is done, else set WANDB_MODE=offline and `wandb sync` later"),
    Flag("--allow-repeats", Switch(), help="train even where runs would read the training split more often than the "
         "preset is meant for (small and base: once; tiny: 4 times): a repeated-data experiment, recorded as such"),
    results_dir(write=True),
    *(flag for executor in EXECUTORS.values() for flag in executor.flags),
]

LADDER_FLAGS = [
    ABLATION,
    Flag("--rungs", ListOf(PRESET), default=",".join(LADDER), metavar="P,P", help=f"presets, smallest first (default: "
         f"the ladder, {', '.join(LADDER)}: tiny's aspect ratio, tokens per parameter and 1/d_model LR)"),
    *(flag for flag in RUN if flag.name not in ("ablation", "--preset", "--allow-repeats")),
]

BENCH = [ABLATION, Flag("--preset", PRESET, default="tiny", metavar="NAME", help="model shape to measure (default: tiny)"),
         DEVICE, THREADS, results_dir(True, "reports go to DIR/reports/NAME/ (default: $ABLATE_RESULTS or ./ablate-results)")]

COMMANDS = [
    Command("list", "ablations, their variants and claims", []),
    Command("run", "train every (variant, seed) of an ablation; finished runs are skipped", RUN,
            "One job per (variant, seed), submitted through submitit. Interrupted runs resume from their last checkpoint "
            "when run again."),
    Command("ladder", "run an ablation at every rung of the scale ladder, single-pass, as one set of ordinary runs",
            LADDER_FLAGS,
            "Runs the ablation's pilot (or --seeds) at each preset of --rungs, smallest first, all sent together (one "
            "array on a cluster); refuses a corpus any rung would read more than once. `ablate report NAME` then gives "
            "each claim's effect per size, a fitted trend against log parameters and a trend verdict."),
    Command("prepare", "make a corpus ready once: copy it into the cache and tokenise it into shards",
            [Flag("--data", TextSource(("shakespeare", "stdlib")), metavar="CORPUS", help="as ablate run: shakespeare, "
                  "stdlib, a text file or directory of any size, or hf:NAME|hf:PATH[:field=F] (default: as ablate run)"),
             Flag("--tokenizer", Tokenizer(), default=BYTES, metavar="bytes|bpe:N|FILE.json|hf:NAME", help="as ablate run")],
            "Streams the corpus in bounded memory (its sha256, computed on the way, is its identity), then trains the "
            "tokenizer on the training split (bpe:N) and encodes each split into shards written whole, with progress; "
            "killed, it resumes at the first missing shard. Run it once before sending an array to a cluster."),
    Command("status", "state of every run: queued, running, finished, failed (with log), diverged, damaged",
            [Flag("ablation", ABLATION.kind, dest="name", metavar="NAME", optional=True, help="ablation name (default: all)"),
             results_dir(write=False)]),
    Command("cancel", "cancel an ablation's queued and running SLURM jobs", [ABLATION, results_dir(write=False)]),
    Command("upgrade", "rename stored runs to the current run-id rule, without retraining",
            [Flag("--dry-run", Switch(), help="say what would move, change nothing"), results_dir(write=True)]),
    Command("archs", "the named architectures' choices side by side, and the lecture's rules of thumb counted over them "
            "(markdown)",
            [Flag("--write", EditFile(), metavar="FILE", repeat=True, help="also fill the <!-- archs:start --> and "
                  "<!-- survey:start --> blocks FILE has (repeatable: README.md, results/README.md)"),
             Flag("--figure", OutFile(".png"), metavar="PNG", help="also draw each model's choice per axis by release "
                  "year into PNG (the README's: results/reports/architecture_survey.png)")]),
    Command("plan", "per claim: what the runs so far detect, and the seeds its target needs", [ABLATION, results_dir(False)],
            "Reads the finished (pilot) runs and prints, per claim and comparison group, the paired spread, the minimum "
            "detectable effect at 80% power, the paired seeds the claim's target needs, and Stein's two-stage total (what "
            "--seeds auto would run)."),
    Command("report", "table (markdown, CSV) and figures from stored runs",
            [Flag("ablation", ABLATION.kind, dest="name", metavar="NAME", optional=True, help="ablation name"),
             Flag("--all", Switch(), help="every ablation, plus the verdict table in RESULTS_DIR/README.md"),
             results_dir(write=True)]),
    Command("profile", "share of FLOPs vs share of runtime per operator class (Ivanov et al. 2021)", BENCH,
            "Profiles a few training steps of every variant with torch.profiler and writes op_profile-PRESET.md, .csv and "
            ".png: per operator class (contraction, normalisation, softmax, element-wise), its share of the step's FLOPs "
            "and of its runtime."),
    Command("decode-bench", "decoded tokens/s through the KV cache per variant, batch size and context", [
        *BENCH,
        Flag("--batch-sizes", ListOf(Whole(1)), default="1,8,32", metavar="B,B", help="default: 1,8,32"),
        Flag("--contexts", ListOf(Whole(2)), default="256,1024", metavar="T,T", help="prompt + decoded tokens (default: "
             "256,1024)"),
        Flag("--new-tokens", Whole(1, high=_below_smallest_context), default="32", metavar="N",
             help="tokens decoded and timed (default: 32)"),
        Flag("--repeats", Whole(1), default="5", metavar="N", help="timed repeats after one warm-up; the median is "
             "reported (default: 5)"),
        Flag("--dtype", OneOf("dtype", DTYPES), metavar="|".join(DTYPES), help="default: bfloat16 on cuda, float32 on cpu"),
    ], "Prefills a random prompt, then times single-token decoding through the KV cache for every variant at each batch "
       "size and context; writes decode-PRESET.md, .csv and .png with the KV-cache size of each."),
    Command("speed", "paired benchmark of training-step time per variant (speed verdicts use it)", [
        *BENCH,
        Flag("--variants", ListOf(OneOf("variant", _variants)), metavar="A,B",
             help="subset of the variants (default: all; the baseline is always timed)"),
        ROUNDS, WARMUP,
        Flag("--compile", Switch(), help="time torch.compile'd models (fused kernels where supported)"),
    ], "Builds every variant's model and optimiser in one process and times full training steps (forward, backward, "
       "clipping, AdamW) on one fixed batch, the variants in turn after warm-up. Writes speed-PRESET-DEVICE.csv and .md; "
       "reports judge speed claims from these files, per device."),
    Command("bench-peers", "our model vs x-transformers and litgpt, and our Lightning loop vs a bare one", [
        Flag("--preset", PRESET, default="tiny", metavar="NAME", help="shapes to measure (default: tiny)"),
        DEVICE, THREADS, ROUNDS, WARMUP,
        Flag("--compile", Switch(), help="time torch.compile'd models, ours and the peers'"),
        Flag("--overhead-steps", Whole(0), default="300", metavar="N", help="steps per arm of the Lightning-vs-bare-loop "
             "comparison, CPU only; 0 skips it (300)"),
        Flag("--overhead-repeats", Whole(1), default="4", metavar="N", help="alternating repeats of it (4)"),
        results_dir(True, "writes DIR/reports/performance.md (default: $ABLATE_RESULTS or ./ablate-results)"),
    ], "Times one training step (forward, backward, clipping, AdamW) of our model against x-transformers and litgpt at "
       "matched GPT-2-style and Llama-style configs, interleaved, and (on CPU) our full Lightning run against a bare "
       "PyTorch loop over the same model and batches. Writes reports/performance.md and its CSVs. The peers are the "
       "`peers` extra (pip install -e \".[peers]\"; or x-transformers, then litgpt --no-deps beside the dev extra, whose "
       "transformers pins a newer huggingface-hub than litgpt allows)."),
    Command("doctor", "check this machine first: every variant axis in bf16, eager and compiled; then tokens/s, MFU", [
        DEVICE,
        Flag("--preset", PRESET, default="small", metavar="NAME", help="shape of the throughput check (small)"),
        Flag("--eager-only", Switch(), help="skip torch.compile (quicker; no fused-path check)"),
        Flag("--full", Switch(), help="the whole node check (about 8 minutes on one GPU): axes and kernels, step time, "
             "tokens/s and MFU at small and base against the peers, host syncs per step, peak memory and the largest "
             "batch, a real `ablate run` and `ablate report`, a DDP step; one table, also written as doctor-DEVICE.md "
             "and .csv. With --device cpu: a dry run at smoke and tiny shapes, no compiling, CUDA-only checks skipped "
             "(well under a minute)"),
        Flag("--out", Folder(write=True), metavar="DIR", help="where --full writes its table (default: the performance "
             "report's folder, $ABLATE_RESULTS/reports or ./ablate-results/reports)"),
    ], "One training step of every variant axis (packed into five small models) in bf16 autocast and float32, eager and "
       "torch.compile'd: finite losses and gradients, bf16 within 0.05 nats of float32; on a GPU, plain attention on a "
       "fused SDPA kernel and compiled windows/soft-caps/biases on FlexAttention. Then the preset's tokens/s and MFU. Exit "
       "code 1 when any check fails."),
]
FLAGS = {command.name: command.flags for command in COMMANDS}
