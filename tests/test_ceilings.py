"""The demo corpus's ceilings: ideal rankers scored with the evaluation metrics."""

import os
import subprocess
import sys

from stickerchat.data import demo
from stickerchat.evaluation import ceilings

SMALL = dict(num_train=120, num_val=30, num_test=30, num_sets=4, num_users=8, npy_size=48)


def test_ceiling_orders_rankers():
    ceiling = ceilings.demo_ceiling(demo.DemoSpec(seed=0, **SMALL))
    assert abs(ceiling["random"]["R10@1"] - 0.1) < 1e-6
    assert abs(ceiling["random"]["MAP"] - 0.2929) < 1e-6  # (1/10) sum 1/k: ties at their expected rank
    assert ceiling["random"]["R10@1"] < ceiling["text_only"]["R10@1"] < ceiling["history_true_preferences"]["R10@1"]
    assert "history_from_history" in ceilings.format_ceiling(ceiling)


def test_default_corpus_ceiling_is_the_published_one():
    ceiling = ceilings.demo_ceiling(demo.generate(demo.DemoSpec(seed=0)))
    assert ceiling["text_only"] == {"R10@1": 0.5957, "R10@2": 0.859, "R10@5": 0.9275, "MAP": 0.7564}
    assert ceiling["history_true_preferences"]["R10@1"] == 0.7877
    assert ceiling["history_from_history"]["MAP"] == 0.8718


def test_the_demo_command_prints_the_ceilings(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = [f"--{k}={v}" for k, v in SMALL.items()]
    proc = subprocess.run(
        [sys.executable, "-m", "stickerchat.data.demo", f"--out={tmp_path / 'demo'}", *args],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=root), timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "history_true_preferences" in proc.stdout and "expected test metrics of ideal rankers" in proc.stdout


def test_per_emotion_corpus_needs_a_memory_addressed_by_the_dialog():
    ceiling = ceilings.demo_ceiling(demo.DemoSpec(seed=0, preference="per_emotion"))
    r1 = {name: metrics["R10@1"] for name, metrics in ceiling.items()}
    # The user's overall habit is worth little; the selections made in dialogs of the same emotion are.
    assert abs(r1["history_average"] - r1["text_only"]) < 0.05
    assert r1["history_from_history"] > r1["history_average"] + 0.08
    assert r1["history_true_preferences"] > r1["history_from_history"]


def test_default_corpus_average_is_its_history_ceiling():
    ceiling = ceilings.demo_ceiling(demo.DemoSpec(seed=0, **SMALL))
    assert ceiling["history_average"] == ceiling["history_from_history"]


def test_emoji_accuracy_ceiling_is_the_cue_rate_less_the_label_noise():
    clean = demo.generate(demo.DemoSpec(seed=0, single_emoji_sets=0, p_wrong_emoji=0.0, **SMALL))
    cue = sum(lat["cue"] for lat in clean.latent["test"]) / len(clean.latent["test"])
    accuracy = ceilings.emoji_accuracy_ceiling(clean)
    # Every cued dialog is named right; of the others, those whose emoji is the one most sent (half at most here).
    assert cue <= accuracy <= cue + (1 - cue) / 2
    noisy = demo.generate(demo.DemoSpec(seed=0, single_emoji_sets=2, p_wrong_emoji=0.3, **SMALL))
    assert ceilings.emoji_accuracy_ceiling(noisy) < accuracy


def test_ceiling_by_cue_splits_the_dialogs_and_the_text_is_at_chance_without_a_cue():
    corpus = demo.generate(demo.DemoSpec(seed=0, preference="per_emotion"))
    total = ceilings.demo_ceiling(corpus)
    by_cue = ceilings.demo_ceiling_by_cue(corpus)
    cue = [lat["cue"] for lat in corpus.latent["test"]]
    n = {"cue": sum(cue), "no cue": len(cue) - sum(cue)}
    assert set(by_cue) == {"cue", "no cue"} and n["no cue"] > 0
    for name in total:  # the two groups' metrics, weighted by their dialogs, are the split's
        for metric in ceilings.CEILING_METRICS:
            pooled = sum(by_cue[g][name][metric] * n[g] for g in n) / len(cue)
            assert abs(pooled - total[name][metric]) < 1e-3, (name, metric)
    assert abs(by_cue["no cue"]["text_only"]["R10@1"] - 0.1) < 1e-6  # no cue word: every emotion alike
    # Without a cue, reading each candidate's emotion in the history still pays; with one, much more.
    assert by_cue["no cue"]["history_from_history"]["R10@1"] > 0.1
    assert by_cue["cue"]["history_from_history"]["R10@1"] > by_cue["cue"]["text_only"]["R10@1"] + 0.1
