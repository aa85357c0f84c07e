r"""The built-in demo corpus: a small, learnable corpus in exactly the released layout.

    python -m stickerchat.data.demo --out /tmp/demo [--seed 0]
    python -m stickerchat.data.demo --out /tmp/keyed --preference per_emotion   # favourites per emotion
    python -m stickerchat.data.demo --out /tmp/emoji --images emoji             # real emoji artwork
    python -m stickerchat.data.demo --out /tmp/big --num_train 50000 --num_sets 850 --npy_size 128

Generation (all draws from `np.random.default_rng(seed)`, so the bytes written
depend on the seed only):

* Emotions: 8 (happy 😀, sad 😢, angry 😠, surprised 😮, love 😍, laugh 😂,
  scared 😱, sleepy 😴), each with 8 cue words (`haha`, `sad`, `angry`, `wow`,
  ...). Other words are ~230 filler words (frequent function words plus
  pseudo-words); some pseudo-words occur only in val/test (unknown words).
* Sticker sets (`--num_sets`, default 24): each set has one style (background
  colour, face colour, face shape: circle, rounded square or wide oval) and
  up to 3 stickers per emotion, its *variants*, that differ only by an
  accessory (none, a hat, a bow tie); ~10% of the (emotion, variant) stickers
  are left out (at least one per emotion stays), so sets hold ~22 stickers. The face shows the emotion: mouth
  curve (smile, frown, open O, open laugh, wavy), eyebrows, tears, heart eyes,
  closed eyes and "z", sweat drop, and an emotion colour tint. With
  `--images=emoji` the stickers are real emoji artwork instead (Twemoji,
  `stickerchat.data.emoji_art`: each set its own emoji of the emotion, hue,
  tilt and frame, the variants a small hat or bow tie); the labels stay
  the emotion's emoji. Arrays are
  `--npy_size` (96) square in mixed forms: uint8 H×W×3 (50%), uint8 H×W×4 with
  a transparent background (20%), float32 in [0, 1] (15%), uint8 grey H×W
  (10%), float32 in [0, 255] (5%).
* Emoji labels (`emoji_mapping.txt`, `sticker_alt`): the emotion's emoji, 5% a
  wrong one, and in 2 sets the same emoji for the whole set (as in reality).
* Users (`--num_users`, default 60), with Zipf-like activity, 3 favourite
  sets (used 85% of the time) and favourite accessories: given the emotion
  and set, a user sends the variant with their favourite accessory with
  probability 0.8 (+ the uniform share of the remaining 0.2). Variants of one
  emotion cannot be told apart by the text, so only the history reveals them.
  `--preference` says what the favourite depends on:
  - `accessory` (the default): one favourite accessory per user, whatever
    the emotion. The mean of the user's history holds it.
  - `per_emotion`: a favourite accessory per user *and emotion*, balanced
    so that each accessory is the favourite of 2 or 3 of the user's 8
    emotions (a shuffled `0 1 2 0 1 2 0 1`). The user's overall habit says
    little; only the earlier selections made in dialogs of the same
    emotion tell the variants apart, so a memory must be addressed by the
    dialog (Eq. 21–24) to rank them. The favourites are drawn from a
    second random stream (`default_rng([seed, 1])`), so the sets, their
    stickers and the users are the default corpus's.
* Dialogs: 1-10 messages by 1-4 other users (sometimes the sender too), 10% of
  texts empty, 2-9 words each. With probability 0.85 the last non-empty
  message holds a cue word of the sticker's emotion (and maybe one more
  earlier); then, with probability 0.3, an earlier message holds a cue word of
  another emotion as a distractor. Otherwise (15%) the text holds no cue
  at all. The latest cue word therefore always names the right emotion.
* Splits: one stream of examples, cut into train / val / test in order.
  `vocab` (`token count`, most frequent first) is counted on the train split,
  `emoji_vocab` on the sticker labels.

The command also prints the corpus's ceilings: the expected metrics of
Bayes-optimal rankers (`stickerchat.evaluation.ceilings`).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from absl import app, flags
from PIL import Image, ImageDraw

COMPLETE_MARKER = "release_train.json"  # written last
# What a user's favourite variant depends on (`DemoSpec.preference`, see the module docstring).
PREFERENCES = ("accessory", "per_emotion")
# How the stickers are drawn (`DemoSpec.images`): PIL faces, or real emoji artwork (`stickerchat.data.emoji_art`).
IMAGES = ("drawn", "emoji")

EMOTIONS = ("happy", "sad", "angry", "surprised", "love", "laugh", "scared", "sleepy")
EMOJI = ("😀", "😢", "😠", "😮", "😍", "😂", "😱", "😴")
CUE_WORDS = (
    ("haha", "great", "yay", "nice", "awesome", "glad", "cool", "wonderful"),
    ("sad", "sorry", "cry", "miss", "lost", "unfortunately", "depressed", "tears"),
    ("angry", "annoying", "hate", "stupid", "mad", "furious", "damn", "worst"),
    ("wow", "really", "what", "unbelievable", "omg", "seriously", "shocked", "whoa"),
    ("love", "cute", "adorable", "beautiful", "darling", "sweet", "heart", "lovely"),
    ("lol", "lmao", "hilarious", "funny", "rofl", "joke", "hahaha", "kidding"),
    ("scary", "afraid", "help", "horror", "panic", "terrified", "danger", "creepy"),
    ("sleepy", "tired", "bed", "night", "yawn", "exhausted", "nap", "zzz"),
)
EMOTION_TINT = (  # RGB, in EMOTIONS order
    (255, 214, 0), (90, 150, 255), (235, 50, 40), (250, 150, 30),
    (255, 110, 180), (255, 190, 60), (160, 110, 220), (150, 150, 150),
)
ACCESSORIES = ("none", "hat", "bow")
FUNCTION_WORDS = (
    "i you he she we they it the a to of and is are was in on at for with this that my your do not "
    "so but just what's go going get got have has can will would today tomorrow yesterday now then "
    "here there time work home phone game server code bug update version link group app pic video "
    "train bus food lunch dinner coffee tea boss friend cat dog weather rain sun movie music"
).split()
_SYLLABLES = ("ba", "ko", "mi", "zu", "re", "ta", "no", "shi", "ka", "lu", "pe", "do", "ri", "ya", "fu")
FILLER_WORDS = tuple(FUNCTION_WORDS) + tuple(a + b for a in _SYLLABLES for b in _SYLLABLES[:11])


@dataclasses.dataclass
class DemoSpec:
    """Sizes and probabilities of the demo corpus (see the module docstring)."""

    seed: int = 0
    num_train: int = 3000
    num_val: int = 400
    num_test: int = 400
    num_sets: int = 24
    num_users: int = 60
    npy_size: int = 96
    p_cue: float = 0.85
    p_second_cue: float = 0.4
    p_distractor: float = 0.3
    p_favourite: float = 0.8
    p_favourite_set: float = 0.85
    favourite_sets: int = 3
    p_drop_sticker: float = 0.1
    p_wrong_emoji: float = 0.05
    p_empty_text: float = 0.1
    single_emoji_sets: int = 2
    preference: str = "accessory"  # PREFERENCES: what a user's favourite variant depends on
    images: str = "drawn"  # IMAGES: how the stickers are drawn


@dataclasses.dataclass
class DemoSticker:
    sticker_id: int
    emotion: int
    accessory: int
    emoji: str
    form: str


@dataclasses.dataclass
class DemoCorpus:
    """A generated corpus in memory (latent variables included)."""

    spec: DemoSpec
    set_ids: List[int]
    set_styles: List[dict]
    stickers: List[List[DemoSticker]]  # per set, mapping order
    users: List[int]
    user_accessory: List[int]  # the `accessory` preference's favourite (drawn in every mode)
    emotion_accessory: List[List[int]]  # [user][emotion] -> the favourite accessory actually used
    examples: Dict[str, List[dict]]  # split -> JSON objects
    latent: Dict[str, List[dict]]  # split -> {user, set, sticker, emotion, cue}


def _pick_form(rng: np.random.Generator) -> str:
    return str(rng.choice(["u8rgb", "u8rgba", "float01", "gray", "float255"], p=[0.5, 0.2, 0.15, 0.1, 0.05]))


def generate(spec: DemoSpec) -> DemoCorpus:
    """Draws the whole corpus (ids, stickers, users, dialogs) from `spec.seed`."""
    if spec.preference not in PREFERENCES:
        raise ValueError(f"unknown demo preference {spec.preference!r}; choose one of {PREFERENCES}")
    if spec.images not in IMAGES:
        raise ValueError(f"unknown demo images {spec.images!r}; choose one of {IMAGES}")
    rng = np.random.default_rng(spec.seed)
    e = len(EMOTIONS)
    # --- Sticker sets ----------------------------------------------------------------------------
    set_ids, styles, sets = [], [], []
    used_ids = set()
    for s in range(spec.num_sets):
        while True:
            set_id = int(550000000000000000 + rng.integers(0, 40000000000000000))
            if set_id not in used_ids:
                break
        used_ids.add(set_id)
        set_ids.append(set_id)
        styles.append(
            {
                "background": tuple(int(v) for v in rng.integers(150, 256, size=3)),
                "face": tuple(int(v) for v in rng.integers(170, 256, size=3)),
                "outline": tuple(int(v) for v in rng.integers(0, 90, size=3)),
                "shape": int(rng.integers(3)),
            }
        )
        single_emoji = s < spec.single_emoji_sets
        entries = [(emo, acc) for emo in range(e) for acc in range(len(ACCESSORIES))]
        rng.shuffle(entries)
        stickers, next_id = [], set_id + int(rng.integers(100, 1000))
        for k, (emo, acc) in enumerate(entries):
            # Leave some stickers out, but keep at least one per emotion.
            if rng.random() < spec.p_drop_sticker and any(x.emotion == emo for x in stickers):
                continue
            if single_emoji:
                emoji = EMOJI[0]
            elif rng.random() < spec.p_wrong_emoji:
                emoji = EMOJI[int(rng.integers(e))]
            else:
                emoji = EMOJI[emo]
            next_id += int(rng.integers(1, 40))
            stickers.append(DemoSticker(next_id, int(emo), int(acc), emoji, _pick_form(rng)))
        sets.append(stickers)

    # --- Users -------------------------------------------------------------------------------------
    users = sorted({int(v) for v in rng.integers(100000000, 999999999, size=spec.num_users * 2)})[: spec.num_users]
    users = [int(u) for u in rng.permutation(users)]
    activity = 1.0 / np.arange(1, len(users) + 1) ** 0.7
    activity /= activity.sum()
    accessory = [int(rng.integers(len(ACCESSORIES))) for _ in users]
    fav_sets = [rng.choice(spec.num_sets, size=min(spec.favourite_sets, spec.num_sets), replace=False) for _ in users]
    if spec.preference == "per_emotion":
        balanced = np.arange(e) % len(ACCESSORIES)
        rng_pref = np.random.default_rng([spec.seed, 1])
        emotion_accessory = [[int(a) for a in rng_pref.permutation(balanced)] for _ in users]
    else:
        emotion_accessory = [[a] * e for a in accessory]

    # --- Dialog stream -------------------------------------------------------------------------
    total = spec.num_train + spec.num_val + spec.num_test
    rare = FILLER_WORDS[-25:]
    common = FILLER_WORDS[:-25]
    unseen = tuple(a + b + "n" for a in _SYLLABLES[:6] for b in _SYLLABLES[:5])  # only after train
    held_out_start = spec.num_train
    message_id = 50000
    stream, latent = [], []
    for position in range(total):
        u = int(rng.choice(len(users), p=activity))
        emo = int(rng.integers(e))
        if rng.random() < spec.p_favourite_set:
            s = int(rng.choice(fav_sets[u]))
        else:
            s = int(rng.integers(spec.num_sets))
        options = [x for x in sets[s] if x.emotion == emo]
        favourite = [x for x in options if x.accessory == emotion_accessory[u][emo]]
        if favourite and rng.random() < spec.p_favourite:
            sticker = favourite[0]
        else:
            sticker = options[int(rng.integers(len(options)))]

        n = int(rng.integers(1, 11))
        others = [v for v in rng.choice(len(users), size=int(rng.integers(1, 5)), replace=False).tolist() if v != u]
        speakers = others + ([u] if rng.random() < 0.3 or not others else [])
        texts = []
        for _m in range(n):
            if rng.random() < spec.p_empty_text:
                texts.append([])
                continue
            length = int(rng.integers(2, 10))
            words = [
                rare[int(rng.integers(len(rare)))] if rng.random() < 0.03 else common[int(rng.integers(len(common)))]
                for _w in range(length)
            ]
            if position >= held_out_start and rng.random() < 0.3:
                words[int(rng.integers(length))] = unseen[int(rng.integers(len(unseen)))]
            texts.append(words)
        if not any(texts):
            texts[-1] = [common[int(rng.integers(len(common)))] for _w in range(3)]
        nonempty = [i for i, t in enumerate(texts) if t]
        cue = rng.random() < spec.p_cue
        if cue:
            last = nonempty[-1]
            cues = CUE_WORDS[emo]
            texts[last].insert(int(rng.integers(len(texts[last]) + 1)), cues[int(rng.integers(len(cues)))])
            earlier = nonempty[:-1]
            if earlier and rng.random() < spec.p_second_cue:
                i = earlier[int(rng.integers(len(earlier)))]
                texts[i].insert(int(rng.integers(len(texts[i]) + 1)), cues[int(rng.integers(len(cues)))])
            if earlier and rng.random() < spec.p_distractor:
                other = (emo + 1 + int(rng.integers(e - 1))) % e
                i = earlier[int(rng.integers(len(earlier)))]
                texts[i].insert(int(rng.integers(len(texts[i]) + 1)), CUE_WORDS[other][int(rng.integers(8))])
        context = []
        for words in texts:
            message_id += int(rng.integers(1, 4))
            reply = context[-1]["id"] if context and rng.random() < 0.2 else None
            context.append(
                {
                    "text": " ".join(words),
                    "reply_to_msg_id": reply,
                    "id": message_id,
                    "from_id": users[speakers[int(rng.integers(len(speakers)))]],
                }
            )
        message_id += 1
        current = {
            "from_id": users[u],
            "reply_to_msg_id": context[-1]["id"] if rng.random() < 0.3 else None,
            "sticker_set_id": set_ids[s],
            "sticker_id": sticker.sticker_id,
            "sticker_alt": sticker.emoji,
        }
        stream.append({"context": context, "current": current})
        latent.append({"user": u, "set": s, "sticker": sticker, "emotion": emo, "cue": cue})

    cuts = {"train": (0, spec.num_train), "val": (spec.num_train, spec.num_train + spec.num_val)}
    cuts["test"] = (spec.num_train + spec.num_val, total)
    examples = {k: stream[a:b] for k, (a, b) in cuts.items()}
    latents = {k: latent[a:b] for k, (a, b) in cuts.items()}
    return DemoCorpus(spec, set_ids, styles, sets, users, accessory, emotion_accessory, examples, latents)


# --- Images -----------------------------------------------------------------------------------
def draw_sticker(style: dict, emotion: int, accessory: int, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draws one sticker; returns (RGB uint8 (size, size, 3), face mask bool)."""
    scale = size / 96.0

    def p(*xy):
        return [v * scale for v in xy]

    img = Image.new("RGB", (size, size), style["background"])
    mask = Image.new("L", (size, size), 0)
    d, dm = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    tint = EMOTION_TINT[emotion]
    face = tuple(int(0.45 * f + 0.55 * t) for f, t in zip(style["face"], tint))
    outline = style["outline"]
    box = {0: p(16, 20, 80, 84), 1: p(18, 22, 78, 82), 2: p(10, 26, 86, 80)}[style["shape"]]
    width = max(1, int(round(2 * scale)))
    if style["shape"] == 1:
        d.rounded_rectangle(box, radius=12 * scale, fill=face, outline=outline, width=width)
        dm.rounded_rectangle(box, radius=12 * scale, fill=255)
    else:
        d.ellipse(box, fill=face, outline=outline, width=width)
        dm.ellipse(box, fill=255)
    ink = (30, 20, 20)
    lw = max(1, int(round(3 * scale)))
    # Eyes.
    if emotion == 4:  # love: heart eyes
        for cx in (36, 60):
            d.polygon(p(cx - 7, 44, cx + 7, 44, cx, 54), fill=(220, 20, 60))
            d.ellipse(p(cx - 7, 39, cx, 46), fill=(220, 20, 60))
            d.ellipse(p(cx, 39, cx + 7, 46), fill=(220, 20, 60))
    elif emotion in (5, 7):  # laugh / sleepy: closed eyes
        for cx in (36, 60):
            if emotion == 5:
                d.arc(p(cx - 7, 40, cx + 7, 52), 180, 360, fill=ink, width=lw)
            else:
                d.line(p(cx - 7, 47, cx + 7, 47), fill=ink, width=lw)
    else:
        r = 6 if emotion in (3, 6) else 4
        for cx in (36, 60):
            d.ellipse(p(cx - r, 46 - r, cx + r, 46 + r), fill=(255, 255, 255) if r > 4 else ink, outline=ink)
            if r > 4:
                d.ellipse(p(cx - 2, 44, cx + 2, 48), fill=ink)
    # Eyebrows.
    if emotion == 2:  # angry: V
        d.line(p(28, 34, 42, 40), fill=ink, width=lw)
        d.line(p(54, 40, 68, 34), fill=ink, width=lw)
    elif emotion == 1:  # sad: down outward
        d.line(p(28, 38, 42, 33), fill=ink, width=lw)
        d.line(p(54, 33, 68, 38), fill=ink, width=lw)
    elif emotion in (3, 6):  # surprised / scared: raised
        d.arc(p(28, 28, 44, 38), 200, 340, fill=ink, width=lw)
        d.arc(p(52, 28, 68, 38), 200, 340, fill=ink, width=lw)
    # Mouth.
    if emotion in (0, 4):
        d.arc(p(34, 52, 62, 72), 20, 160, fill=ink, width=lw)
    elif emotion in (1, 2):
        d.arc(p(36, 64, 60, 80), 200, 340, fill=ink, width=lw)
    elif emotion == 3:
        d.ellipse(p(42, 60, 54, 74), fill=ink)
    elif emotion == 5:
        d.chord(p(32, 54, 64, 76), 0, 180, fill=(120, 20, 20), outline=ink)
    elif emotion == 6:
        d.line(p(36, 68, 42, 64, 48, 68, 54, 64, 60, 68), fill=ink, width=lw)
    else:
        d.ellipse(p(45, 64, 51, 70), outline=ink, width=max(1, lw - 1))
    # Extras.
    if emotion in (1, 5):  # tears
        for cx in (34, 62):
            d.ellipse(p(cx - 3, 52, cx + 3, 62), fill=(60, 140, 255))
    if emotion == 6:  # sweat drop
        d.ellipse(p(68, 30, 76, 42), fill=(120, 190, 255))
    if emotion == 7:
        d.text(p(70, 8), "z", fill=ink)
        d.text(p(78, 2), "Z", fill=ink)
    # Accessory (the variant).
    if accessory == 1:  # hat
        d.polygon(p(30, 24, 66, 24, 48, 2), fill=(40, 40, 160), outline=ink)
        dm.polygon(p(30, 24, 66, 24, 48, 2), fill=255)
    elif accessory == 2:  # bow tie
        d.polygon(p(34, 82, 48, 88, 34, 94), fill=(200, 20, 20), outline=ink)
        d.polygon(p(62, 82, 48, 88, 62, 94), fill=(200, 20, 20), outline=ink)
        dm.polygon(p(34, 82, 48, 88, 34, 94), fill=255)
        dm.polygon(p(62, 82, 48, 88, 62, 94), fill=255)
    return np.asarray(img, dtype=np.uint8), np.asarray(mask) > 0


