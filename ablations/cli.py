"""`ablate`: list the ablations, run one (through submitit), report on it, measure its speed."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path

from ablations.catalogue import all_ablations, get_ablation
from ablations.cli_bench import BenchUsageError, add_bench_commands
from ablations.data.corpus import CorpusError, default_corpus, load_corpus, tokens_per_byte
from ablations.data.tokenizer import BYTES, MAX_BPE, bpe_size
from ablations.declare.names import UnknownName
from ablations.declare.presets import PRESETS, get_preset
from ablations.declare.spec import GROUPS, Ablation
from ablations.jobs.profiles import machine_cores
from ablations.runs.resolve import resolve
from ablations.runs.run_record import ablation_dir, logs_dir
from ablations.runs.run_spec import RunSpec

USAGE_ERROR = 2
EXECUTORS = ("local", "debug", "slurm")  # submitit executors


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2, nothing submitted."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage dump
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


USER_RESULTS = "ablate-results"  # a user's own runs: never the repository's committed reference in results/


def _results_dir(arg: str | None) -> Path:
    path = Path(arg or os.environ.get("ABLATE_RESULTS", USER_RESULTS))
    if path.exists() and not path.is_dir():
        flag = "--results-dir" if arg else "$ABLATE_RESULTS"
        raise UsageError(f"{flag} {path}: that is a file; give a directory (it is created if missing)")
    return path


def _lrs(text: str) -> list[float]:
    """--lrs: positive, finite learning rates, comma-separated."""
    try:
        lrs = [float(part) for part in text.split(",")]
    except ValueError:
        lrs = []
    if not lrs or not all(math.isfinite(lr) and lr > 0 for lr in lrs):
        raise UsageError(f"--lrs {text}: give positive learning rates separated by commas, e.g. 1e-3,3e-3")
    return lrs


def _tokenizer(text: str) -> str:
    try:
        bpe_size(text)
    except ValueError:
        raise UsageError(f"--tokenizer {text}: give bytes, or bpe:N with N from 257 to {MAX_BPE} (e.g. bpe:2048)") from None
    return text


def cmd_list(args: argparse.Namespace) -> int:
    ablations = all_ablations().values()
    for group in GROUPS:
        print(f"## {group}\n")
        for ablation in (a for a in ablations if a.group == group):
            _describe(ablation)
    print("presets: " + "; ".join(f"{name}: {p.description}" for name, p in PRESETS.items()))
    return 0


def _describe(ablation: Ablation) -> None:
    print(f"{ablation.name}\n  headline: {ablation.headline}\n  source:   {ablation.source}")
    for name, overrides in ablation.variants.items():
        role = " (baseline)" if name == ablation.baseline else ""
        print(f"  variant:  {name}{role}: {', '.join(f'{k}={v}' for k, v in overrides.items())}")
    lrs = ", ".join(f"{lr:g}" for lr in ablation.lrs) or "the preset's"
    print(f"  seeds:    {ablation.seeds} by default; LRs: {lrs}\n")


ARCHS_START, ARCHS_END = "<!-- archs:start -->", "<!-- archs:end -->"


def cmd_archs(args: argparse.Namespace) -> int:
    from ablations.reporting.markdown import SURVEY_BLOCK, fill_block
    from models.survey import rules_markdown
    from models.zoo import spreadsheet_markdown

    blocks = {(ARCHS_START, ARCHS_END): spreadsheet_markdown(), SURVEY_BLOCK: rules_markdown()}
    texts = {Path(name): Path(name).read_text() if Path(name).exists() else "" for name in args.write or []}
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

        print(f"drew {plot_survey(Path(args.figure))}")
    return 0


def _seeds(args: argparse.Namespace, pilot: int) -> int:
    """--seeds N, or the ablation's pilot under --seeds auto (its second stage comes once the pilot is done)."""
    if args.seeds in (None, "auto"):
        return pilot
    try:
        seeds = int(args.seeds)
    except ValueError:
        seeds = 0
    if seeds < 1:
        raise UsageError(f"--seeds {args.seeds}: give a whole number of at least 1, or auto")
    return seeds


def _check_parallel(args: argparse.Namespace) -> None:
    if args.max_seeds < 1:
        raise UsageError(f"--max-seeds {args.max_seeds}: give a whole number of at least 1")
    cores = machine_cores()
    if args.parallel < 1 or (args.executor == "local" and args.parallel > cores):
        raise UsageError(f"--parallel {args.parallel}: give 1 to {cores} (this machine's cores); more runs than cores "
                         "time-share them, so the grid finishes no sooner and every step-time figure is distorted")


