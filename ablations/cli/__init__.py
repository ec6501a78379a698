"""`ablate`: list the ablations, run one (through submitit), report on it, measure its speed."""

from __future__ import annotations

import argparse
import ast
import re
import shlex
import signal
import sys

from ablations.catalogue import all_ablations, get_ablation
from ablations.cli.bench import BENCH_COMMANDS, BenchUsageError
from ablations.cli.browse import ARCHS_END, ARCHS_START, cmd_archs, cmd_list  # noqa: F401 (tests read the markers here)
from ablations.cli.flags import COMMANDS, FLAGS
from ablations.cli.ladder import cmd_ladder
from ablations.cli.prepare import cmd_prepare
from ablations.cli.run import RunsStopped, _second_stage, cmd_run, how, plan, stop_on_signal  # noqa: F401 (tests)
from ablations.data.storage import storage_fault
from ablations.declare.flag_kinds import UsageError, check_flags, shown
from ablations.runs.run_record import RunRecord

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage dump
        if switch := re.fullmatch(r"argument (--[\w-]+): ignored explicit argument (.*)", message, re.DOTALL):
            value = ast.literal_eval(switch[2])  # argparse shows the value as repr() does
            message = f"{switch[1]} {shown(value)}: takes no value; write {switch[1]} alone"
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


def cmd_upgrade(args: argparse.Namespace) -> int:
    from ablations.runs.migrate import upgrade

    root = args.results_dir
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
    for name in names:
        rows = run_states(args.results_dir, name)
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

    cancelled = cancel(args.results_dir, args.name)
    print(f"cancelled {len(cancelled)} job(s)" + (f": {', '.join(cancelled)}" if cancelled else ""))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from ablations.judge.analysis import load_runs
    from ablations.judge.planning import plan_table
    from ablations.reporting.markdown import count_cell, markdown_table

    ablation = get_ablation(args.name)
    table = plan_table(load_runs(args.results_dir, ablation.name), ablation)
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
        path = write_overview(list(all_ablations().values()), args.results_dir)
        print(path.read_text())
        print(f"wrote {path} and each ablation's report")
        _name_damaged(args.results_dir, list(all_ablations()))
        return 0
    if not args.name:
        raise UsageError("name an ablation or pass --all")
    ablation = get_ablation(args.name)
    try:
        paths = write_report(ablation, args.results_dir)
    except FileNotFoundError as error:
        raise UsageError(f"{error}" + (f"; {line}" if (line := _damaged_line(args.results_dir, ablation.name)) else "")) from None
    print(paths[0].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    _name_damaged(args.results_dir, [ablation.name])
    return 0


def _damaged_line(results_dir, name: str) -> str:
    """Damaged runs are left out of reports: which, and how to get them back ('' when none)."""
    if not (damaged := RunRecord.damaged(results_dir, name)):
        return ""
    return (f"left out {len(damaged)} damaged run(s) of {name}: " + "; ".join(f"{r.dir} ({r.damage()})" for r in damaged)
            + f"; `ablate run {name}` with the flags that made them trains them again")


def _name_damaged(results_dir, names: list[str]) -> None:
    for name in names:
        if line := _damaged_line(results_dir, name):
            print(line)


RUNNERS = {"list": cmd_list, "run": cmd_run, "status": cmd_status, "cancel": cmd_cancel, "upgrade": cmd_upgrade,
           "archs": cmd_archs, "plan": cmd_plan, "report": cmd_report, "prepare": cmd_prepare, "ladder": cmd_ladder,
           **BENCH_COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    """The parser, from the flag declaration (`cli.flags`): every value arrives as text and is checked there."""
    parser = _Parser(
        prog="ablate",
        description="Run and report ablations of transformer architecture choices.",
        epilog="example:\n  ablate run rmsnorm_vs_layernorm --preset smoke --seeds 2 && ablate report rmsnorm_vs_layernorm",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_to(commands)
    return parser


def run_command(args: argparse.Namespace) -> int:
    """The subcommand itself, once every flag has passed its check."""
    return RUNNERS[args.command](args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    again = "ablate " + shlex.join(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup's choice stands
            signal.signal(sig, stop_on_signal)
    try:
        check_flags(FLAGS[args.command], args)
        return run_command(args)
    except (UsageError, BenchUsageError) as error:
        print(f"ablate {args.command}: {error}", file=sys.stderr)
        return USAGE_ERROR
    except RunsStopped as stop:
        print(f"ablate {args.command}: {stop}; resume with: {again}", file=sys.stderr)
        return 130
    except KeyboardInterrupt as stop:
        print(f"ablate {args.command}: stopped {how(stop)}; files are written whole, so nothing is left half-done; "
              f"again: {again}", file=sys.stderr)
        return 130
    except OSError as error:
        if (line := storage_fault(error)) is None:
            raise
        print(f"ablate {args.command}: {line}; finished runs are kept and a stopped one resumes from its last checkpoint; "
              f"make room (or pick another --results-dir), then resume with: {again}", file=sys.stderr)
        return 1

