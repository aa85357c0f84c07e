"""absl flags shared by the entry points, and their resolution into a `Config`.

Every override flag defaults to None, meaning "the preset's value"; the
resolved configuration is what `stickerchat.train` writes to `config.json`.
"""

from __future__ import annotations

from absl import flags

from stickerchat import config as config_lib

FLAGS = flags.FLAGS

# (flag name, config key, type, help)
OVERRIDES = (
    ("batch_size", "train.batch_size", int, "Dialogs per batch (paper: 32)."),
    ("epochs", "train.epochs", int, "Passes over the training split (when --train_steps is 0)."),
    ("train_steps", "train.train_steps", int, "Total optimizer steps (0: use --epochs)."),
    ("learning_rate", "train.learning_rate", float, "Initial Adam learning rate (paper: 1e-4)."),
    ("end_learning_rate", "train.end_learning_rate", float, "Learning rate at the end of the polynomial decay."),
    ("margin", "train.margin", float, "Hinge-loss margin (Eq. 33)."),
    ("classify_warmup_steps", "train.classify_warmup_steps", int, "Steps of emoji classification alone first."),
    ("clipnorm", "train.clipnorm", float, "Global gradient-norm clipping (0: off)."),
    ("eval_every", "train.eval_every", int, "Validate (and back up) every N steps (0: once an epoch)."),
    ("eval_batches", "train.eval_batches", int, "Validation batches per validation (0: all)."),
    ("log_every", "train.log_every", int, "Write training scalars every N steps."),
    ("hidden_dim", "model.hidden_dim", int, "Model width d (paper: 100)."),
    ("emb_dim", "model.emb_dim", int, "Word embedding size (paper: 100)."),
    ("num_heads", "model.num_heads", int, "Attention heads."),
    ("dropout", "model.dropout", float, "Dropout rate."),
    ("init_stddev", "model.init_stddev", float, "Std of the truncated-normal initialiser (paper: 0.02)."),
    ("interaction_normalize", "model.interaction_normalize", bool, "Softmax over the max-pooled relation scores (Eq. 11-12)."),
    ("preference", "model.preference", str, "How the memory meets the candidates: direct (r per candidate, in the gate and straight to the logit; default), candidate (r per candidate, in the gate only) or literal (Eq. 31-32 as printed)."),
    ("fusion_dropout", "model.fusion_dropout", float, "Dropout of the fusion Transformer (Eq. 26-28); negative: --dropout (the literal reading)."),
    ("sticker_norm", "model.sticker_norm", bool, "Layer-normalise the projected sticker features O and O_flat."),
    ("relation_init", "model.relation_init", str, "Start of w in Eq. 10: dot (scaled dot product) or normal (paper)."),
    ("text_product", "model.text_product", bool, "Add l * O_flat to Eq. 15 (the authors' code's text-sticker product)."),
    ("lexical_match", "model.lexical_match", bool, "Add a zero-initialised word-sticker bilinear term to the score's logit (not in the paper)."),
    ("memory_read_init", "model.memory_read_init", str, "Start of W_delta in Eq. 23 (bilinear address only): zeros (uniform read, default), identity (I/sqrt(d): a dot-product read of the past dialogs) or default (the layers' initialiser)."),
    ("history_encoding", "model.history_encoding", str, "Keys and values of the memory (Eq. 19-20): rnn (as printed), residual (the slot's own input added to the RNN's output) or keys (the keys as residual, the values the stickers themselves)."),
    ("memory_loss", "model.memory_loss", float, "Weight of a hinge term on the memory's own scores (0: the paper's objective)."),
    ("context_classify", "model.context_classify", float, "Weight of a loss predicting the response's emoji from the memory query (0: the paper's objective)."),
    ("memory_query", "model.memory_query", str, "What addresses the memory (Eq. 23): dialog (as printed, default) or candidate (the dialog and each candidate sticker: one read per candidate; measured no gain)."),
    ("context_encoding", "model.context_encoding", str, "How a dialog's utterances pool into the memory query and keys (Eq. 17, 22): max (as printed) or rnn (a GRU over the utterances, oldest first)."),
    ("memory_address", "model.memory_address", str, "How the query meets a key in Eq. 23: bilinear (h W k, as printed) or cosine (beta cos(h W, k), W from the identity, beta learned)."),
    ("memory_lookalike", "model.memory_lookalike", float, "Start of the weight of the read's share on each candidate's look-alikes, added to the logit (0: off, the paper)."),
    ("context_dropout", "model.context_dropout", float, "Dropout on the utterance vectors pooled into the memory query and keys (not in the paper)."),
    ("image_encoder", "model.image_encoder", str, "Sticker encoder backbone: inception_v3 or small_cnn."),
    ("image_weights", "model.image_weights", str, "Backbone weights: none, imagenet, or a weights file."),
    ("context_len", "data.context_len", int, "Utterances kept per dialog (paper: 15)."),
    ("max_words", "data.max_words", int, "Words kept per utterance (paper: 30)."),
    ("num_candidates", "data.num_candidates", int, "Candidates per example (paper: 10)."),
    ("history_len", "data.history_len", int, "History items per example (paper: 10)."),
    ("image_size", "data.image_size", int, "Sticker image size (paper: 128)."),
    ("negatives", "data.negatives", str, "Negative sampling: random (paper) or first (authors' code) from the ground truth's set, or catalogue (random, any set: for a converted chat export)."),
    ("seed", "data.seed", int, "Seed of negative sampling and shuffling."),
    ("cache_dir", "data.cache_dir", str, "Cache of packed stickers and the demo corpus."),
    ("demo_preference", "data.demo_preference", str, "Demo corpus (no --data_dir): a favourite variant per user (accessory) or per user and emotion (per_emotion)."),
    ("demo_images", "data.demo_images", str, "Demo corpus (no --data_dir): stickers drawn as faces (drawn) or from real emoji artwork (emoji)."),
    ("mixed_precision", "train.mixed_precision", str, "float32, mixed_bfloat16 or mixed_float16."),
    ("strategy", "train.strategy", str, "tf.distribute strategy: none, mirrored or multi_worker."),
    ("unique_stickers", "train.unique_stickers", bool, "Encode each distinct sticker of a training batch once."),
    ("sticker_bucket", "train.sticker_bucket", int, "Pad a batch's distinct stickers to a multiple (0: 32 under XLA, else 1)."),
)
_TYPES = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string, bool: flags.DEFINE_boolean}
# String overrides with a fixed set of values: absl enums (a typo fails before anything runs).
ENUMS = {
    "mixed_precision": config_lib.PRECISIONS,
    "strategy": config_lib.STRATEGIES,
    "negatives": config_lib.NEGATIVES,
    "image_encoder": config_lib.IMAGE_ENCODERS,
    "demo_preference": config_lib.DEMO_PREFERENCES,
    "demo_images": config_lib.DEMO_IMAGES,
}


