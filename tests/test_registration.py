"""Registration read from the catalogue's git history: a claim keeps the commit that gave it its current form
(through moves between files and changes of wording), a changed claim is post hoc, and the seeds trained
before it are judged apart as exploratory, on a real git repository built here."""

import os
import subprocess
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from ablations.declare.spec import Ablation, Claim
from ablations.judge import claims as claims_module
from ablations.judge.registration import UNCOMMITTED, Registration, claim_forms, lookup, registrations

CLAIM = '''Claim(says="b is better", treatment="b", baseline="a", metric="final_val_loss", direction="{direction}",
      margin={margin}, target=0.05, why="{why}")'''


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo, path, text, message):
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    return tmp_path


def test_a_claim_keeps_the_commit_of_its_current_form_through_rewording_and_a_move(repo):
    first = _commit(repo, "ablations/old_place.py", CLAIM.format(direction="not_higher", margin=0.02, why="w"), "one")
    second = _commit(repo, "ablations/old_place.py", CLAIM.format(direction="not_higher", margin=0.01, why="w"), "two")
    (repo / "ablations/old_place.py").unlink()
    moved = CLAIM.format(direction="not_higher", margin=0.01, why="a better reason")  # wording is not the test
    _commit(repo, "ablations/catalogue/x.py", moved + "\n" + CLAIM.replace("b is better", "b is cheaper").format(
        direction="lower", margin=0.0, why="w"), "three")
    found = registrations("x", repo=repo)
    assert found["b is better"].commit == second != first  # the margin changed in `second`
    assert found["b is cheaper"].commit == _git(repo, "rev-parse", "HEAD")
    (repo / "ablations/catalogue/x.py").write_text(CLAIM.format(direction="matches", margin=0.01, why="w"))
    assert registrations("x", repo=repo)["b is better"] is UNCOMMITTED  # edited, not committed
    assert registrations("y", repo=repo) == {}


def test_a_merged_side_branch_that_left_before_a_claim_does_not_move_its_registration(repo):
    _commit(repo, "ablations/catalogue/x.py", CLAIM.format(direction="lower", margin=0.0, why="w"), "old form")
    _git(repo, "branch", "side")
    registered = _commit(repo, "ablations/catalogue/x.py", CLAIM.format(direction="not_higher", margin=0.01, why="w"),
                         "the claim's current form")
    _git(repo, "checkout", "-q", "side")  # a branch that still holds the old form, committed later
    (repo / "ablations/jobs.py").write_text("x = 1\n")
    _git(repo, "add", "-A")
    later = {"GIT_AUTHOR_DATE": "2030-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2030-01-01T00:00:00Z"}
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "side work"],
                   check=True, env={**os.environ, **later})
    _git(repo, "checkout", "-q", "-")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "merge", "-q", "--no-edit", "side")
    assert registrations("x", repo=repo)["b is better"].commit == registered


def test_a_templated_statement_is_found_for_every_claim_it_builds():
    forms = claim_forms('[Claim(says=f"RoPE beats {o} here", treatment="rope", baseline=o) for o in ("a", "b")]')
    (key,) = forms
    registration = Registration("c" * 40, datetime.now(timezone.utc))
    assert lookup({key: registration}, "RoPE beats alibi here") is registration
    assert lookup({key: registration}, "NoPE beats alibi here") is None


def test_seeds_trained_before_a_change_are_judged_apart_and_the_claim_is_post_hoc(repo, monkeypatch):
    claim = Claim(says="b is better", treatment="b", baseline="a", metric="final_val_loss", direction="lower",
                  target=0.05, why="w")
    ablation = Ablation(name="x", headline="h", source="s", base={}, variants={"a": {}, "b": {}}, baseline="a",
                        claims=(claim,), seeds=2)
    before = _commit(repo, "ablations/catalogue/x.py", "# runs first", "runs")
    registered = _commit(repo, "ablations/catalogue/x.py", CLAIM.format(direction="lower", margin=0.0, why="w"), "claim")
    later = datetime.now(timezone.utc) + timedelta(days=1)
    rows = [dict(variant=v, seed=s, outcome="trained", final_val_loss=2.0 - (0.1 + 0.01 * s if v == "b" else 0),
                 git_commit=before if s < 2 else registered, finished_at=later.isoformat(), params=1, preset="p",
                 corpus_label="c", design="d", lr=1e-3) for v in "ab" for s in range(5)]
    runs = pd.DataFrame(rows)
    runs.attrs["counted_for"] = repr(ablation)  # already the runs that count
    monkeypatch.setattr(claims_module, "registrations", lambda name: registrations(name, repo=repo))
    found = claims_module.verdicts(runs, ablation)
    confirm, explore = sorted(found, key=lambda v: v.exploratory)
    assert (confirm.pairs, explore.pairs, explore.exploratory) == (3, 2, True)
    assert confirm.registered == explore.registered == f"post hoc {registered[:7]}"
    assert confirm.ci_kind == "Stein"  # 3 seeds after a 2-seed pilot: a second stage
    diffs = [-(0.1 + 0.01 * s) for s in (2, 3, 4)]
    from ablations.judge.stats import stein_interval
    assert (confirm.effect.low, confirm.effect.high) == pytest.approx(
        (stein_interval(diffs, 2).low, stein_interval(diffs, 2).high))
    pre = runs.assign(git_commit=registered)
    pre.attrs["counted_for"] = repr(ablation)
    (only,) = claims_module.verdicts(pre, ablation)
    assert (only.registered, only.pairs, only.exploratory) == ("pre-registered", 5, False)
