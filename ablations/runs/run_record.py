"""A run's folder: the one module that knows its files, reads and writes them, and decides what they say of its state.

    RESULTS/runs/<ablation>/<run_id>/     (RESULTS: ./ablate-results, --results-dir or $ABLATE_RESULTS)
        config.json      what the run is (written when it is queued or started)
        metrics.jsonl    one row per optimiser step and per evaluation (the full record, not committed)
        history.jsonl    the record thinned to ~200 points (committed)
        summary.json     every metric's summary value; its presence marks the run done (committed)
        job.json         which job carries the run, and its executor's name
        checkpoints/     only while unfinished
        tensorboard/     event files: `tensorboard --logdir RESULTS/runs/<ablation>`
        .lock            held by the process training the run

A run whose config or summary cannot be read (cut short, edited) is `damaged`, never finished: `ablate run`
trains it again, `status` and `report` name it and go on. Imports no torch and no Lightning.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import statistics
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ablations.data.storage import atomic_write, write_json

HISTORY_POINTS = 200  # train rows per run in history.jsonl: ~70 kB, small enough to commit
STATES = ("not started", "queued", "running", "interrupted", "failed", "cancelled", "unknown", "damaged", "diverged",
          "finished")

def ablation_dir(results_dir: str | Path, ablation: str) -> Path:
    return Path(results_dir) / "runs" / ablation


def logs_dir(results_dir: str | Path, ablation: str) -> Path:
    return ablation_dir(results_dir, ablation) / "_logs"


def snapshots_dir(results_dir: str | Path, ablation: str) -> Path:
    return ablation_dir(results_dir, ablation) / "_snapshots"


def _read_json(path: Path) -> dict | None:
    """A JSON object, or None when the file is missing, unreadable or not one (cut short by a full disk, say)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSONL file; a line cut short by a kill is dropped."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _jsonl(rows: Iterable[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _window_mean(rows: list[dict]) -> dict:
    """One row standing for a window of train rows: the mean of each number (list entries element-wise),
    stamped with the window's last step."""
    out = dict(rows[-1])
    for key, value in out.items():
        if key == "step":
            continue
        if isinstance(value, list):
            out[key] = [statistics.fmean(column) for column in zip(*(r[key] for r in rows))]
        elif isinstance(value, float):
            out[key] = statistics.fmean(r[key] for r in rows)
    return out


