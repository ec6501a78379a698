"""Every flag of every subcommand, given a bad value drawn from its own declaration (`ablations.cli.flags`): one line
naming the flag, the value and what is allowed, exit code 2, no traceback, nothing written and the command never
started. The cases and their values come from the declaration, so a new flag is covered without editing this file;
a new kind of flag fails here until it says how its bad values look."""

import argparse
import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablations import cli
from ablations.cli.flags import COMMANDS, Tokenizer
from ablations.data.tokenizer import MAX_BPE
from ablations.declare.flag_kinds import (
    EditFile,
    Folder,
    ListOf,
    OneOf,
    OutFile,
    Positive,
    Switch,
    TextSource,
    Whole,
    Word,
    shown,
)
from ablations.jobs.executors import ClusterProfile
from ablations.jobs.profiles import available_profiles

CASES = [(command, flag) for command in COMMANDS for flag in command.flags]
PLACES = Path(tempfile.mkdtemp(prefix="flag-places-"))  # paths a bad value may name; never written to by the CLI
(PLACES / "a-file").write_text("a file, not a folder")
(PLACES / "bad.toml").write_text('partition = "debug"\nno_such_setting = 1\n')
(PLACES / "folder.png").mkdir()
(PLACES / "junk.json").write_text('{"not": "a tokenizer"}')
os.mkfifo(PLACES / "fifo")
ARGS = argparse.Namespace(name="rmsnorm_vs_layernorm", executor="local")  # what a choice may depend on


def _float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def good(kind) -> str:
    """One valid item, to build lists around a bad one or a repeat."""
    return {Whole: lambda: str(kind.low), Positive: lambda: "0.001", OneOf: lambda: kind.valid(ARGS)[0]}[type(kind)]()


def bad(kind) -> st.SearchStrategy[str]:
    """Values the kind must refuse, from its own parameters."""
    text = st.text(max_size=10)
    if isinstance(kind, Whole):
        above = [st.integers(min_value=10**6).map(str)] if kind.high else []  # beyond any core count or context
        junk = text.filter(lambda t: t not in kind.words and not (t.isascii() and t.isdigit()))
        return st.one_of(st.integers(max_value=kind.low - 1).map(str), junk, *above)
    if isinstance(kind, Positive):
        return st.one_of(st.floats(max_value=0).map(repr), st.sampled_from(["nan", "inf", "-inf", ""]),
                         text.filter(lambda t: not _float(t)))
    if isinstance(kind, OneOf):
        return text.filter(lambda t: t not in kind.valid(ARGS))
    if isinstance(kind, ListOf):
        item = good(kind.item)
        return st.one_of(st.sampled_from(["", ",", f"{item},", f"{item},{item}"]),
                         bad(kind.item).filter(lambda t: "," not in t).map(lambda t: f"{item},{t}"))
    if isinstance(kind, Word):
        return st.one_of(st.sampled_from(["", "a b", "a,b", "\t"]),
                         text.filter(lambda t: not t or not t.isprintable() or any(c.isspace() or c == "," for c in t)))
    if isinstance(kind, Tokenizer):
        return st.one_of(st.integers(max_value=256).map(lambda n: f"bpe:{n}"),
                         st.integers(min_value=MAX_BPE + 1).map(lambda n: f"bpe:{n}"),
                         st.sampled_from([str(PLACES / "missing.json"), str(PLACES / "junk.json"), str(PLACES / "folder.png"),
                                          "hf:nobody-here/no-tokenizer"]),  # offline (conftest): not in the cache
                         text.filter(lambda t: t != "bytes" and not re.fullmatch(r"bpe:\d+", t) and not t.endswith(".json")))
    if isinstance(kind, ClusterProfile):
        return st.one_of(st.sampled_from([str(PLACES / "missing.toml"), str(PLACES / "bad.toml")]),
                         st.text("abcxyz-", min_size=1, max_size=8).filter(lambda t: t not in available_profiles()))
    if isinstance(kind, TextSource):
        return st.sampled_from(["", str(PLACES / "missing"), str(PLACES / "fifo")])
    if isinstance(kind, Folder):
        under_file = [str(PLACES / "a-file" / "sub")] if kind.write else []  # reading a missing folder is fine
        return st.sampled_from(["", str(PLACES / "a-file"), *under_file])
    if isinstance(kind, OutFile):
        return st.sampled_from([str(PLACES / "folder.png"), str(PLACES / "a-file" / "x.png"), str(PLACES / "x.txt")])
    if isinstance(kind, EditFile):
        return st.sampled_from([str(PLACES / "missing.md"), str(PLACES)])
    if isinstance(kind, Switch):
        return text
    raise AssertionError(f"no bad values for {type(kind).__name__}: teach this test how that kind of flag can go wrong")


def _never(args):
    raise AssertionError(f"ablate {args.command} started despite a bad value")


@pytest.mark.parametrize("command, flag", CASES, ids=[f"{c.name} {f.name}" for c, f in CASES])
def test_a_bad_value_of_any_flag_is_refused_in_one_line_before_anything_happens(command, flag, monkeypatch):
    monkeypatch.setattr(cli, "run_command", _never)
    positionals = [f.example for f in command.flags if f.positional and not f.optional and f is not flag]

    @settings(max_examples=6, deadline=None, database=None)
    @given(value=bad(flag.kind))
    def refused(value):
        argv = [command.name, "--", value] if flag.positional else [command.name, *positionals, f"{flag.name}={value}"]
        with tempfile.TemporaryDirectory() as home, contextlib.chdir(home):
            err = io.StringIO()
            os.environ["ABLATE_RESULTS"] = str(Path(home) / "results")
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    code = cli.main(argv)
                except SystemExit as exit_:  # argparse's own refusals (a switch given a value)
                    code = exit_.code
            assert list(Path(home).iterdir()) == [], "something was written"
        line = err.getvalue()
        assert code == 2 and line.count("\n") == 1 and "Traceback" not in line, line
        assert line.startswith(f"ablate {command.name}: {flag.name} {shown(value)}: "), (argv, line)
        assert len(line.split(f"{shown(value)}: ", 1)[1].strip()) > 10, line  # what is allowed

    refused()
    assert sorted(p.name for p in PLACES.iterdir()) == ["a-file", "bad.toml", "fifo", "folder.png", "junk.json"]


def test_every_subcommand_and_flag_is_in_the_cases():
    """The parser is built from the same declaration the cases come from: nothing reaches a command unchecked."""
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        declared = {flag.key for command, flag in CASES if command.name == name}
        parsed = {a.dest for a in sub._actions if a.dest != "help"}
        assert parsed == declared, name


def test_a_lone_double_dash_as_a_flags_value_is_refused_in_one_line(capsys):
    from ablations import cli

    assert cli.main(["run", "rmsnorm_vs_layernorm", "--profile=--"]) == 2  # argparse hands this value over as []
    line = capsys.readouterr().err
    assert line.startswith("ablate run: --profile --: unknown profile") and line.count("\n") == 1
