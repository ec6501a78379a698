from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ablations.catalogue import all_ablations, get_ablation
from ablations.judge.analysis import load_runs, lr_sensitivity

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "inspect_results.ipynb"


def _execute() -> list:
    """Run the notebook in a real kernel (which inherits os.environ) and return its outputs, failing on any error."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    return outputs


def _html(outputs) -> str:
    return "".join(out.get("data", {}).get("text/html", "") for out in outputs)


def _figures(outputs) -> int:
    return sum("image/png" in out.get("data", {}) for out in outputs)


def test_notebook_runs_end_to_end_on_stored_results(smoke_results, monkeypatch):
    monkeypatch.setenv("ABLATE_RESULTS", str(smoke_results))
    outputs = _execute()
    html = _html(outputs)
    assert "rmsnorm" in html and "layernorm" in html and "final_val_loss" in html
    assert html.count("not run yet") == len(all_ablations()) - 1  # the overview lists every ablation; the fixture ran one
    assert _figures(outputs) == 3  # loss curves, global and per-layer gradient norms; no LR sweep here


def test_notebook_shows_the_committed_reference_results(monkeypatch):
    # Named explicitly: a clone where someone ran `ablate run` holds their runs in ./ablate-results, which the
    # notebook would otherwise prefer (tests/test_analysis.py checks that choice).
    results = NOTEBOOK.parents[1] / "results"
    monkeypatch.setenv("ABLATE_RESULTS", str(results))
    monkeypatch.setenv("ABLATE_ABLATION", "normalisation")  # clean runs over an LR sweep
    outputs = _execute()
    html = _html(outputs)
    unrun = [name for name in all_ablations() if not any((results / "runs" / name).glob("*/summary.json"))
             and not any((results / "reports" / name).glob("speed-*.csv"))]
    assert html.count("not run yet") == len(unrun) and "more LR-sensitive" in html
    sweep = not lr_sensitivity(load_runs(results, "normalisation"), get_ablation("normalisation")).empty
    assert _figures(outputs) == 3 + sweep  # the LR-sweep figure once a seed has finished every LR of both arms