def plan(args: argparse.Namespace, seeds: dict[tuple[str, float], range] | None = None) -> list[RunSpec]:
    """Resolve and validate everything before any job exists. `seeds`: (variant, LR) → the seeds to run there
    (Stein's second stage); otherwise every variant and LR gets the same seeds."""
    try:
        ablation = get_ablation(args.name)
        design = resolve(ablation, args.preset, args.variants.split(",") if args.variants else None,
                         _lrs(args.lrs) if args.lrs else None, _tokenizer(args.tokenizer), args.compile)
    except (UnknownName, ValueError) as error:
        raise UsageError(str(error)) from None
    pilot = range(_seeds(args, ablation.seeds))
    _check_parallel(args)
    try:
        corpus, notice = (load_corpus(args.data, design.context), "") if args.data else default_corpus(design.context)
    except CorpusError as error:
        raise UsageError(str(error)) from None
    if seeds is None:
        if notice:
            print(notice)
        print(f"corpus: {corpus.name}, {corpus.n_tokens:,} bytes, sha256 {corpus.sha256[:12]}")
    specs = design.specs(corpus, pilot if seeds is None else seeds, str(_results_dir(args.results_dir).resolve()))
    if seeds is None:
        for name, tokenized in sorted({spec.corpus.tokenizer: spec.corpus for spec in specs}.items()):
            if name != BYTES:
                print(f"tokenizer {name}: {tokens_per_byte(tokenized, 'val'):.3f} tokens per validation byte "
                      f"(trained on the training split, cached)")
    return specs


def _second_stage(args: argparse.Namespace, pilot: list[RunSpec]) -> list[RunSpec]:
    """--seeds auto: once every pilot run is done, the claim variants' further seeds (Stein 1945)."""
    from ablations.judge.analysis import load_runs
    from ablations.judge.planning import second_stage

    if not all(spec.record.is_done for spec in pilot):
        print("--seeds auto: the second stage is planned from the finished pilot; run the same command again then")
        return []
    ablation, first = get_ablation(args.name), pilot[0]
    runs = load_runs(first.results_dir, args.name)
    mine = (runs["preset"] == first.preset) & (runs["corpus_label"] == first.corpus.label) & (runs["design"] == first.design)
    runs = runs[mine]
    n0 = len({spec.seed for spec in pilot})
    wanted = second_stage(runs, ablation, n0, args.max_seeds)
    extra = plan(args, {key: range(n0, n) for key, n in wanted.items()})
    for spec in sorted({(s.variant, s.train.lr) for s in extra}):
        print(f"--seeds auto: {spec[0]} at lr {spec[1]:g}: {wanted[spec]} seeds in all (Stein's second stage; "
              f"--max-seeds {args.max_seeds})")
    return extra


def _slurm_plan(args: argparse.Namespace):
    from ablations.jobs.dispatch import SlurmPlan
    from ablations.jobs.profiles import ProfileError, check_partition, load_profile, require_slurm, with_overrides

    try:
        require_slurm()
        profile = with_overrides(load_profile(args.profile), partition=args.partition, time_min=args.time,
                                 account=args.account, qos=args.qos)
        check_partition(profile.partition)
    except ProfileError as error:
        raise UsageError(str(error)) from None
    gpus = args.gpus_per_run if args.gpus_per_run is not None else profile.gpus_per_run * get_preset(args.preset).needs_gpu
    return SlurmPlan(profile=profile, gpus=gpus, array_parallelism=args.array_parallelism, wait=args.wait)


