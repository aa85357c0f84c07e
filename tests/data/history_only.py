"""A tiny corpus in the released layout where only the user's history decides.

One sticker set of `num_stickers` visually distinct stickers (a solid colour
and a bar in another colour each). Every user has one favourite sticker per
topic (`num_topics`, default 2): in dialogs about topic A (the context holds
the word `alpha`) the user always sends their A sticker, about topic B
(`beta`) their B sticker, and so on. Favourites are spread evenly, so every
sticker is the A (and the B, ...) favourite of the same number of users,
and the words around the topic word are random filler. The text therefore
cannot tell the candidates apart: a text-only ranker is at chance (MAP ≈
0.46 with 5 candidates). A model that reads the user's earlier selections
can rank the user's favourites first; only one that reads the selections
made *in dialogs of the same topic* (a memory addressed by the dialog) can
tell which of the user's favourites is meant: the mean of the history holds
all of them alike.
"""

import json
import os

import numpy as np

SET_ID = 556029562811500000
FILLER = ("the", "a", "you", "we", "now", "then", "ok", "so", "what", "here", "there", "time", "go", "see")
TOPICS = ("alpha", "beta", "gamma", "delta")


def sticker_ids(num_stickers):
    return [SET_ID + 100 + k for k in range(num_stickers)]


def write_history_only_corpus(root, num_users=10, num_stickers=10, per_user=(40, 5, 5), seed=0, num_topics=2):
    """Writes the corpus into `root` and returns `root`.

    Args:
        root: directory to write.
        num_users: users, each with one favourite per topic.
        num_stickers: stickers of the one set (must be ≥ num_topics).
        per_user: examples per user in (train, val, test); the splits come
            in this order, so val/test histories are earlier selections.
        seed: seed of texts, topics and the interleaving of users.
        num_topics: topics (2 to 4), each with its favourite per user.
    """
    if not 2 <= num_topics <= len(TOPICS) or num_stickers < num_topics:
        raise ValueError(f"num_topics={num_topics} must be in 2..{len(TOPICS)} and at most num_stickers")
    root = str(root)
    rng = np.random.default_rng(seed)
    ids = sticker_ids(num_stickers)
    set_dir = os.path.join(root, "npy_stickers", str(SET_ID))
    os.makedirs(set_dir, exist_ok=True)
    palette = rng.permutation(np.array([(r, g, b) for r in (0, 120, 240) for g in (0, 120, 240) for b in (0, 120, 240)]))
    with open(os.path.join(set_dir, "emoji_mapping.txt"), "w", encoding="utf-8") as f:
        for k, sticker in enumerate(ids):
            f.write(f"{sticker}\t😀\n")
            image = np.zeros((32, 32, 3), np.uint8) + palette[k % len(palette)].astype(np.uint8)
            image[:, (k * 3) % 24 : (k * 3) % 24 + 8] = palette[(k + 7) % len(palette)].astype(np.uint8)
            np.save(os.path.join(set_dir, f"{sticker}.npy"), image)
    # User u's A favourite is sticker u, B favourite u + 1, ... (mod num_stickers): every
    # sticker is one user's A and another's B favourite.
    favourites = {u: tuple(ids[(u + t) % num_stickers] for t in range(num_topics)) for u in range(num_users)}
    user_ids = [900000000 + u for u in range(num_users)]

    def example(u):
        topic = int(rng.integers(num_topics))
        words = list(rng.choice(FILLER, size=5))
        words.insert(int(rng.integers(len(words) + 1)), TOPICS[topic])
        context = [
            {"text": " ".join(rng.choice(FILLER, size=3)), "reply_to_msg_id": None, "id": 1, "from_id": 42},
            {"text": " ".join(words), "reply_to_msg_id": None, "id": 2, "from_id": 43},
        ]
        sticker = favourites[u][topic]
        current = {"from_id": user_ids[u], "reply_to_msg_id": None, "sticker_set_id": SET_ID, "sticker_id": sticker, "sticker_alt": "😀"}
        return {"context": context, "current": current}

    for split, count in zip(("train", "val", "test"), per_user):
        order = rng.permutation(np.repeat(np.arange(num_users), count))
        with open(os.path.join(root, f"release_{split}.json"), "w", encoding="utf-8") as f:
            for u in order:
                f.write(json.dumps(example(int(u)), ensure_ascii=False) + "\n")
    with open(os.path.join(root, "vocab"), "w", encoding="utf-8") as f:
        f.write("\n".join(f"{w} 10" for w in FILLER + TOPICS[:num_topics]) + "\n")
    with open(os.path.join(root, "emoji_vocab"), "w", encoding="utf-8") as f:
        f.write("😀 10\n")
    return root
