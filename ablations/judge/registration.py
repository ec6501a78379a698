"""When each claim took the form it is judged in, found from the catalogue's git history: the oldest commit
from which every later commit of the ablation's file declares the claim identically (its testable fields,
formatting aside; a constant it names is compared by name). A run was trained under that form when its code
commit descends from that commit. A claim is pre-registered when every run it is judged on was; else it is
post hoc, and the seeds trained before it are judged apart as exploratory. Reads git; trains nothing."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = Path("ablations") / "catalogue"
# What a claim tests; its wording (why, paper, beyond_tiny) may change without changing the test.
TEMPLATE = "template:"  # a key of claim_forms for a statement built by an f-string
TESTED = ("says", "treatment", "baseline", "metric", "direction", "margin", "target", "minus", "lrs")


@dataclass(frozen=True)
class Registration:
    commit: str  # the commit that gave the claim its current form
    at: datetime | None  # that commit's time
    repo: Path = field(default=REPO, compare=False)

    def covers(self, run_commit: str, finished: datetime) -> bool:
        """Whether a run was trained under this form of the claim: its code commit (a dirty tree's base) descends
        from the registering commit; for a run that recorded no commit, whether it finished after that commit."""
        commit = str(run_commit).removesuffix("-dirty")
        if len(commit) == 40 and all(c in "0123456789abcdef" for c in commit):
            return _descends(commit, self.commit, Path(self.repo))
        return self.at is not None and finished > self.at


UNCOMMITTED = Registration("uncommitted", None)  # declared in the working tree only: registered by no commit


def _git(*args: str, repo: Path = REPO) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def _descends(commit: str, ancestor: str, repo: Path) -> bool:
    return _git("merge-base", "--is-ancestor", ancestor, commit, repo=repo) is not None


def claim_forms(source: str) -> dict[str, str]:
    """says → the claim's fields as parsed (formatting and comments aside), for every Claim(...) in a file."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    forms = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Claim":
            fields = {k.arg: ast.dump(k.value) for k in node.keywords if k.arg in TESTED}
            says = next((k.value for k in node.keywords if k.arg == "says"), None)
            if isinstance(says, ast.Constant) and isinstance(says.value, str):
                forms[says.value] = repr(sorted(fields.items()))
            elif isinstance(says, ast.JoinedStr):  # claims built in a loop: one form for the template
                forms[TEMPLATE + _pattern(says)] = repr(sorted(fields.items()))
    return forms


def _pattern(says: ast.JoinedStr) -> str:
    """A regular expression for every statement an f-string template produces."""
    parts = [re.escape(part.value) if isinstance(part, ast.Constant) else ".+" for part in says.values]
    return "^" + "".join(parts) + "$"


def lookup(found: dict[str, Registration], says: str) -> Registration | None:
    """A claim's registration, by its statement or by the template that produced it."""
    if says in found:
        return found[says]
    return next((r for key, r in found.items() if key.startswith(TEMPLATE) and re.match(key[len(TEMPLATE):], says)), None)


def _blobs(ids: list[str], repo: Path) -> dict[str, str]:
    """The text of many git blobs, read through one `git cat-file --batch`."""
    if not ids:
        return {}
    try:
        done = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch"], input="\n".join(ids).encode() + b"\n",
                              capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out, texts, at = done.stdout, {}, 0
    while at < len(out):
        header_end = out.index(b"\n", at)
        blob, _, size = out[at:header_end].decode().split()
        texts[blob] = out[header_end + 1:header_end + 1 + int(size)].decode(errors="replace")
        at = header_end + 1 + int(size) + 1
    return texts


@functools.lru_cache(maxsize=None)
def _history(repo: Path) -> tuple[tuple[str, datetime, dict[str, frozenset[str]]], ...]:
    """(commit, time, statement → its forms) over every Python file under ablations/ at every commit that
    touched it, newest first: a claim that moved between catalogue files (or from before the catalogue had
    its folder) keeps its registration."""
    # The main line only: a merged side branch's commits hold the catalogue as it was when the branch left it.
    log = _git("log", "--first-parent", "--format=%H %ct", "--", "ablations", repo=repo)
    if not log:
        return ()
    commits, trees = [], {}
    for line in log.splitlines():
        commit, stamp = line.split()
        commits.append((commit, datetime.fromtimestamp(int(stamp), tz=timezone.utc)))
        listing = _git("ls-tree", "-r", commit, "--", "ablations", repo=repo) or ""
        trees[commit] = [row.split()[2] for row in listing.splitlines() if row.endswith(".py")]
    texts = _blobs(sorted({blob for blobs in trees.values() for blob in blobs}), repo)
    parsed = {blob: claim_forms(text) for blob, text in texts.items() if "Claim(" in text}
    history = []
    for commit, when in commits:
        forms: dict[str, set[str]] = {}
        for blob in trees[commit]:
            for says, form in parsed.get(blob, {}).items():
                forms.setdefault(says, set()).add(form)
        history.append((commit, when, {says: frozenset(f) for says, f in forms.items()}))
    return tuple(history)


def registrations(ablation: str, repo: Path = REPO) -> dict[str, Registration]:
    """Statement (or template) → the Registration of each claim the ablation's catalogue file declares; a claim
    the working tree declares in a form HEAD does not hold is UNCOMMITTED. {} without git history."""
    history = _history(Path(repo))
    path = Path(repo) / CATALOGUE / f"{ablation}.py"
    if not history or not path.exists():
        return {}
    found = {}
    for says, form in claim_forms(path.read_text()).items():
        oldest = None
        for commit, when, forms in history:
            if form not in forms.get(says, ()):
                break
            oldest = Registration(commit, when, Path(repo))
        found[says] = oldest or UNCOMMITTED
    return found
