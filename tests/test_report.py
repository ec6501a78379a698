import shutil
import subprocess
import sys

READS_ONLY = """
import sys
from ablations.cli import main
import ablations.judge.analysis, ablations.reporting.plots  # what the notebook imports, beside the catalogue and the registry
assert main(["report", "--all", "--results-dir", sys.argv[1]]) == 0
training = sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "lightning", "submitit")
                  or name in ("models.transformer", "ablations.training.train", "ablations.training.system"))
print("loaded:", training)
"""


def test_reading_results_never_loads_the_training_stack(smoke_results):
    """`ablate report --all` over finished runs imports neither Lightning, nor torch, nor the model."""
    out = subprocess.run([sys.executable, "-c", READS_ONLY, str(smoke_results)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "loaded: []"
    assert (smoke_results / "reports" / "rmsnorm_vs_layernorm" / "table.md").exists()


def test_a_report_regenerated_from_unchanged_runs_is_byte_identical(smoke_results, tmp_path):
    """Figures carry no version or date: `ablate report --all` on unchanged runs leaves a clean working tree."""
    copy = tmp_path / "results"
    shutil.copytree(smoke_results, copy)
    snapshots = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-m", "ablations.cli", "report", "rmsnorm_vs_layernorm", "--results-dir",
                              str(copy)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        snapshots.append([(p.name, p.read_bytes()) for p in sorted((copy / "reports" / "rmsnorm_vs_layernorm").iterdir())])
    assert snapshots[0] == snapshots[1] and any(name.endswith(".png") for name, _ in snapshots[0])