def thin_history(rows: list[dict], points: int = HISTORY_POINTS) -> list[dict]:
    """The committed history of a run: every val row, step 1's train row untouched (the gradient norms at
    initialisation) and the other train rows averaged in windows, about `points` of them. Averaging rather
    than sampling keeps the curves honest; loss spikes are counted on the full record in the summary."""
    train = [r for r in rows if r["split"] == "train"]
    stride = max(1, len(train) // points)
    kept = train[:1] + [_window_mean(train[i:i + stride]) for i in range(1, len(train), stride)]
    return sorted(kept + [r for r in rows if r["split"] != "train"], key=lambda r: (r["step"], r["split"]))


class AlreadyTraining(RuntimeError):
    """Another process holds the run's lock: it is training it now."""


@dataclass(frozen=True)
class RunRecord:
    dir: Path

    @classmethod
    def at(cls, results_dir: str | Path, ablation: str, run_id: str) -> RunRecord:
        return cls(ablation_dir(results_dir, ablation) / run_id)

    @classmethod
    def every(cls, results_dir: str | Path, ablation: str) -> list[RunRecord]:
        """Every run ever queued or started under results_dir (it has a config), in run-id order."""
        return [cls(p.parent) for p in sorted(ablation_dir(results_dir, ablation).glob("*/config.json"))]

    @classmethod
    def done(cls, results_dir: str | Path, ablation: str) -> list[RunRecord]:
        """Runs with a readable summary: finished or diverged."""
        return [record for p in sorted(ablation_dir(results_dir, ablation).glob("*/summary.json"))
                if (record := cls(p.parent)).is_done]

    @classmethod
    def damaged(cls, results_dir: str | Path, ablation: str) -> list[RunRecord]:
        """Runs whose config or summary cannot be read."""
        folders = {p.parent for name in ("config.json", "summary.json") for p in ablation_dir(results_dir, ablation).glob(f"*/{name}")}
        return [record for folder in sorted(folders) if (record := cls(folder)).damage()]

    @staticmethod
    def any_done(results_dir: str | Path) -> bool:
        """Whether any ablation under results_dir has a finished (or diverged) run."""
        return any(RunRecord(p.parent).is_done for p in Path(results_dir).glob("runs/*/*/summary.json"))

    @property
    def run_id(self) -> str:
        return self.dir.name

    @property
    def checkpoint_dir(self) -> Path:
        return self.dir / "checkpoints"

    @property
    def checkpoint(self) -> Path:
        return self.checkpoint_dir / "last.ckpt"

    @property
    def tensorboard_dir(self) -> Path:
        return self.dir / "tensorboard"

    @property
    def is_done(self) -> bool:
        """Finished (or diverged): its summary is there and reads whole."""
        return _read_json(self.dir / "summary.json") is not None

    def damage(self) -> str | None:
        """What makes the run damaged (a config, summary or checkpoint that is there but cannot be read), or None."""
        broken = [name for name in ("config.json", "summary.json")
                  if (self.dir / name).exists() and _read_json(self.dir / name) is None]
        broken += [self.checkpoint.name] if self.checkpoint_damaged() else []
        return f"{' and '.join(broken)} cannot be read (cut short or edited)" if broken else None

    def checkpoint_damaged(self) -> bool:
        """A checkpoint is a zip archive; one cut short has lost its central directory, which is written last."""
        return self.checkpoint.exists() and not zipfile.is_zipfile(self.checkpoint)

    # config, summary and job: one JSON file each, written atomically
    def register(self, described: dict) -> None:
        """Write config.json once, when the run is first queued or started: it lists the run before it has results.
        A damaged one is written again."""
        if _read_json(self.dir / "config.json") is None:
            write_json(self.dir / "config.json", described)

    def read_config(self) -> dict:
        return json.loads((self.dir / "config.json").read_text())

    def read_config_or_none(self) -> dict | None:
        return _read_json(self.dir / "config.json")

    def write_summary(self, summary: dict) -> None:
        """Last thing a run writes: a summary marks it done."""
        write_json(self.dir / "summary.json", summary)

    def read_summary(self) -> dict:
        return json.loads((self.dir / "summary.json").read_text())

    def write_job(self, job: dict) -> None:
        write_json(self.dir / "job.json", job)

    def read_job(self) -> dict | None:
        return _read_json(self.dir / "job.json")  # a damaged one: as if no job carried the run

    # the per-step record
    def read_rows(self) -> list[dict]:
        return _read_jsonl(self.dir / "metrics.jsonl")

    def append_rows(self, rows: list[dict]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "metrics.jsonl").open("ab") as out:
            out.write(_jsonl(rows))

    def keep_rows_before(self, step: int) -> None:
        """Cut the record back before `step`: a run resumed from a checkpoint rewrites the steps after it,
        so a kill between checkpoints leaves no lost or duplicated steps."""
        kept = [row for row in self.read_rows() if row["step"] < step]
        atomic_write(self.dir / "metrics.jsonl", _jsonl(kept))

    def write_history(self) -> None:
        atomic_write(self.dir / "history.jsonl", _jsonl(thin_history(self.read_rows())))

    def read_history(self) -> list[dict]:
        """The committed history; runs finished before history.jsonl existed thin their full record here."""
        return _read_jsonl(self.dir / "history.jsonl") or thin_history(self.read_rows())

    def twin(self, holding: Iterable[str]) -> RunRecord | None:
        """The same run finished under another ablation of these results, with a summary holding every metric
        in `holding`. One id is one computation (configs, data bytes, seed), so its numbers are this run's."""
        holding = set(holding)
        for summary in sorted(self.dir.parent.parent.glob(f"*/{self.run_id}/summary.json")):
            if summary.parent != self.dir and holding <= (_read_json(summary) or {}).keys():
                return RunRecord(summary.parent)
        return None

    def adopt(self, twin: RunRecord, described: dict) -> None:
        """Take a finished twin's record as this run's, under this run's ablation, variant and design."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for name in ("history.jsonl", "metrics.jsonl"):
            if (twin.dir / name).exists():
                shutil.copyfile(twin.dir / name, self.dir / name)
        origin = {"adopted_from": twin.dir.parent.name}
        write_json(self.dir / "config.json", described | origin)
        ours = {key: described[key] for key in ("ablation", "variant", "design")}
        self.write_summary(twin.read_summary() | ours | origin)
        self.drop_checkpoint()  # an interrupted attempt at the same run has nothing left to resume

    def renamed(self, run_id: str, **changes: object) -> RunRecord:
        """The same run under another id (an id-rule upgrade): its config and summary rewritten, then its folder."""
        for path in (self.dir / "config.json", self.dir / "summary.json"):
            if path.exists():
                write_json(path, json.loads(path.read_text()) | changes | {"run_id": run_id})
        os.replace(self.dir, self.dir.parent / run_id)
        return RunRecord(self.dir.parent / run_id)

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def drop_checkpoint(self) -> None:
        shutil.rmtree(self.checkpoint_dir, ignore_errors=True)  # only unfinished runs keep one

    # one process per run
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """A second process training the same run would interleave its rows with ours."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / ".lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AlreadyTraining(f"run {self.run_id} is being trained by another process") from None
            yield

    def being_trained(self) -> bool:
        """Whether some process on this machine holds the run's lock right now."""
        try:
            with self.exclusive():
                return False
        except AlreadyTraining:
            return True

    def folder_state(self) -> str | None:
        """The state (of STATES) the folder alone decides, or None while a job carries the unfinished run: the job's
        executor decides then (`jobs.executors.run_state`). `damaged` trains again on the next `ablate run`."""
        if self.damage():
            return "damaged"
        if self.is_done:
            return "diverged" if self.read_summary().get("diverged") else "finished"
        return "not started" if self.read_job() is None else None

    def detail(self, state: str) -> str:
        """What a user needs next to a state: where a failure's log is, when a run diverged."""
        if state == "failed":
            return f"log: {(self.read_job() or {}).get('stderr')}"
        if state == "diverged":
            return f"at step {self.read_summary().get('diverged_at_step')}"
        if state == "damaged":
            return f"{self.damage()}; `ablate run {self.dir.parent.name}` with the same flags trains it again"
        return ""
