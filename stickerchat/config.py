"""Typed, nested experiment configuration with named presets.

One `Config` holds three sections:

* `DataConfig`: the shapes of every example (context length, words per
  utterance, candidates, history length, image size) and how candidates are
  sampled. These numbers are shared by the input pipeline and the models.
* `ModelConfig`: architecture hyper-parameters (§6.4 of the paper).
* `TrainConfig`: optimisation (Adam, polynomial decay, warm-up on the emoji
  task, clipping), evaluation interval and precision.

Presets:

* `paper`: §6.4 of the paper: Inception-v3 at 128×128, embedding and hidden
  size 100, 15 utterances × 30 words, 10 candidates, 10 history items, batch
  32, Adam at 1e-4, 1,000 warm-up steps on the emoji task.
* `cpu`: a small CNN sticker encoder and smaller sizes so PESRS trains on two
  CPU cores in minutes (the default when no `--data_dir` is given).
* `test`: the tiniest configuration, for the unit tests.

`Config.to_dict()` / `Config.from_dict()` round-trip through JSON so that the
resolved configuration of a run is written to `model_dir/config.json` and any
run can be repeated.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any, Optional


@dataclasses.dataclass
class DataConfig:
    """Example shapes and sampling protocol.

    Attributes:
        context_len: int. Number of most recent non-empty utterances kept
            (paper: 15).
        max_words: int. Words kept per utterance, from its start (paper: 30).
        num_candidates: int. Ground truth plus negatives (paper: 10).
        history_len: int. Most recent earlier selections of the same user
            (paper: 10).
        image_size: int. Stickers are resized to `image_size × image_size`
            (paper: 128).
        negatives: str. `random` (the paper: seeded random stickers of the
            same set), `first` (the authors' released code: the first other
            stickers in `emoji_mapping.txt` order) or `catalogue` (seeded
            random stickers of the whole corpus, any set: for corpora without
            real sticker sets, such as a converted chat export).
        seed: int. Seed of negative sampling and of the training shuffle.
        skip_bad_examples: bool. Count and skip malformed examples instead of
            raising an error that names the file and line.
        cache_dir: Optional[str]. Where packed sticker arrays and the built
            demo corpus are cached; None uses `$STICKERCHAT_CACHE` or
            `~/.cache/stickerchat`.
        demo_preference: str. Without a data directory: what a demo user's
            favourite variant depends on (`stickerchat.data.demo.PREFERENCES`):
            `accessory` (the default corpus: one favourite per user) or
            `per_emotion` (one per user and emotion: only a memory addressed
            by the dialog can rank the variants).
        demo_images: str. Without a data directory: how the demo stickers
            are drawn: `drawn` (PIL faces, the default) or `emoji` (real
            emoji artwork, `stickerchat.data.emoji_art`).
    """

    context_len: int = 15
    max_words: int = 30
    num_candidates: int = 10
    history_len: int = 10
    image_size: int = 128
    negatives: str = "random"
    seed: int = 0
    skip_bad_examples: bool = False
    cache_dir: Optional[str] = None
    demo_preference: str = "accessory"
    demo_images: str = "drawn"


@dataclasses.dataclass
class ModelConfig:
    """Architecture hyper-parameters.

    Attributes:
        vocab_size: int. Word vocabulary size including the reserved padding
            (0) and unknown (1) ids. Filled in from the data directory.
        num_emoji: int. Emoji-label vocabulary size including reserved ids.
            Filled in from the data directory.
        emb_dim: int. Word embedding size (paper: 100).
        hidden_dim: int. Model width d (paper: 100).
        num_heads: int. Attention heads of the Transformer blocks.
        num_transformer_layers: int. Stacked self-attention blocks in the
            utterance encoder (Eq. 2–8).
        ffn_dim: int. Inner size of the Transformer feed-forward layer; 0 means
            `hidden_dim`.
        dropout: float. Dropout rate of Eq. 7. The paper gives no rate; the
            default is 0, chosen by measurement: on the demo corpus 0.1 held
            SRS on its initial plateau about twice as long (seed 1: 144
            steps after the emoji warm-up instead of about 65).
        image_encoder: str. `inception_v3` (the paper) or `small_cnn` (the
            CPU/test preset).
        image_weights: Optional[str]. None (random init), `imagenet`, or a
            path to a weights file for the backbone.
        cnn_filters: int. Base width of the `small_cnn` backbone.
        init_stddev: float. Std of the truncated-normal initialiser of
            every layer (§6.4: "Gaussian in [-0.02, 0.02]"); 0, the default,
            selects Keras' own initialisers instead (Glorot-uniform kernels,
            orthogonal recurrent kernels, N(0, 1/emb_dim) embeddings). A
            deviation chosen by measurement: at 0.02 the memory read and the
            history encoders get gradients of 1e-10 to 1e-7 (under Adam's ε,
            so they do not train) and the history-only learning test stays
            at chance; `--init_stddev=0.02` is the paper's.
        memory: str. How the preference memory is read: `attention` (Eq. 23,
            PESRS), `average` (§7.8 average_mem: the mean of the real history
            stickers) or `weighted` (§7.8 weighted_mem, Eq. 35–36: attention of
            the query over the history stickers, without key addressing).
        interaction_normalize: bool. In the deep interaction network (Eq.
            11–12), softmax-normalise the max-pooled relation scores τᵘ (over
            the real words) and τˢ (over the sticker units) before using them
            as attention weights (True, the default); False uses the raw
            max-pooled scores as the paper's equations literally do.
        use_din: bool. Deep interaction network (False: "w/o DIN").
        use_fusion_rnn: bool. Fusion RNN (False: "w/o FR").
        fusion_rnn_type: str. `gru` (paper) or `transformer` ("FR2T").
        use_memory: bool. User preference memory and gated fusion (False:
            SRS / "w/o UPM").
        use_time_aware_rnn: bool. Position-aware RNN over the history
            (False: "w/o TAR").
        use_classify: bool. Auxiliary emoji classification loss (False:
            "w/o Classify").
        preference: str. How the preference memory meets the candidates
            (Eq. 31–32): `candidate` (a deviation) reads r per
            candidate as `r_c = r ⊙ FC(O_flat_c)`, so the memory can prefer
            the candidates that resemble the stickers the user chose in
            similar contexts; `direct` (the default since issue 20's fix)
            also adds `FC'(r_c)` to the logit outside the gate of Eq. 31, so
            a read that the gate shuts still reaches the score (with the
            memory of 418e696 it measured no better than `candidate`; with
            the addressing memory it is where the read pays, README);
            `literal`
            uses one r for every candidate, as printed, which cannot rank
            candidates by the history (see `GatedFusion`).
        fusion_dropout: Optional[float]. Dropout of the fusion Transformer
            (Eq. 26–28); None means `dropout` (the literal reading: "the
            self-attention of Eq. 5–8", whose Eq. 7 has dropout). Dropout
            there is drawn independently for each candidate and acts as
            noise on the candidate scores.
        sticker_norm: bool. Layer-normalise the projected sticker map O and
            vector O_flat (not in the paper; see `StickerEncoder`).
        relation_init: str. How w of Eq. 10 starts: `dot` (a scaled dot
            product, as in the authors' code) or `normal` (§6.4); see
            `DeepInteraction`.
        text_product: bool. Add `l ⊗ O_flat` to the input of Eq. 15, the
            product of text and candidate sticker that the authors' code
            feeds its fusion network (see `_Integration`); False is Eq. 15 as
            printed.
        lexical_match: bool. Add a zero-initialised bilinear term between the
            context's bag of words and the candidate's O_flat to the score's
            logit (`LexicalMatch`; not in the paper): a one-step path from a
            word to the score, so ranking leaves its initial plateau early
            on every seed. False is the paper's score.
        memory_read_init: str. How W_δ of Eq. 23 starts: `zeros` (the
            default; δ starts uniform, the read starts as the mean of the
            history), `identity` (W_δ = I/√d, so δ starts as a scaled
            dot-product read of the past dialogs that resemble the current
            one) or `default` (the layers' initialiser, §6.4's normal or
            Keras' Glorot; see `PreferenceMemory`). `identity` was the
            default from 4eed6dd to 7e1e951, chosen on one seed of the
            per-emotion demo corpus; over seeds 0–2 it did not help there
            and cost MAP on the default corpus (README).
        history_encoding: str. How the memory's keys and values are encoded
            from the history (Eq. 19–20): `rnn` (the GRU as
            printed: each slot a blend of the slots before it) or `residual`
            (the slot's own input added to the position-aware GRU's output,
            so key k is dialog k and value k sticker k; see
            `HistoryEncoder`). `residual` was the default from 4eed6dd to
            7e1e951 (see `memory_read_init`). `keys`: the keys as
            `residual` (the position-aware GRU of Eq. 19 with the skip) and
            the values the history stickers themselves (Eq. 18; Eq. 20's RNN
            skipped), so a read of the past dialogs like this one returns
            the stickers chosen in them, not a blend of every sticker up to
            them; the default since issue 20's fix. For the memories
            without keys (AverageMem, WeightedMem) `keys` leaves the values
            unencoded.
        memory_loss: float. Weight of a second hinge term (Eq. 33) on the
            memory's own scores `σ(FC_m(r_c))` (`GatedFusion(memory_score=
            True)`; not in the paper): a learning signal for the addressing
            that the gate of Eq. 31 does not scale down. The model still
            ranks by Eq. 32. 1 is the default since issue 20's fix; 0 is
            the paper's objective (with the memory of 418e696 on the
            per-emotion demo corpus, seed 0: MAP 0.744 against 0.734
            without it, and the gate of Eq. 31 still shut the memory, mean
            f_g 0.99; see the README).
        context_classify: float. Weight of an auxiliary cross-entropy that
            predicts the emoji of the sticker the user sent from the memory
            query h of Eq. 22 (a `Dense` head on h; not in the paper; 1, the
            default since issue 20's fix and from 4eed6dd to 7e1e951; 0 is
            the paper's objective). Mean-pooled over words and max-pooled over
            utterances, h is dominated by the filler words: on the
            per-emotion demo corpus the trained model's h told dialogs of
            the same emotion from others no better than chance (cosine
            AUC 0.505), so the read of Eq. 23 could not find past dialogs of
            the same kind. Trained to predict the response's emoji, h and
            the keys of Eq. 17 (the same encoder and pooling) carry it
            (AUC 0.59 on seed 0), but over seeds 0–2 the memory still added
            nothing there (`experiments.memory_oracle`: the head names the
            response's emoji in 54–66% of the test dialogs, too few for a
            read by it to pay).
        memory_query: str. What addresses the memory (Eq. 23): `dialog`
            (the default, as printed: the dialog's query h alone, one read
            for every candidate) or `candidate` (an option, not in the
            paper): a term for each candidate sticker is added,
            `δ_{c,k} = softmax_k(h W_δ ĥᵏ + O_c W_c O_k)`, so each candidate
            reads the past selections that look like it
            (`PreferenceMemory(candidate_query=True)`). With the memory of
            418e696 it added nothing (seed 0: every candidate, of any
            emotion, found the stickers like it that the user chose
            before). With today's memory, on the per-emotion demo corpus,
            it meets issue 20's R10@1 target on seeds 0–2 (MAP 0.786 ±
            0.022 against 0.773 ± 0.018; not significant, p = 0.056), by
            telling the variants apart better; but the context-keyed
            learning test fails with it (where a user's favourites are all
            in the history, each favourite candidate finds itself and the
            dialog no longer decides), so it is not the default. W_c starts
            like W_δ (the identity with the cosine address); from zero or
            I/√d the test passes and the per-emotion scores fall below the
            defaults. See the README.
        context_encoding: str. How the utterances of a dialog pool into one
            vector, for the memory's query h (Eq. 21–22) and its keys h̄ᵏ
            (Eq. 16–17) alike: `max` (as printed: mean over the words, max
            over the utterances) or `rnn` (mean over the words, then a GRU
            over the utterances, oldest first, its last state; not in the
            paper; `ContextPooling(utterance_pooling='rnn')`; the default
            since issue 20's fix). The max is
            blind to the order of the utterances, so a dialog that names
            one emotion in its latest message and another in an earlier one
            cannot be told from the reverse.
        memory_address: str. How the query meets a key in Eq. 23 (and the
            WeightedMem's Eq. 35): `bilinear` (as printed, `h W_δ ĥᵏ`) or
            `cosine` (`β cos(h W_δ, ĥᵏ)`, W_δ from the identity and the
            sharpness β learned from 10; not in the paper;
            `PreferenceMemory(address='cosine')`; the default since issue
            20's fix). The bilinear logit is
            the product of the norms of h and ĥᵏ: from W_δ = 0 the read is
            the history's mean until W_δ grows, and the gradient that
            would grow it is the read's, which says little while the read
            is a mean. `memory_read_init` has no effect with `cosine`; `check`
            refuses a value other than `zeros` there.
        context_dropout: float. Dropout on the utterance vectors of the
            memory's query and keys before Eq. 17 / 22's pooling (not in
            the paper; 0 is the paper's; `ContextPooling(dropout=...)`).
            0.3, the default since issue 20's query fix, chosen on seeds 3
            and 4 of the per-emotion demo corpus: without it the query's
            emoji head learned the training dialogs (right in 88.3 / 84.5%
            of them and 79.5 / 75.7% of the test ones, where the text
            allows 79.2 / 78.7%); with it 84.9 / 81.8% and 79.7 / 78.2%,
            and MAP 0.773 / 0.782 against 0.749 / 0.770 (README). The
            `test` preset keeps 0.
        memory_lookalike: float. The start of the weight w of
            `LookAlikeEvidence` (not in the paper; 0 leaves it out, the
            paper's score): `w · Σ_k δ_k exp(τ (cos(Q O_c, O_k) − 1))`, the
            share of the dialog's read that lies on past stickers looking
            like candidate c, added to the logit of Eq. 32. 5, the default
            since issue 20's look-alike fix, chosen on seeds 3 and 4 of the
            per-emotion demo corpus (MAP 0.777 / 0.795 against 0.773 /
            0.782; from w = 2 and τ = 10 the two scalars barely moved in
            training and it did not help) and reported on seeds 0–2
            (README). The read r of Eq. 24 blends the read stickers, and
            the small mark that tells a sticker from its variants is
            averaged away; this keeps it per slot.
    """

    vocab_size: int = 0
    num_emoji: int = 0
    emb_dim: int = 100
    hidden_dim: int = 100
    num_heads: int = 4
    num_transformer_layers: int = 1
    ffn_dim: int = 0
    dropout: float = 0.0
    image_encoder: str = "inception_v3"
    image_weights: Optional[str] = None
    cnn_filters: int = 32
    init_stddev: float = 0.0
    memory: str = "attention"
    interaction_normalize: bool = True
    use_din: bool = True
    use_fusion_rnn: bool = True
    fusion_rnn_type: str = "gru"
    use_memory: bool = True
    use_time_aware_rnn: bool = True
    use_classify: bool = True
    preference: str = "direct"
    fusion_dropout: Optional[float] = 0.0
    sticker_norm: bool = True
    relation_init: str = "dot"
    text_product: bool = True
    lexical_match: bool = True
    memory_read_init: str = "zeros"
    history_encoding: str = "keys"
    memory_loss: float = 1.0
    context_classify: float = 1.0
    memory_query: str = "dialog"
    context_encoding: str = "rnn"
    memory_address: str = "cosine"
    context_dropout: float = 0.3
    memory_lookalike: float = 5.0


@dataclasses.dataclass
class TrainConfig:
    """Optimisation and evaluation settings.

    Attributes:
        batch_size: int. Dialogs per batch (paper: 32).
        epochs: int. Passes over the training split (used when
            `train_steps` is 0).
        train_steps: int. Total optimizer steps; 0 means `epochs` passes.
        learning_rate: float. Initial Adam learning rate (paper: 1e-4).
        end_learning_rate: float. Polynomial decay end value.
        decay_power: float. Polynomial decay power.
        margin: float. Hinge-loss margin (Eq. 33) on the (0, 1) scores; the
            paper gives none (the authors' code: 1 on raw logits), see
            `losses.hinge_ranking_loss`.
        classify_weight: float. Weight of the emoji loss L_s.
        classify_warmup_steps: int. Steps trained on the emoji task alone
            before the whole model (authors: 1,000).
        clipnorm: float. Global gradient-norm clipping; 0 disables.
        eval_every: int. Validate every this many steps, and at the last
            step; 0 means once an epoch.
        eval_batches: int. Validation batches per validation; 0 means all.
        mixed_precision: str. `float32`, `mixed_bfloat16` or `mixed_float16`.
        jit_compile: bool. XLA-compile the train step.
        strategy: str. `none`, `mirrored` or `multi_worker`.
        shuffle_buffer: int. Shuffle buffer of the training split.
        log_every: int. Scalars are written to TensorBoard every this many
            steps.
        attention_images: int. Validation examples whose τ_s heatmaps are
            written to TensorBoard at each validation (0: none).
        unique_stickers: bool. Encode each distinct sticker image of a
            training batch once and gather (`StickerRanker.call_on_unique_stickers`;
            the same scores and gradients, about half the encoder calls on
            the demo corpus). Every registered model supports it; used under
            a single-replica strategy, otherwise every slot is encoded.
        sticker_bucket: int. With `unique_stickers`, the distinct images of a
            batch are padded to a multiple of this many (fewer shapes for XLA
            to compile); 0 means 32 with `jit_compile`, else 1 (no padding).
    """

    batch_size: int = 32
    epochs: int = 1
    train_steps: int = 0
    learning_rate: float = 1e-4
    end_learning_rate: float = 1e-6
    decay_power: float = 1.0
    margin: float = 0.1
    classify_weight: float = 1.0
    classify_warmup_steps: int = 1000
    clipnorm: float = 5.0
    eval_every: int = 0
    eval_batches: int = 0
    mixed_precision: str = "float32"
    jit_compile: bool = False
    strategy: str = "none"
    shuffle_buffer: int = 10000
    log_every: int = 10
    attention_images: int = 3
    unique_stickers: bool = True
    sticker_bucket: int = 0


@dataclasses.dataclass
class Config:
    """A whole experiment: data shapes, model and training.

    Attributes:
        data, model, train: the three sections.
        preset: the preset the run started from.
        model_name: the registered model (`stickerchat.models.MODEL_NAMES`).
        data_dir: the data directory; None means the built-in demo corpus.
    """

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    preset: str = "paper"
    model_name: str = "pesrs"
    data_dir: Optional[str] = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        d = dict(d)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown config sections: {sorted(unknown)}")
        return cls(
            data=_section(DataConfig, d.get("data", {}), "data"),
            model=_section(ModelConfig, d.get("model", {}), "model"),
            train=_section(TrainConfig, d.get("train", {}), "train"),
            preset=d.get("preset", "paper"),
            model_name=d.get("model_name", "pesrs"),
            data_dir=d.get("data_dir"),
        )

    @classmethod
    def from_json(cls, text: str) -> "Config":
        return cls.from_dict(json.loads(text))

    def replace(self, **overrides: Any) -> "Config":
        """Returns a copy with `section.field=value` style overrides.

        Keys are either `section.field` or a bare field name that is unique
        across sections (`batch_size`, `hidden_dim`, ...).
        """
        new = copy.deepcopy(self)
        for key, value in overrides.items():
            section, field = _locate(key)
            setattr(getattr(new, section), field, value)
        return new


# Fields added after runs were written with their section, and what a run written
# before them was trained with: a `config.json` without the field reads as that, not
# as today's default, so an old run is rebuilt (and resumed) as it was trained.
ABSENT_MEANS = {
    "model": {
        "lexical_match": False,
        "memory_read_init": "default",
        "history_encoding": "rnn",
        "memory_loss": 0.0,
        "context_classify": 0.0,
        "memory_query": "dialog",
        "context_encoding": "max",
        "memory_address": "bilinear",
        "context_dropout": 0.0,
        "memory_lookalike": 0.0,
    },
}


def _section(cls, values: dict, name: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"Unknown fields in config section '{name}': {sorted(unknown)}")
    # An empty section is not a written one: it takes today's defaults.
    absent = {key: value for key, value in ABSENT_MEANS.get(name, {}).items() if values and key not in values}
    return cls(**{**absent, **values})


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _locate(key: str) -> tuple:
    if "." in key:
        section, field = key.split(".", 1)
        if section not in _SECTIONS or field not in {f.name for f in dataclasses.fields(_SECTIONS[section])}:
            raise ValueError(f"Unknown config key: {key}")
        return section, field
    owners = [s for s, c in _SECTIONS.items() if key in {f.name for f in dataclasses.fields(c)}]
    if len(owners) != 1:
        raise ValueError(f"Unknown or ambiguous config key: {key}")
    return owners[0], key


def paper() -> Config:
    """§6.4 of the paper, with Inception-v3 fine-tuned from its ImageNet weights (as the authors did).

    `--image_weights=none` starts the encoder from random weights instead,
    `--image_weights=FILE` from a weights file (for machines that cannot
    download Keras' ImageNet weights).
    """
    return Config(model=ModelConfig(image_weights="imagenet"), preset="paper")


def cpu() -> Config:
    """A small CNN and smaller sizes: PESRS trains on 2 CPU cores in minutes."""
    return Config(
        data=DataConfig(context_len=8, max_words=12, num_candidates=10, history_len=10, image_size=64),
        model=ModelConfig(
            emb_dim=64, hidden_dim=64, num_heads=4, image_encoder="small_cnn", cnn_filters=32, dropout=0.0
        ),
        train=TrainConfig(
            batch_size=32,
            epochs=6,
            learning_rate=1e-3,
            end_learning_rate=1e-4,
            classify_warmup_steps=50,
            eval_batches=0,
        ),
        preset="cpu",
    )


def test() -> Config:
    """The tiniest configuration, for unit tests.

    No dropout, the memory's included (`context_dropout=0`): at width 16 a
    dropout of 0.3 on the query's utterance vectors held the context-keyed
    learning test (`tests/training/test_history_learning.py`) at the
    history average for its 600 steps (MAP 0.797); the default is for the
    cpu and paper sizes, chosen on the per-emotion demo corpus.
    """
    return Config(
        data=DataConfig(context_len=4, max_words=6, num_candidates=5, history_len=3, image_size=32),
        model=ModelConfig(
            vocab_size=50,
            num_emoji=8,
            emb_dim=16,
            hidden_dim=16,
            num_heads=2,
            image_encoder="small_cnn",
            cnn_filters=8,
            dropout=0.0,
            context_dropout=0.0,
        ),
        train=TrainConfig(batch_size=4, epochs=1, learning_rate=1e-3, classify_warmup_steps=0, log_every=1),
        preset="test",
    )


PRESETS = {"paper": paper, "cpu": cpu, "test": test}
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
STRATEGIES = ("none", "mirrored", "multi_worker")
NEGATIVES = ("random", "first", "catalogue")
DEMO_PREFERENCES = ("accessory", "per_emotion")  # `stickerchat.data.demo.PREFERENCES`
DEMO_IMAGES = ("drawn", "emoji")  # `stickerchat.data.demo.IMAGES`
IMAGE_ENCODERS = ("inception_v3", "small_cnn")


def check(config: Config) -> None:
    """Raises ValueError naming the first setting outside its allowed values or range.

    Run before anything is written, so that a rejected value never leaves a
    model directory behind.
    """
    allowed = {
        "train.mixed_precision": (config.train.mixed_precision, PRECISIONS),
        "train.strategy": (config.train.strategy, STRATEGIES),
        "data.negatives": (config.data.negatives, NEGATIVES),
        "data.demo_preference": (config.data.demo_preference, DEMO_PREFERENCES),
        "data.demo_images": (config.data.demo_images, DEMO_IMAGES),
        "model.image_encoder": (config.model.image_encoder, IMAGE_ENCODERS),
        "preset": (config.preset, tuple(PRESETS)),
    }
    for key, (value, choices) in allowed.items():
        if value not in choices:
            raise ValueError(f"{key}={value!r} is not one of {', '.join(choices)}")
    positive = {
        "train.batch_size": config.train.batch_size,
        "data.context_len": config.data.context_len,
        "data.max_words": config.data.max_words,
        "data.num_candidates": config.data.num_candidates,
        "data.image_size": config.data.image_size,
        "model.hidden_dim": config.model.hidden_dim,
        "model.emb_dim": config.model.emb_dim,
        "model.num_heads": config.model.num_heads,
    }
    non_negative = {
        "train.epochs": config.train.epochs,
        "train.train_steps": config.train.train_steps,
        "train.eval_every": config.train.eval_every,
        "train.eval_batches": config.train.eval_batches,
        "data.history_len": config.data.history_len,
        "train.learning_rate": config.train.learning_rate,
        "train.clipnorm": config.train.clipnorm,
    }
    for key, value in positive.items():
        if not value > 0:
            raise ValueError(f"{key}={value!r} must be positive")
    for key, value in non_negative.items():
        if not value >= 0:
            raise ValueError(f"{key}={value!r} must not be negative")
    if not 0 <= config.model.dropout < 1:
        raise ValueError(f"model.dropout={config.model.dropout!r} must be in [0, 1)")
    if not (config.train.train_steps or config.train.epochs):
        raise ValueError("train.train_steps and train.epochs are both 0: nothing to train")
    if not config.model.memory_lookalike >= 0:
        raise ValueError(f"model.memory_lookalike={config.model.memory_lookalike!r} must not be negative")
    if config.model.memory_address == "cosine" and config.model.memory_read_init != "zeros":
        raise ValueError(
            f"model.memory_read_init={config.model.memory_read_init!r} has no effect with "
            "model.memory_address='cosine' (its W_delta starts at the identity); "
            "set model.memory_address='bilinear' to use it"
        )


def get_preset(name: str) -> Config:
    """Returns a fresh `Config` for a named preset."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset '{name}'; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()
