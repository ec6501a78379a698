from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "inspect_results.ipynb"


def test_notebook_runs_end_to_end_on_stored_results(smoke_results, monkeypatch):
    monkeypatch.setenv("ABLATE_RESULTS", str(smoke_results))  # the kernel inherits this environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    html = "".join(out.get("data", {}).get("text/html", "") for out in outputs)
    assert "rmsnorm" in html and "layernorm" in html and "final_val_loss" in html
    assert sum("image/png" in out.get("data", {}) for out in outputs) == 2  # loss curves and gradient norms
