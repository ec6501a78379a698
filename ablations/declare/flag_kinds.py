"""What a flag's value may be, declared once, and the check that applies a command's flags to what was typed.

Each kind turns the text typed into a value or refuses it with what is allowed. `check_flags` applies a
command's declaration (`cli.flags.FLAGS`, the executors' own flags among them) before the command does
anything, so every refusal reads alike: `ablate CMD: FLAG VALUE: what is allowed`, exit code 2, nothing
written. It imports nothing of the project, so `jobs/` (the executors) and `cli/` declare flags alike."""

from __future__ import annotations

import argparse
import math
import os
import shlex
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ablations.data.dataset_source import is_dataset


class Refused(ValueError):
    """A value a kind does not take; the message says what it does take."""


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2, nothing written, submitted or trained."""


def shown(text: str) -> str:
    """A value as the user could retype it; escapes keep an odd one (a newline, a tab) on one line."""
    return shlex.quote(text) if text.isprintable() else repr(text)


Bound = Callable[[argparse.Namespace], "tuple[int | None, str]"]  # (limit, why) from the other flags


@dataclass(frozen=True)
class Whole:
    """A whole number from `low` (to `high`, which may depend on the other flags); `words` are also taken."""
    low: int
    high: Bound | None = None
    words: tuple[str, ...] = ()

    def parse(self, text: str, args: argparse.Namespace) -> int | str:
        if text in self.words:
            return text
        high, why = self.high(args) if self.high else (None, "")
        allowed = f"a whole number from {self.low} to {high}" if high is not None else f"a whole number, {self.low} or more"
        allowed += f" ({why})" if why else ""
        allowed += "".join(f", or {word}" for word in self.words)
        if not (text.isascii() and text.isdigit()) or int(text) < self.low or (high is not None and int(text) > high):
            raise Refused(f"give {allowed}")
        return int(text)


@dataclass(frozen=True)
class Positive:
    """A positive, finite real number (a learning rate)."""
    def parse(self, text: str, args: argparse.Namespace) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise Refused("give a positive, finite number, e.g. 1e-3")
        return value


@dataclass(frozen=True)
class OneOf:
    """One of a closed set of names, fixed or read from the other flags (an ablation's variants)."""
    what: str
    choices: Sequence[str] | Callable[[argparse.Namespace], Sequence[str]]

    def valid(self, args: argparse.Namespace) -> list[str]:
        return list(self.choices(args) if callable(self.choices) else self.choices)

    def parse(self, text: str, args: argparse.Namespace) -> str:
        valid = self.valid(args)
        if text not in valid:
            raise Refused(f"unknown {self.what}; valid {self.what}s: {', '.join(valid)}")
        return text


@dataclass(frozen=True)
class ListOf:
    """Comma-separated items of one kind: at least one, none twice, each valid."""
    item: Any

    def parse(self, text: str, args: argparse.Namespace) -> list:
        items = text.split(",")
        if not text.strip():
            raise Refused("name at least one, comma-separated")
        values = []
        for item in items:
            try:
                values.append(self.item.parse(item, args))
            except Refused as error:
                raise Refused(f"item {shown(item)}: {error}") from None
        if twice := sorted({item for item in items if items.count(item) > 1} | _repeats(values)):
            raise Refused(f"{', '.join(map(shown, twice))} named twice; name each once")
        return values


def _repeats(values: list) -> set[str]:
    return {str(value) for value in values if values.count(value) > 1}  # e.g. 1e-3 and 0.001


@dataclass(frozen=True)
class Word:
    """A name passed on to another program (a partition, an account): non-empty, no spaces or commas."""
    def parse(self, text: str, args: argparse.Namespace) -> str:
        if not text or not text.isprintable() or any(c.isspace() or c == "," for c in text):
            raise Refused("give one name without spaces or commas")
        return text


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _can_write_into(path: Path) -> str | None:
    """Why nothing can be created at `path`, or None; checks the nearest existing folder (nothing is made)."""
    existing = _nearest_existing(path.absolute())
    if not existing.is_dir():
        return f"{existing} is a file, so no folder can be made there"
    if not os.access(existing, os.W_OK | os.X_OK):  # access() also sees a read-only filesystem, even as root
        why = "read-only filesystem" if os.statvfs(existing).f_flag & os.ST_RDONLY else "no write permission"
        return f"{existing} is not writable ({why})"
    return None


@dataclass(frozen=True)
class Folder:
    """A directory the command reads, or writes into (then it is created when missing, once there is work)."""
    write: bool

    def parse(self, text: str, args: argparse.Namespace) -> Path:
        path = Path(text).expanduser()
        if not text:
            raise Refused("give a directory")
        if path.exists() and not path.is_dir():
            raise Refused("that is a file; give a directory (it is created if missing)")
        if self.write and (why := _can_write_into(path)):
            raise Refused(f"{why}; give a directory you can write")
        if not self.write and path.exists() and not os.access(path, os.R_OK | os.X_OK):
            raise Refused("not readable; give a directory you can read")
        return path


@dataclass(frozen=True)
class OutFile:
    """A file the command writes, with a required suffix (a figure's .png)."""
    suffix: str

    def parse(self, text: str, args: argparse.Namespace) -> Path:
        path = Path(text).expanduser()
        if path.suffix.lower() != self.suffix or path.is_dir():
            raise Refused(f"give a file name ending in {self.suffix}")
        if why := _can_write_into(path if not path.exists() else path.parent):
            raise Refused(f"{why}; give a file you can write")
        return path


@dataclass(frozen=True)
class EditFile:
    """An existing text file the command rewrites in place."""
    def parse(self, text: str, args: argparse.Namespace) -> Path:
        path = Path(text).expanduser()
        if not path.is_file():
            raise Refused("no such file; give an existing text file")
        if not os.access(path, os.R_OK | os.W_OK):
            raise Refused("not writable; give a file you can write")
        return path


def describe_path(path: Path) -> str | None:
    """Why `path` cannot be read as text (missing, a FIFO, unreadable), or None for a readable file or folder."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file or directory"
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device"}
    for test, name in kinds.items():
        if test(mode):
            return f"{name}, not a regular file or a directory"
    if not os.access(path, os.R_OK):
        return "not readable (no read permission)"
    return None


@dataclass(frozen=True)
class TextSource:
    """A corpus: one of `words` (named corpora), a readable text file or directory of them, or hf:... (a dataset)."""
    words: tuple[str, ...]

    def parse(self, text: str, args: argparse.Namespace) -> str:
        if text in self.words or is_dataset(text):  # a dataset is checked as it is opened, before any job
            return text
        why = describe_path(Path(text).expanduser()) if text else "no path given"
        if why:
            raise Refused(f"{why}; give {', '.join(self.words)}, a text file or a directory of them")
        return text


@dataclass(frozen=True)
class Switch:
    """A flag that takes no value."""


@dataclass(frozen=True)
class Flag:
    name: str  # --name, or a positional's label in messages
    kind: Any
    help: str = ""
    default: str | Callable[[], str] | None = None  # raw text, checked like a typed value; callable: read at run time
    metavar: str | None = None
    dest: str | None = None
    repeat: bool = False  # may be given more than once (each value checked)
    optional: bool = False  # a positional that may be left out
    check: Callable[[Any, argparse.Namespace], str | None] | None = None  # a refusal that needs the machine (sbatch)
    default_label: str | Callable[[], str] = ""  # how a failing default is named, e.g. $ABLATE_RESULTS
    group: str = ""  # a heading in --help
    example: str = ""  # a valid value (a positional's, for tests and help)

    @property
    def positional(self) -> bool:
        return not self.name.startswith("-")

    @property
    def key(self) -> str:
        return self.dest or self.name.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.positional:
            parser.add_argument(self.key, metavar=self.metavar or self.key.upper(), nargs="?" if self.optional else None,
                                help=self.help)
        elif isinstance(self.kind, Switch):
            parser.add_argument(self.name, dest=self.key, action="store_true", help=self.help)
        else:
            parser.add_argument(self.name, dest=self.key, metavar=self.metavar, help=self.help,
                                action="append" if self.repeat else "store")


def check_flags(flags: Sequence[Flag], args: argparse.Namespace) -> None:
    """Turn every flag's text into its value, in declaration order (a later flag may depend on an earlier one),
    or raise UsageError naming the flag, the value and what is allowed."""
    for flag in flags:
        if isinstance(flag.kind, Switch):
            if flag.check and getattr(args, flag.key) and (why := flag.check(True, args)):
                raise UsageError(f"{flag.name}: {why}")  # a switch needs something of the machine (a login, say)
            continue
        raw, label = getattr(args, flag.key), flag.name
        if raw is None and flag.default is not None:
            raw = flag.default() if callable(flag.default) else flag.default
            label = (flag.default_label() if callable(flag.default_label) else flag.default_label) or flag.name
        if raw is None:
            continue
        values = []
        for text in raw if flag.repeat else [raw]:
            text = "--" if text == [] else text  # argparse hands `--flag --` over as [], not as the text typed
            try:
                values.append(flag.kind.parse(text, args))
                if flag.check and (why := flag.check(values[-1], args)):
                    raise Refused(why)
            except Refused as error:
                raise UsageError(f"{label} {shown(text)}: {error}") from None
        setattr(args, flag.key, values if flag.repeat else values[0])


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    flags: list[Flag]
    description: str = ""

    def add_to(self, commands) -> argparse.ArgumentParser:
        parser = commands.add_parser(self.name, help=self.help, description=self.description or None)
        groups: dict[str, Any] = {}
        for flag in self.flags:
            flag.add_to(groups.setdefault(flag.group, parser.add_argument_group(flag.group)) if flag.group else parser)
        return parser