def cmd_run(args: argparse.Namespace) -> int:
    specs = plan(args)
    slurm = _slurm_plan(args) if args.executor == "slurm" else None
    from ablations.jobs.dispatch import dispatch  # imports Lightning (seconds): only once the input is valid

    root, logs = ablation_dir(specs[0].results_dir, args.name), logs_dir(specs[0].results_dir, args.name)
    progress = dispatch(specs, args.executor, args.parallel, logs, force=args.force, slurm=slurm)
    if args.seeds == "auto" and (extra := _second_stage(args, specs)):
        second = dispatch(extra, args.executor, args.parallel, logs, slurm=slurm)
        progress.failed += second.failed
    if slurm is not None and not slurm.wait:
        print(f"follow with: ablate status {args.name}; stop with: ablate cancel {args.name}")
    else:
        print(f"results in {root}; next: ablate report {args.name}")
    return 1 if progress.failed else 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from ablations.runs.migrate import upgrade

    root = _results_dir(args.results_dir)
    done = upgrade(root, dry_run=args.dry_run)
    verb = "would move" if args.dry_run else "moved"
    print(f"{root}: {verb} {len(done.moved)} run(s) to the current id rule (each proved: its stored config hashes "
          f"to its old folder name); {done.current} already current")
    for run in done.unproven:
        print(f"  left alone: {run} (its config.json does not hash to the folder name; it was edited or damaged)")
    for run in done.clashes:
        print(f"  left alone: {run} (the folder its new id names already exists: the same run, stored twice)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ablations.jobs.status import run_states

    names = [args.name] if args.name else sorted(all_ablations())
    if args.name:
        get_ablation_or_usage(args.name)
    for name in names:
        rows = run_states(_results_dir(args.results_dir), name)
        if not rows:
            continue
        counts = {state: sum(r["state"] == state for r in rows) for state in sorted({r["state"] for r in rows})}
        print(f"{name}: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
        for r in rows:
            print(f"  {r['variant']:<14} seed {r['seed']:<3} {r['preset']:<6} {r['run_id']}  {r['state']:<11} "
                  f"{r['corpus']:<22} {('job ' + r['job']) if r['job'] else ''} {r['detail']}".rstrip())
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from ablations.jobs.status import cancel

    get_ablation_or_usage(args.name)
    cancelled = cancel(_results_dir(args.results_dir), args.name)
    print(f"cancelled {len(cancelled)} job(s)" + (f": {', '.join(cancelled)}" if cancelled else ""))
    return 0


def get_ablation_or_usage(name: str):
    try:
        return get_ablation(name)
    except UnknownName as error:
        raise UsageError(str(error)) from None


def cmd_plan(args: argparse.Namespace) -> int:
    from ablations.judge.analysis import load_runs
    from ablations.judge.planning import plan_table
    from ablations.reporting.markdown import count_cell, markdown_table

    ablation = get_ablation_or_usage(args.name)
    table = plan_table(load_runs(_results_dir(args.results_dir), ablation.name), ablation)
    if table.empty:
        raise UsageError(f"no pilot runs of {ablation.name} with two or more paired seeds; first: ablate run {ablation.name}")
    rows = [[row.says, f"{row.preset}, lr {row.lrs}" if row.lrs else f"{row.preset}, {row.device}", str(int(row.pairs)),
             f"{row.sd:.4g}", f"{row.detectable:.4g}", f"{row.target:g}", count_cell(row.seeds_needed),
             count_cell(row.stein_seeds)]
            for row in table.itertuples()]
    print(markdown_table(["claim", "where", "pairs", "paired SD", "detectable now (80% power)", "target",
                          "seeds for the target (80% power)", "Stein total from these pairs as the pilot"], rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ablations.reporting.overview import write_overview  # matplotlib is slow to import
    from ablations.reporting.report import write_report

    if args.all:
        path = write_overview(list(all_ablations().values()), _results_dir(args.results_dir))
        print(path.read_text())
        print(f"wrote {path} and each ablation's report")
        return 0
    if not args.name:
        raise UsageError("name an ablation or pass --all")
    ablation = get_ablation_or_usage(args.name)
    try:
        paths = write_report(ablation, _results_dir(args.results_dir))
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    print(paths[0].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ablate",
        description="Run and report ablations of transformer architecture choices.",
        epilog="example:\n  ablate run rmsnorm_vs_layernorm --preset smoke --seeds 2 && ablate report rmsnorm_vs_layernorm",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("list", help="ablations, their variants and claims").set_defaults(func=cmd_list)

    results = dict(metavar="DIR", help=f"where runs and reports go (default: $ABLATE_RESULTS or ./{USER_RESULTS}; the "
                   "repository's committed reference runs are in results/)")
    run = commands.add_parser("run", help="train every (variant, seed) of an ablation; finished runs are skipped",
                              description="One job per (variant, seed), submitted through submitit. "
                              "Interrupted runs resume from their last checkpoint when run again.")
    run.add_argument("name", help="ablation name (see `ablate list`)")
    run.add_argument("--preset", default="tiny", metavar="NAME", help=f"size and budget: {', '.join(PRESETS)} (default: tiny)")
    run.add_argument("--seeds", metavar="N|auto", help="seeds per variant (default: the ablation's pilot); auto: the pilot, "
                     "then as many seeds for the claims' variants as the pilot's spread says their targets need (Stein 1945)")
    run.add_argument("--max-seeds", type=int, default=10, metavar="N", help="cap on the seeds --seeds auto runs (10)")
    run.add_argument("--lrs", metavar="LR,LR", help="learning rates to sweep (default: the ablation's, else the preset's)")
    run.add_argument("--variants", metavar="A,B", help="comma-separated subset of the ablation's variants (default: all)")
    run.add_argument("--data", metavar="CORPUS", help="shakespeare, stdlib, or a path to a text file or directory "
                     "(default: shakespeare if a local copy exists, else stdlib)")
    run.add_argument("--tokenizer", default=BYTES, metavar="bytes|bpe:N",
                     help="bytes (default) or a byte-level BPE of N tokens trained on the training split and cached; "
                     "part of each run's identity; losses are reported in nats per byte either way")
    run.add_argument("--compile", action="store_true",
                     help="torch.compile each model (fused kernels; part of the run's identity; the first step's "
                     "excess time, mostly compilation, is recorded apart from the step-time metrics)")
    run.add_argument("--executor", choices=EXECUTORS, default="local",
                     help="local: real subprocesses (default); debug: in this process; slurm: one job array")
    run.add_argument("--parallel", type=int, default=1, metavar="K",
                     help="local runs at once, at most the cores; each takes cores/K torch threads (default 1: "
                     "concurrent runs distort each other's speed)")
    run.add_argument("--force", action="store_true", help="discard stored results and rerun")
    run.add_argument("--results-dir", **results)
    cluster = run.add_argument_group("SLURM (with --executor slurm)")
    cluster.add_argument("--profile", default="local", help="cluster profile: a name in slurm/ or a .toml path (default: local)")
    cluster.add_argument("--partition", help="override the profile's partition")
    cluster.add_argument("--gpus-per-run", type=int, metavar="N", help="GPUs per run (default: the profile's, for GPU presets)")
    cluster.add_argument("--time", type=int, metavar="MIN", help="time limit per run in minutes")
    cluster.add_argument("--account", help="--account for sbatch")
    cluster.add_argument("--qos", help="--qos for sbatch")
    cluster.add_argument("--array-parallelism", type=int, default=4, metavar="K", help="array tasks running at once (4)")
    cluster.add_argument("--wait", action="store_true", help="watch the array until it ends instead of returning")
    run.set_defaults(func=cmd_run)

    status = commands.add_parser("status", help="state of every run: queued, running, finished, failed (with log), diverged")
    status.add_argument("name", nargs="?", help="ablation name (default: all)")
    status.add_argument("--results-dir", **results)
    status.set_defaults(func=cmd_status)

    cancel = commands.add_parser("cancel", help="cancel an ablation's queued and running SLURM jobs")
    cancel.add_argument("name", help="ablation name")
    cancel.add_argument("--results-dir", **results)
    cancel.set_defaults(func=cmd_cancel)

    upgrade = commands.add_parser("upgrade", help="rename stored runs to the current run-id rule, without retraining")
    upgrade.add_argument("--dry-run", action="store_true", help="say what would move, change nothing")
    upgrade.add_argument("--results-dir", **results)
    upgrade.set_defaults(func=cmd_upgrade)
    archs = commands.add_parser("archs", help="the named architectures' choices side by side, and the lecture's rules "
                                "of thumb counted over them (markdown)")
    archs.add_argument("--write", metavar="FILE", action="append", help=f"also fill the {ARCHS_START} and "
                       "<!-- survey:start --> blocks FILE has (repeatable: README.md, results/README.md)")
    archs.add_argument("--figure", metavar="PNG", help="also draw each model's choice per axis by release year into "
                       "PNG (the README's: results/reports/architecture_survey.png)")
    archs.set_defaults(func=cmd_archs)

    planner = commands.add_parser("plan", help="per claim: what the runs so far detect, and the seeds its target needs",
                                  description="Reads the finished (pilot) runs and prints, per claim and comparison group, "
                                  "the paired spread, the minimum detectable effect at 80% power, the paired seeds the "
                                  "claim's target needs, and Stein's two-stage total (what --seeds auto would run).")
    planner.add_argument("name", help="ablation name")
    planner.add_argument("--results-dir", **results)
    planner.set_defaults(func=cmd_plan)

    report = commands.add_parser("report", help="table (markdown, CSV) and figures from stored runs")
    report.add_argument("name", nargs="?", help="ablation name")
    report.add_argument("--all", action="store_true", help="every ablation, plus the verdict table in RESULTS_DIR/README.md")
    report.add_argument("--results-dir", **results)
    report.set_defaults(func=cmd_report)
    add_bench_commands(commands, _results_dir)
    return parser


def _stop(signum, frame):
    raise KeyboardInterrupt  # `kill` stops a dispatch like Ctrl-C: running jobs are cancelled, not orphaned


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    try:
        return args.func(args)
    except (UsageError, BenchUsageError) as error:
        print(f"ablate {args.command}: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
