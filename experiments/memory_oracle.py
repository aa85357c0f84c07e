"""What a memory read could add on a demo corpus, read by what: a fixed read added to a trained model's text scores.

    python -m experiments.memory_oracle RUN_DIR [RUN_DIR ...] [--out_dir=results/memory_oracle]

For runs trained on a built-in demo corpus (no `--data_dir`: the latent
emotion and accessory of every sticker are drawn again from the corpus's
seed, `stickerchat.data.demo.generate`), this separates the two halves of a
preference memory, *which past selections it reads* and *what it does with
them*, without training anything:

* `s_text`: the trained model's logits on the test split with the history
  masked (what it ranks by without a memory);
* `O`: the trained sticker encoder's vectors, cosine-normalised;
* a read `w` over the real history slots, and the fixed memory term
  `m(c) = Σ_k w_k cos(O_c, O_k)`: how much candidate c resembles what the
  user chose there. Each read is scored as `argmax_c s_text(c) + α m(c)`
  for α in `--alphas`.

The reads:

* `true emotion`: uniform over the slots whose sticker has the current
  dialog's emotion: a memory addressed by the dialog with a perfect query.
  What a dialog-keyed memory could add with this model's own features.
* `simulated query`: the same, but the emotion read is the dialog's with
  probability `--simulated_accuracy` and a random one otherwise (seeded):
  how good a query has to be.
* `query → stickers`: the model's query (its emoji head on h of Eq. 22,
  `--context_classify`) against the emoji classifier (§5.2) of each past
  sticker: `w_k ∝ (q · p_k)^8`. A dialog query with the chosen stickers as
  keys (the WeightedMem form, Eq. 35).
* `query → dialogs`: the same head on the history dialogs (Eq. 16–17): the
  keys Eq. 23 has. These two need the query's emoji head (`--context_classify
  > 0`); for a model without it they are reported as not measured (None).
* `candidate`: each candidate's most similar past sticker (what
  `--memory_query=candidate` reads at its start).

It also reports the query head's emoji accuracy on the test dialogs, next
to what the text allows (`stickerchat.evaluation.ceilings.
emoji_accuracy_ceiling`) and to its accuracy on the training dialogs (a
head that learned the training dialogs by heart is far above the ceiling
there), each
read's hit rate (its heaviest slot has the dialog's emotion, over the
dialogs whose history has one), and the model's pick among the ground
truth's variants (the candidates of its emotion, which only the history
tells apart) with and without its history. Last, its R10@1 with and
without its history over the test dialogs with a cue word and over those
without one, next to the text-only and from-the-history ceilings of each
group (`stickerchat.evaluation.ceilings.demo_ceiling_by_cue`): where the
dialog names no emotion the text is at chance, and only a read by each
candidate's own emotion can still pay. Writes `memory_oracle.md` and
`memory_oracle.json`.
"""

import os

import numpy as np
from absl import app, flags

from experiments.common import mask_history, memory_query
from stickerchat import specs
from stickerchat.rundir import RunDir, runfiles

flags.DEFINE_string("out_dir", "results/memory_oracle", "Where memory_oracle.md and .json are written.")
flags.DEFINE_integer("batch_size", 50, "Test dialogs per batch.")
flags.DEFINE_list("alphas", ["0", "1", "2", "4", "8"], "Weights α of the fixed memory term.")
flags.DEFINE_float("simulated_accuracy", 0.85, "How often the simulated query names the dialog's emotion (else a random one).")
FLAGS = flags.FLAGS

READS = ("true emotion", "simulated query", "query → stickers", "query → dialogs", "candidate")


def _softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def _sharpen(relevance, power=8.0):
    w = np.maximum(relevance, 1e-9) ** power
    return w / w.sum()


def _head_accuracy(matcher, corpus, split: str, batch_size: int) -> float:
    """How often the query's emoji head names the emoji of the sticker sent, over a split's dialogs."""
    from stickerchat.data import pipeline

    right = []
    for inputs, targets in pipeline.make_dataset(corpus, split, corpus.config, batch_size=batch_size, training=False):
        predicted = np.argmax(np.asarray(matcher.context_classifier(memory_query(matcher, inputs[specs.CONTEXT]))), axis=-1)
        label = np.asarray(targets[specs.LABEL])
        right.append(predicted == np.asarray(targets[specs.CANDIDATE_EMOJI])[np.arange(len(label)), label])
    return float(np.mean(np.concatenate(right)))


