"""The evaluation protocol's sampling: each example's candidates and its user's history.

* Candidates (`CandidateSampler`): the ground truth plus `num_candidates - 1`
  distinct negatives from the same set, never the ground truth.
  `negatives="random"` draws them with `np.random.default_rng([seed,
  split_index, line])`, so they are fixed per example and identical across
  loads; `"first"` takes the first other stickers in `emoji_mapping.txt`
  order (the authors' code). The ground truth's slot is drawn from the same
  per-example generator. A set with fewer than `num_candidates` usable
  stickers is topped up with stickers of the following sets (in set-id order,
  wrapping; `first`: the next ones in that order, `random`: drawn at random
  among all other sets' stickers).
  `negatives="catalogue"` ignores the sets: the negatives are drawn at random
  (same per-example generator) among every other usable sticker of the
  corpus, as a whole-catalogue recommender meets them. For corpora whose sets
  are not real sticker sets (`stickerchat.data.telegram` groups a chat
  export's stickers by emoji); never topped up.
* User history (`HistoryStream`): for each example, the up-to-`history_len`
  most recent earlier selections by the same user, in the stream train ->
  val -> test in file order, oldest first, as example-table rows; never the
  example itself or a later one.
"""

from __future__ import annotations

import collections
from typing import Dict, List, Sequence, Tuple

import numpy as np

from stickerchat.config import DataConfig


class CandidateSampler:
    """Draws the candidates of an example from the usable stickers of every set.

    Args:
        sticker_sets: Dict[int, List[int]]. Set id -> its usable sticker ids,
            sets in increasing id order (each set is one contiguous block).
        config: DataConfig. `num_candidates`, `negatives` and `seed`.
    """

    def __init__(self, sticker_sets: Dict[int, Sequence[int]], config: DataConfig):
        self.config = config
        self.all_ids = np.array([s for ids in sticker_sets.values() for s in ids], np.int64)
        self.block: Dict[int, Tuple[int, int]] = {}
        self.position: Dict[int, int] = {}
        start = 0
        for set_id, ids in sticker_sets.items():
            self.block[set_id] = (start, start + len(ids))
            for i, s in enumerate(ids):
                self.position[s] = i
            start += len(ids)

    def __len__(self) -> int:
        """The number of usable stickers."""
        return len(self.all_ids)

    def candidates(self, set_id: int, sticker_id: int, split_index: int, line_number: int) -> Tuple[List[int], int, bool]:
        """`(candidate ids, label, topped_up)` of the example on line `line_number` of split `split_index`.

        `candidates[label] == sticker_id`; `topped_up` says whether negatives
        came from other sets.
        """
        rng = np.random.default_rng([self.config.seed, split_index, line_number])
        negatives, topped_up = self.negatives(set_id, sticker_id, rng)
        label = int(rng.integers(self.config.num_candidates))
        return negatives[:label] + [sticker_id] + negatives[label:], label, topped_up

    def negatives(self, set_id: int, sticker_id: int, rng: np.random.Generator) -> Tuple[List[int], bool]:
        """`num_candidates - 1` distinct negatives, never the ground truth."""
        need = self.config.num_candidates - 1
        start, end = self.block[set_id]
        if self.config.negatives == "catalogue":
            where = start + self.position[sticker_id]  # the ground truth's index in all_ids
            chosen = rng.choice(len(self.all_ids) - 1, size=need, replace=False).tolist() if need else []
            return [int(self.all_ids[i if i < where else i + 1]) for i in chosen], False
        size = end - start
        pos = self.position[sticker_id]
        others = size - 1
        first = self.config.negatives == "first"
        take = min(need, others)
        if first:
            chosen = [i for i in range(min(size, take + 1)) if i != pos][:take]
        else:
            chosen = rng.choice(others, size=take, replace=False).tolist() if take else []
            chosen = [i if i < pos else i + 1 for i in chosen]
        result = self.all_ids[[start + i for i in chosen]].tolist() if chosen else []
        missing = need - take
        if missing == 0:
            return result, False
        # Top up from the other sets (the blocks after this one, wrapping around).
        total = len(self.all_ids)
        outside = total - size
        if first:
            picks = range(missing)
        else:
            picks = rng.choice(outside, size=missing, replace=False).tolist()
        result += [int(self.all_ids[(end + k) % total]) for k in picks]
        return result, True


class HistoryStream:
    """Each user's most recent selections so far, in stream order.

    Args:
        history_len: int. Selections kept per user.
    """

    def __init__(self, history_len: int):
        self.history_len = history_len
        self._recent: Dict[int, collections.deque] = {}
        self._recent10: Dict[int, collections.deque] = {}

    def history(self, user: int) -> List[int]:
        """Example-table rows of the user's last `history_len` selections, oldest first."""
        recent = self._recent.get(user)
        return list(recent) if recent else []

    def in_last10(self, user: int, sticker_id: int) -> bool:
        """Whether `sticker_id` is among the user's 10 most recent selections (paper §3.2)."""
        recent10 = self._recent10.get(user)
        return bool(recent10) and sticker_id in recent10

    def add(self, user: int, row: int, sticker_id: int) -> None:
        """Appends the selection of example-table row `row` to the user's stream."""
        if user not in self._recent:
            self._recent[user] = collections.deque(maxlen=self.history_len)
            self._recent10[user] = collections.deque(maxlen=10)
        self._recent[user].append(row)
        self._recent10[user].append(sticker_id)
