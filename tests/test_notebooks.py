"""Executes both notebooks headless (nbclient) against a tiny trained model."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A kernelspec (in a temporary JUPYTER_PATH) that runs this interpreter: the venv's python."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "stickerchat-test"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "stickerchat test",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return "stickerchat-test"


def _execute(name, kernel_name):
    import nbclient
    import nbformat

    nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{name}: outputs are not cleared"
    client = nbclient.NotebookClient(
        nb, kernel_name=kernel_name, timeout=600, resources={"metadata": {"path": NOTEBOOKS}}
    )
    client.execute()
    return nb


def _images(nb):
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {}))


@pytest.mark.slow
def test_attention_heatmaps_notebook(tiny_model_dir, kernel, monkeypatch):
    monkeypatch.setenv("STICKERCHAT_MODEL_DIR", tiny_model_dir)
    nb = _execute("attention_heatmaps.ipynb", kernel)
    assert _images(nb) >= 9  # 3 examples x (Figure 10, Figure 11, δ)


@pytest.mark.slow
def test_quickstart_notebook(kernel, tmp_path, monkeypatch):
    monkeypatch.setenv("STICKERCHAT_QUICKSTART_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("STICKERCHAT_QUICKSTART_PRESET", "test")
    monkeypatch.setenv("STICKERCHAT_QUICKSTART_STEPS", "10")
    nb = _execute("quickstart.ipynb", kernel)
    assert os.path.exists(tmp_path / "run" / "metrics.json")
    assert os.path.exists(tmp_path / "run" / "eval_val_metrics.json")
    text = "".join(o.get("data", {}).get("text/plain", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "MAP" in text  # the metrics
    assert _images(nb) >= 1