def sticker_array(style: dict, sticker: DemoSticker, size: int, images: str = "drawn") -> np.ndarray:
    """The sticker in its stored `.npy` form (see `DemoSticker.form`), drawn as `images` says (`IMAGES`)."""
    if images == "emoji":
        from stickerchat.data.emoji_art import draw_emoji_sticker  # Local: needs the artwork package.

        rgb, mask = draw_emoji_sticker(style, sticker.emotion, sticker.accessory, size)
    else:
        rgb, mask = draw_sticker(style, sticker.emotion, sticker.accessory, size)
    if sticker.form == "u8rgba":
        return np.concatenate([rgb, np.where(mask, 255, 0).astype(np.uint8)[..., None]], axis=-1)
    if sticker.form == "float01":
        return rgb.astype(np.float32) / 255.0
    if sticker.form == "float255":
        return rgb.astype(np.float32)
    if sticker.form == "gray":
        return np.rint(rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    return rgb


# --- Writing -------------------------------------------------------------------------------------
def write_demo_corpus(out_dir: str, spec: Optional[DemoSpec] = None, *, verbose: bool = True) -> DemoCorpus:
    """Writes the demo corpus into `out_dir` in the released layout; returns it."""
    spec = spec or DemoSpec()
    corpus = generate(spec)
    os.makedirs(out_dir, exist_ok=True)
    for split in ("test", "val", "train"):  # train last: its presence marks a complete corpus.
        path = os.path.join(out_dir, f"release_{split}.json")
        with open(path + ".part", "w", encoding="utf-8") as f:
            for example in corpus.examples[split]:
                f.write(json.dumps(example, ensure_ascii=False) + "\n")
        os.replace(path + ".part", path) if split != "train" else None
    words = collections.Counter(w for ex in corpus.examples["train"] for m in ex["context"] for w in m["text"].split())
    with open(os.path.join(out_dir, "vocab"), "w", encoding="utf-8") as f:
        for word, count in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
            f.write(f"{word} {count}\n")
    emoji = collections.Counter(x.emoji for stickers in corpus.stickers for x in stickers)
    with open(os.path.join(out_dir, "emoji_vocab"), "w", encoding="utf-8") as f:
        for label, count in sorted(emoji.items(), key=lambda kv: (-kv[1], kv[0])):
            f.write(f"{label} {count}\n")
    for s, stickers in enumerate(corpus.stickers):
        set_dir = os.path.join(out_dir, "npy_stickers", str(corpus.set_ids[s]))
        os.makedirs(set_dir, exist_ok=True)
        with open(os.path.join(set_dir, "emoji_mapping.txt"), "w", encoding="utf-8") as f:
            for x in stickers:
                f.write(f"{x.sticker_id}\t{x.emoji}\n")
        for x in stickers:
            np.save(os.path.join(set_dir, f"{x.sticker_id}.npy"), sticker_array(corpus.set_styles[s], x, spec.npy_size, spec.images))
    train = os.path.join(out_dir, "release_train.json")
    os.replace(train + ".part", train)
    if verbose:
        n = sum(len(x) for x in corpus.stickers)
        print(
            f"wrote the demo corpus (seed {spec.seed}, {spec.preference}, {spec.images}) to {out_dir}: "
            + ", ".join(f"{k} {len(v)}" for k, v in corpus.examples.items())
            + f" examples, {len(corpus.stickers)} sets, {n} stickers, {len(corpus.users)} users",
            flush=True,
        )
    return corpus


FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command line's flags; defined only when run as a program, so importing
    this module (as `load_corpus(None)` does) never clashes with another tool's flags."""
    flags.DEFINE_string("out", None, "Output directory (created).")
    flags.DEFINE_integer("seed", 0, "Seed: the bytes written depend on it only.")
    flags.DEFINE_integer("num_train", DemoSpec.num_train, "Training examples.")
    flags.DEFINE_integer("num_val", DemoSpec.num_val, "Validation examples.")
    flags.DEFINE_integer("num_test", DemoSpec.num_test, "Test examples.")
    flags.DEFINE_integer("num_sets", DemoSpec.num_sets, "Sticker sets (~22 stickers each).")
    flags.DEFINE_integer("num_users", DemoSpec.num_users, "Users.")
    flags.DEFINE_integer("npy_size", DemoSpec.npy_size, "Side of the stored sticker arrays.")
    flags.DEFINE_enum("preference", DemoSpec.preference, PREFERENCES, "What a user's favourite variant depends on.")
    flags.DEFINE_enum("images", DemoSpec.images, IMAGES, "How the stickers are drawn: PIL faces or real emoji artwork.")
    flags.DEFINE_bool("ceiling", True, "Print the ideal rankers' expected test metrics.")


def main(argv: Sequence[str]) -> None:
    del argv
    if not FLAGS.out:
        raise app.UsageError("--out is required")
    spec = DemoSpec(
        seed=FLAGS.seed,
        num_train=FLAGS.num_train,
        num_val=FLAGS.num_val,
        num_test=FLAGS.num_test,
        num_sets=FLAGS.num_sets,
        num_users=FLAGS.num_users,
        npy_size=FLAGS.npy_size,
        preference=FLAGS.preference,
        images=FLAGS.images,
    )
    corpus = write_demo_corpus(FLAGS.out, spec)
    if FLAGS.ceiling:
        from stickerchat.evaluation.ceilings import demo_ceiling, format_ceiling

        print("expected test metrics of ideal rankers (10 candidates, random negatives):")
        print(format_ceiling(demo_ceiling(corpus)))


if __name__ == "__main__":
    define_flags()
    app.run(main)