def analyse(model_dir: str, batch_size: int, alphas, simulated_accuracy: float = 0.85) -> dict:
    """The reads' R10@1 at each α and the diagnostics of one run (see the module docstring)."""
    from stickerchat import data as data_lib
    from stickerchat.data import demo, pipeline
    from stickerchat.evaluation.ceilings import demo_ceiling_by_cue, emoji_accuracy_ceiling

    run = RunDir(model_dir)
    config = run.read_config()
    if config.data_dir is not None:
        raise SystemExit(f"{model_dir}: trained on {config.data_dir}, not a built-in demo corpus (its latent variables are needed)")
    model = run.load_model()
    matcher = model.matcher
    # The two reads by the model's query need its emoji head (`--context_classify > 0`); without it they are None.
    has_head = getattr(matcher, "context_classifier", None) is not None
    reads_measured = tuple(name for name in READS if has_head or not name.startswith("query"))
    data = config.data
    corpus = data_lib.load_corpus(None, data, verbose=False)
    latent = demo.generate(demo.DemoSpec(seed=data.seed, preference=data.demo_preference, images=data.demo_images))
    kind = {x.sticker_id: (x.emotion, x.accessory) for stickers in latent.stickers for x in stickers}
    ids = sorted(kind)
    _, raw = model.sticker_encoder(np.stack([corpus.sticker_image(i) for i in ids]).astype("float32"))
    raw = np.array(raw, np.float64)
    unit = raw / np.maximum(np.linalg.norm(raw, axis=-1, keepdims=True), 1e-12)
    row = {sticker: j for j, sticker in enumerate(ids)}
    sticker_emoji = _softmax(np.asarray(model.emoji_classifier(raw.astype("float32")), np.float64))

    rng = np.random.default_rng(0)
    num_emotions = len(demo.EMOTIONS)
    split = corpus.splits["test"]
    dataset = pipeline.make_dataset(corpus, "test", corpus.config, batch_size=batch_size, training=False, with_meta=True)
    logits, labels, terms = [], [], {name: [] for name in READS}
    hits = {name: [] for name in READS}
    query_right, variant_pick, variant_pick_masked, variant_chance = [], [], [], []
    by_cue = {"cue": ([], []), "no cue": ([], [])}  # R10@1 per dialog, with and without the history
    offset = 0
    for inputs, _, _ in dataset:
        text = np.clip(np.asarray(model.predict_on_batch(mask_history(inputs))[specs.SCORES], np.float64), 1e-7, 1 - 1e-7)
        full = np.asarray(model.predict_on_batch(inputs)[specs.SCORES], np.float64)
        b = text.shape[0]
        if has_head:
            q = _softmax(np.asarray(matcher.context_classifier(memory_query(matcher, inputs[specs.CONTEXT])), np.float64))
            history_context = np.asarray(inputs[specs.HISTORY_CONTEXT])
            h = history_context.shape[1]
            flat = history_context.reshape((b * h,) + history_context.shape[2:])
            q_keys = _softmax(np.asarray(matcher.context_classifier(memory_query(matcher, flat)), np.float64)).reshape(b, h, -1)
        for j in range(b):
            i = offset + j
            candidates = [int(c) for c in split.candidate_ids[i]]
            label = int(split.label[i])
            truth = candidates[label]
            emotion = kind[truth][0]
            history = [int(corpus.selected[r]) for r in split.history[i] if r >= 0]
            dialog = latent.latent["test"][i]
            if dialog["sticker"].sticker_id != truth:
                raise SystemExit(f"{model_dir}: test dialog {i} is not the demo corpus's (its sticker differs)")
            group = by_cue["cue" if dialog["cue"] else "no cue"]
            group[0].append(int(np.argmax(full[j])) == label)
            group[1].append(int(np.argmax(text[j])) == label)
            logits.append(np.log(text[j] / (1 - text[j])))
            labels.append(label)
            if has_head:
                query_right.append(int(np.argmax(q[j])) == int(corpus.sticker_emoji[truth]))
            same = [c for c, s in enumerate(candidates) if kind[s][0] == emotion]
            has_kind = any(kind[s][0] == emotion for s in history)
            if len(same) > 1 and has_kind:
                variant_pick.append(max(same, key=lambda c: full[j, c]) == label)
                variant_pick_masked.append(max(same, key=lambda c: text[j, c]) == label)
                variant_chance.append(1.0 / len(same))
            if not history:
                for name in reads_measured:
                    terms[name].append(np.zeros(len(candidates)))
                continue
            similarity = unit[[row[s] for s in candidates]] @ unit[[row[s] for s in history]].T  # (cands, slots)
            rows = [row[s] for s in history]
            guess = emotion if rng.random() < simulated_accuracy else int(rng.integers(num_emotions))
            reads = {
                "true emotion": np.array([float(kind[s][0] == emotion) for s in history]),
                "simulated query": np.array([float(kind[s][0] == guess) for s in history]),
            }
            if has_head:
                reads["query → stickers"] = q[j] @ sticker_emoji[rows].T
                reads["query → dialogs"] = q[j] @ q_keys[j, : len(history)].T
            for name, relevance in reads.items():
                if relevance.sum() > 0:
                    w = relevance / relevance.sum() if name in ("true emotion", "simulated query") else _sharpen(relevance)
                    terms[name].append(similarity @ w)
                    if has_kind:
                        hits[name].append(kind[history[int(np.argmax(w))]][0] == emotion)
                else:
                    terms[name].append(np.zeros(len(candidates)))
            terms["candidate"].append(similarity.max(axis=1))
            if has_kind:
                hits["candidate"].append(kind[history[int(np.argmax(similarity[label]))]][0] == emotion)
        offset += b
    logits, labels = np.array(logits), np.array(labels)
    r_at_1 = {
        name: {str(a): float(np.mean((logits + float(a) * np.array(terms[name])).argmax(1) == labels)) for a in alphas}
        if name in reads_measured
        else None
        for name in READS
    }
    return {
        "model_dir": model_dir,
        "R10@1": r_at_1,
        "read_hit_rate": {name: float(np.mean(v)) if v else None for name, v in hits.items()},
        "query_emoji_accuracy": float(np.mean(query_right)) if has_head else None,
        "query_emoji_ceiling": emoji_accuracy_ceiling(latent, "test"),
        "query_emoji_accuracy_train": _head_accuracy(matcher, corpus, "train", batch_size) if has_head else None,
        "variant_dialogs": len(variant_pick),
        "variant_pick": float(np.mean(variant_pick)) if variant_pick else None,
        "variant_pick_without_history": float(np.mean(variant_pick_masked)) if variant_pick else None,
        "variant_chance": float(np.mean(variant_chance)) if variant_pick else None,
        "by_cue": _by_cue(by_cue, demo_ceiling_by_cue(latent, "test", data.num_candidates, data.history_len)),
    }


