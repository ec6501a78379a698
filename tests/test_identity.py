import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from conftest import ablate

from ablations.declare.train_config import TrainConfig
from ablations.runs import identity
from ablations.runs.identity import defaults, run_identity
from ablations.runs.migrate import _corpus_identity, legacy_run_id, upgrade
from models import ModelConfig

RESULTS = Path(__file__).resolve().parents[1] / "results"
COMMITTED = sorted(p.parent for p in (RESULTS / "runs").glob("*/*/config.json"))
GOLDEN = Path(__file__).parent / "golden" / "config_defaults.json"


def _id(config: dict, model: dict | None = None) -> str:
    return run_identity(model or config["model"], config["train"], _corpus_identity(config), config["seed"],
                        bool(config.get("compile")))


def test_every_committed_run_is_stored_under_the_id_its_config_hashes_to():
    assert len(COMMITTED) > 250
    for run in COMMITTED:
        config = json.loads((run / "config.json").read_text())
        assert _id(config) == run.name == config["run_id"], run


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Grown(ModelConfig):
    new_axis: str = "off"  # a field added later, at the value that reproduces the behaviour before it


def test_a_new_field_at_its_default_keeps_every_committed_id_and_any_other_value_changes_it(monkeypatch):
    monkeypatch.setattr(identity, "ModelConfig", _Grown)
    identity.defaults.cache_clear()
    try:
        for run in COMMITTED:
            config = json.loads((run / "config.json").read_text())
            grown = config["model"] | {"new_axis": _Grown.new_axis}  # what the grown code stores for this config
            assert _id(config, grown) == run.name, run
            assert _id(config, grown | {"new_axis": "on"}) != run.name, run
    finally:
        identity.defaults.cache_clear()


def test_declared_defaults_are_pinned_since_ids_omit_fields_at_them():
    # Changing a default would make every id that omits the field name another computation: add a field instead.
    pinned = json.loads(GOLDEN.read_text())
    assert {"model": defaults(ModelConfig), "train": defaults(TrainConfig)} == pinned


def _legacy_copy(run: Path, root: Path, design: str) -> Path:
    """A committed run as the first id rule stored it: under its old id, with its old design hash."""
    config = json.loads((run / "config.json").read_text())
    old = root / "runs" / run.parent.name / legacy_run_id(config)
    shutil.copytree(run, old)
    for name in ("config.json", "summary.json"):
        stored = json.loads((old / name).read_text()) | {"run_id": old.name, "design": design}
        (old / name).write_text(json.dumps(stored))
    return old


def test_upgrade_moves_proven_runs_maps_their_design_and_leaves_edited_ones(tmp_path):
    from ablations.catalogue import get_ablation
    from ablations.declare.presets import get_preset
    from ablations.runs.identity import design_hash, design_identity

    runs = [r for r in COMMITTED if r.parent.name == "serial_vs_parallel"][:2]
    config = json.loads((runs[0] / "config.json").read_text())
    ablation, preset = get_ablation("serial_vs_parallel"), get_preset(config["preset"])
    old_design = design_hash(preset.model, ablation.base, preset.train.to_dict())  # the first rule: every field
    assert design_identity(preset.model, ablation.base, preset.train.to_dict()) == config["design"] != old_design
    good, edited = (_legacy_copy(run, tmp_path, old_design) for run in runs)
    stored = json.loads((edited / "config.json").read_text())
    stored["train"]["lr"] *= 2  # no longer the config its numbers came from
    (edited / "config.json").write_text(json.dumps(stored))

    done = upgrade(tmp_path)
    assert [(path.name, new) for path, new in done.moved] == [(good.name, runs[0].name)]
    assert done.unproven == [edited] and edited.exists() and not good.exists()
    moved = tmp_path / "runs" / "serial_vs_parallel" / runs[0].name
    for name in ("config.json", "summary.json"):
        assert json.loads((moved / name).read_text()) == json.loads((runs[0] / name).read_text())
    assert (moved / "history.jsonl").read_bytes() == (runs[0] / "history.jsonl").read_bytes()
    again = upgrade(tmp_path)
    assert (len(again.moved), again.current) == (0, 1)


@pytest.mark.parametrize("dry", [True, False])
def test_upgrade_command_says_what_it_moves(tmp_path, dry):
    run = COMMITTED[0]
    old = _legacy_copy(run, tmp_path, json.loads((run / "config.json").read_text())["design"])
    result = ablate("upgrade", "--results-dir", str(tmp_path), *(["--dry-run"] if dry else []))
    assert result.returncode == 0, result.stderr
    assert ("would move 1 run(s)" if dry else "moved 1 run(s)") in result.stdout
    assert old.exists() == dry and (old.parent / run.name).exists() != dry
