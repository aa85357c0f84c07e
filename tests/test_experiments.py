"""Every experiment script runs end to end on a tiny budget (runs shared and reused)."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--preset=test", "--train_steps=2", "--eval_every=2", "--verbose=0"]


def run(module, out_dir, *args):
    proc = subprocess.run(
        [sys.executable, "-m", module, f"--out_dir={out_dir}", *TINY, *args],
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"{module} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.mark.slow
def test_every_experiment_script(tmp_path):
    out = str(tmp_path)
    stdout = run("experiments.table4", out, "--methods=MRFN,SRS")
    table = open(os.path.join(out, "table4.md")).read()
    assert "| MRFN |" in table and "| SRS |" in table and "paper MAP" in table
    # Table 5's w/o UPM row is SRS's runs (the same model), reused; Table 6 reuses SRS and PESRS.
    stdout = run("experiments.table5", out, "--methods=PESRS w/o DIN,PESRS w/o UPM,PESRS")
    assert f"reusing {os.path.join(out, 'srs')}" in stdout and not os.path.exists(os.path.join(out, "pesrs_no_upm"))
    assert "| PESRS w/o UPM |" in open(os.path.join(out, "table5.md")).read()
    stdout = run("experiments.table6", out, "--methods=SRS,MostSelected,PESRS")
    assert "reusing" in stdout
    assert "| MostSelected |" in open(os.path.join(out, "table6.md")).read()
    run("experiments.sweeps", out, "--figure=9", "--values=2,3")
    assert os.path.getsize(os.path.join(out, "figure9.png")) > 1000
    assert [r["x"] for r in json.load(open(os.path.join(out, "figure9.json")))] == [2, 3]
    run("experiments.similarity", out)
    sim = json.load(open(os.path.join(out, "similarity.json")))
    assert len(sim["R10@1"]) == 5 and sum(sim["examples"]) > 0 and -1 <= sim["mean_similarity"] <= 1
    for png in ("figure12.png", "figure3a.png", "figure3b.png"):
        assert os.path.exists(os.path.join(out, png))
    # Several seeds: one run per seed, mean ± std cells, the reference paired seed by seed.
    run("experiments.table6", out, "--methods=MostSelected,PESRS", "--seeds=0,1")
    table = open(os.path.join(out, "table6.md")).read()
    assert os.path.isdir(os.path.join(out, "pesrs-seed1")) and "±" in table and "over 2 seeds" in table
    stdout = run("experiments.takeoff", out, "--models=pesrs", "--seeds=0,1")
    assert "reusing" in stdout  # the tables' PESRS runs
    runs = json.load(open(os.path.join(out, "takeoff.json")))["runs"]
    assert [(r["model"], r["seed"]) for r in runs] == [("pesrs", 0), ("pesrs", 1)]
    # Reused runs were trained by table6, without a per-step record: said, not guessed.
    assert not any(r["recorded"] for r in runs) and "not recorded" in open(os.path.join(out, "takeoff.md")).read()
    run("experiments.takeoff", out, "--models=srs", "--seeds=0", "--out_dir=" + str(tmp_path / "fresh"))
    fresh = json.load(open(os.path.join(tmp_path, "fresh", "takeoff.json")))["runs"]
    assert fresh[0]["recorded"] and os.path.exists(os.path.join(tmp_path, "fresh", "srs-seed0", "step_losses.json"))
    # Screening: one step recorded, no test metrics, and no run left behind that could be reused as a finished one.
    screen = tmp_path / "screen"
    run("experiments.takeoff", out, "--models=srs", "--seeds=0", "--stop_after=1", "--out_dir=" + str(screen))
    screened = json.load(open(screen / "takeoff.json"))["runs"]
    assert screened[0]["steps"] == 1 and "MAP" not in screened[0] and not (screen / "srs-seed0").exists()
    assert "| srs | 0 | not in the first 1 steps |" in (screen / "takeoff.md").read_text()
    # Deviations: the defaults' PESRS runs reused, an arm trained under its own run name.
    stdout = run("experiments.deviations", out, "--methods=PESRS (defaults),--preference=literal (Eq. 31-32 as printed)", "--seeds=0,1")
    assert "reusing" in stdout and os.path.isdir(os.path.join(out, "pesrs_literal_memory-seed1"))
    assert "| --preference=literal (Eq. 31-32 as printed) |" in open(os.path.join(out, "deviations.md")).read()
    # What the history adds: the same run scored with its history and with it masked.
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.history_gain", f"--out_dir={out}", os.path.join(out, "pesrs-seed0")],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (gain,) = json.load(open(os.path.join(out, "history_gain.json")))
    assert gain["model_dir"].endswith("pesrs-seed0") and 0 < gain["MAP_without_history"] <= 1
    assert gain["MAP"] == pytest.approx(json.load(open(os.path.join(out, "pesrs-seed0", "metrics.json")))["MAP"], abs=1e-4)
    # Where the memory reads: δ on the slots of the same kind, the gate, the query's separation, the gradients.
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.memory_addressing", f"--out_dir={out}", os.path.join(out, "pesrs-seed0")],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (addressing,) = json.load(open(os.path.join(out, "memory_addressing.json")))
    assert addressing["dialogs"] > 0 and 0 < addressing["same_kind_mass"] <= 1 and 0 < addressing["uniform_share"] < 1
    assert 0 <= addressing["gate"] <= 1 and 0 <= addressing["query_auc"] <= 1 and addressing["grad_read_kernel"] > 0
    # What a fixed read would add to the run's text scores, read by the true emotion, the query, or each candidate.
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.memory_oracle", f"--out_dir={out}", "--alphas=0,2", os.path.join(out, "pesrs-seed0")],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (oracle,) = json.load(open(os.path.join(out, "memory_oracle.json")))
    assert set(oracle["R10@1"]) == {"true emotion", "simulated query", "query → stickers", "query → dialogs", "candidate"}
    # The default PESRS has an emoji head on its query (`context_classify`): the two reads by the query are measured.
    assert 0 <= oracle["query_emoji_accuracy"] <= 1 and 0 < oracle["query_emoji_ceiling"] <= 1
    assert 0 <= oracle["query_emoji_accuracy_train"] <= 1
    measured = [row for row in oracle["R10@1"].values() if row is not None]
    assert len(measured) == 5 and all(set(row) == {"0", "2"} and 0 <= v <= 1 for row in measured for v in row.values())
    assert oracle["read_hit_rate"]["true emotion"] in (1.0, None)
    assert len({row["0"] for row in measured}) == 1  # α = 0 is the text scores alone, whatever the read
    assert "no query head" not in open(os.path.join(out, "memory_oracle.md")).read()
    # R10@1 over the dialogs with and without a cue word, beside each group's ceilings.
    assert set(oracle["by_cue"]) <= {"cue", "no cue"} and oracle["by_cue"]
    for group in oracle["by_cue"].values():
        assert group["dialogs"] > 0 and 0 <= group["R10@1"] <= 1 and 0 <= group["text_only_ceiling"] <= 1
    assert sum(g["dialogs"] for g in oracle["by_cue"].values()) == json.load(open(os.path.join(out, "pesrs-seed0", "metrics.json")))["num_examples"]
    run("experiments.classification", out)
    cls = json.load(open(os.path.join(out, "classification.json")))
    assert 0 <= cls["accuracy"] <= 1 and cls["stickers"] > 0 and os.path.exists(os.path.join(out, "figure15.png"))


def _fake_run(path, labels, boost, rng):
    from stickerchat.evaluation import metrics
    from stickerchat.evaluation.predictions import Predictions, write_predictions

    import numpy as np

    path.mkdir()
    n = len(labels)
    scores = rng.normal(size=(n, 10))
    scores[np.arange(n), labels] += boost
    write_predictions(str(path / "predictions.tsv"), Predictions(np.arange(n), [1] * n, labels, [list(range(10))] * n, scores))
    (path / "metrics.json").write_text(json.dumps(metrics.ranking_metrics(scores, labels)))
    return str(path)


def test_multi_seed_table_pools_the_paired_test(tmp_path):
    """Per seed a small, same-signed gain: mean ± std cells, and the pooled test marks it."""
    import numpy as np

    from experiments import common

    rng = np.random.default_rng(1)
    ref, better = [], []
    for seed in range(3):
        labels = rng.integers(0, 10, 200)
        ref.append(_fake_run(tmp_path / f"ref{seed}", labels, 0.5, rng))
        better.append(_fake_run(tmp_path / f"better{seed}", labels, 1.5, rng))
    table = common.markdown_table([("ref", ref), ("better", better)], "ref")
    row = [l for l in table.splitlines() if l.startswith("| better")][0]
    maps = [json.load(open(os.path.join(d, "metrics.json")))["MAP"] for d in better]
    assert f"{np.mean(maps):.3f} ± {np.std(maps, ddof=1):.3f}▲" in row
    assert "over 3 seeds" in table
    with pytest.raises(ValueError, match="runs"):
        common.markdown_table([("ref", ref), ("better", better[:2])], "ref")


def test_markdown_table_marks_against_reference(tmp_path):
    """A clearly better run gets ▲ against the reference; the reference row gets none."""
    import numpy as np

    from experiments import common
    from stickerchat.evaluation.predictions import Predictions, write_predictions

    rng = np.random.default_rng(0)
    n = 300
    labels = rng.integers(0, 10, n)
    dirs = {}
    for name, boost in (("ref", 0.0), ("good", 3.0)):
        d = tmp_path / name
        d.mkdir()
        scores = rng.normal(size=(n, 10))
        scores[np.arange(n), labels] += boost
        write_predictions(str(d / "predictions.tsv"), Predictions(np.arange(n), [1] * n, labels, [list(range(10))] * n, scores))
        from stickerchat.evaluation import metrics

        (d / "metrics.json").write_text(json.dumps(metrics.ranking_metrics(scores, labels)))
        dirs[name] = str(d)
    table = common.markdown_table([("ref", dirs["ref"]), ("good", dirs["good"])], "ref")
    good_row = [l for l in table.splitlines() if l.startswith("| good")][0]
    ref_row = [l for l in table.splitlines() if l.startswith("| ref")][0]
    assert "▲" in good_row and "▲" not in ref_row