def _by_cue(by_cue, ceilings) -> dict:
    """R10@1 of the run, with and without its history, and of the ideal rankers, over the dialogs with / without a cue."""
    return {
        group: {
            "dialogs": len(full),
            "R10@1": float(np.mean(full)),
            "R10@1_without_history": float(np.mean(masked)),
            "text_only_ceiling": ceilings[group]["text_only"]["R10@1"],
            "from_history_ceiling": ceilings[group]["history_from_history"]["R10@1"],
        }
        for group, (full, masked) in by_cue.items()
        if full
    }


def markdown(results, alphas) -> str:
    lines = [
        "## What a memory read adds to the trained text scores (R10@1 of s_text + α·m)\n",
        "| run | read | hit rate | " + " | ".join(f"α={a}" for a in alphas) + " |",
        "|---|---|---|" + "---|" * len(alphas),
    ]
    for r in results:
        for name in READS:
            if r["R10@1"][name] is None:
                lines.append(f"| {r['model_dir']} | {name} | – | " + " | ".join("–" for _ in alphas) + " |")
                continue
            hit = r["read_hit_rate"][name]
            cells = " | ".join(f"{r['R10@1'][name][str(a)]:.3f}" for a in alphas)
            lines.append(f"| {r['model_dir']} | {name} | {'–' if hit is None else f'{hit:.3f}'} | {cells} |")
    lines += [
        "",
        "| run | query emoji accuracy (test) | the text allows | on the training dialogs "
        "| variant dialogs | variant pick | without history | chance |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r["query_emoji_accuracy"] is None:
            head = f"– (no query head) | {r['query_emoji_ceiling']:.3f} | –"
        else:
            head = f"{r['query_emoji_accuracy']:.3f} | {r['query_emoji_ceiling']:.3f} | {r['query_emoji_accuracy_train']:.3f}"
        if r["variant_pick"] is None:
            lines.append(f"| {r['model_dir']} | {head} | 0 | – | – | – |")
            continue
        lines.append(
            f"| {r['model_dir']} | {head} | {r['variant_dialogs']} | {r['variant_pick']:.3f} | "
            f"{r['variant_pick_without_history']:.3f} | {r['variant_chance']:.3f} |"
        )
    lines += [
        "",
        "## R10@1 over the test dialogs with and without a cue word",
        "",
        "| run | dialogs | cue | R10@1 | without history | text-only ceiling | from-the-history ceiling |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for group, g in r["by_cue"].items():
            lines.append(
                f"| {r['model_dir']} | {g['dialogs']} | {group} | {g['R10@1']:.3f} | {g['R10@1_without_history']:.3f} | "
                f"{g['text_only_ceiling']:.3f} | {g['from_history_ceiling']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) < 2:
        raise app.UsageError("give one or more run directories")
    alphas = [float(a) for a in FLAGS.alphas]
    alphas = [int(a) if a.is_integer() else a for a in alphas]
    results = [analyse(d, FLAGS.batch_size, alphas, FLAGS.simulated_accuracy) for d in argv[1:]]
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    text = markdown(results, alphas)
    runfiles.write_text(os.path.join(FLAGS.out_dir, "memory_oracle.md"), text)
    runfiles.write_json(os.path.join(FLAGS.out_dir, "memory_oracle.json"), results, indent=1)
    print(text)


if __name__ == "__main__":
    app.run(main)