def define_data_flags():
    flags.DEFINE_string("data_dir", None, "Data directory in the released layout (absent: the demo corpus).")
    flags.DEFINE_enum(
        "preset",
        None,
        sorted(config_lib.PRESETS),
        "Configuration preset (default: cpu without --data_dir, else paper).",
    )
    flags.DEFINE_boolean("skip_bad_examples", None, "Skip and count bad examples instead of failing.")


def define_train_flags(model_names=None):
    """The flags of `stickerchat.train`; `--model` is an enum of `model_names` when given."""
    define_data_flags()
    if model_names:
        flags.DEFINE_enum("model", "pesrs", list(model_names), "Registered model to train.")
    else:
        flags.DEFINE_string("model", "pesrs", "Registered model name (see stickerchat.models.MODEL_NAMES).")
    flags.DEFINE_string("model_dir", None, "Output directory (default: runs/<model>).")
    flags.DEFINE_boolean("jit_compile", None, "XLA-compile the training step.")
    flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into N logical devices (to test --strategy=mirrored).")
    for name, _, typ, help_ in OVERRIDES:
        if name in ENUMS:
            flags.DEFINE_enum(name, None, list(ENUMS[name]), help_)
        else:
            _TYPES[typ](name, None, help_)


def resolve_config(preset=None, data_dir=None, model_name="pesrs", **overrides) -> config_lib.Config:
    """A `Config` from a preset (default: cpu without data_dir, else paper) and overrides."""
    preset = preset or ("cpu" if data_dir is None else "paper")
    cfg = config_lib.get_preset(preset)
    cfg.model_name = model_name
    cfg.data_dir = data_dir
    keys = {name: key for name, key, _, _ in OVERRIDES}
    for name, value in overrides.items():
        if value is None:
            continue
        field = name.rsplit(".", 1)[-1]
        if field == "image_weights" and value == "none":
            value = None
        if field == "fusion_dropout" and value < 0:
            value = None  # the literal reading: the same dropout as everywhere else
        cfg = cfg.replace(**{keys.get(name, name): value})
    return cfg


def config_from_flags() -> config_lib.Config:
    overrides = {name: getattr(FLAGS, name) for name, _, _, _ in OVERRIDES}
    overrides["skip_bad_examples"] = FLAGS.skip_bad_examples
    overrides["jit_compile"] = FLAGS.jit_compile
    return resolve_config(FLAGS.preset, FLAGS.data_dir, FLAGS.model, **overrides)
