import numpy as np

from stickerchat.layers import GatedFusion, LexicalMatch, MatchingScore
from testing import TestCase, to_numpy

VOCAB, D = 12, 4


def _context():
    # (batch 2, turns 3, words 4); 0 is padding.
    return np.array(
        [
            [[2, 3, 0, 0], [4, 0, 0, 0], [0, 0, 0, 0]],
            [[5, 5, 6, 7], [0, 0, 0, 0], [0, 0, 0, 0]],
        ],
        dtype=np.int32,
    )


def _candidates(seed=0):
    return np.random.default_rng(seed).normal(size=(2, 3, D)).astype(np.float32)


class TestLexicalMatch(TestCase):
    def test_layer_behaviors(self):
        self.run_layer_test(
            LexicalMatch,
            init_kwargs={"vocab_size": VOCAB, "dim": D},
            input_data={"context": _context(), "candidate_vector": _candidates()},
            expected_output_shape=(2, 3),
            expected_num_trainable_weights=1,
            float32_outputs=(0,),
        )

    def test_zero_at_initialisation(self):
        """The table starts at zero: a fresh model's scores are the paper's."""
        layer = LexicalMatch(VOCAB, D)
        np.testing.assert_array_equal(to_numpy(layer(_context(), _candidates())), np.zeros((2, 3)))

    def test_mean_over_real_words_against_each_candidate(self):
        layer = LexicalMatch(VOCAB, D)
        layer.build()
        table = np.random.default_rng(1).normal(size=(VOCAB, D)).astype(np.float32)
        table[0] = 100.0  # padding must not count
        layer.word_sticker.assign(table)
        context, candidates = _context(), _candidates(2)
        out = to_numpy(layer(context, candidates))
        bags = [table[[2, 3, 4]].mean(0), table[[5, 5, 6, 7]].mean(0)]
        expected = np.stack([candidates[b] @ bags[b] for b in range(2)])
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
        # Per candidate: permuting the candidates permutes the terms.
        perm = [2, 0, 1]
        np.testing.assert_allclose(to_numpy(layer(context, candidates[:, perm])), out[:, perm], rtol=1e-6)

    def test_score_heads_add_the_term_inside_the_sigmoid(self):
        g = _candidates(3)
        term = np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]], np.float32)
        head = MatchingScore(init_stddev=0.5)
        logit = np.log(to_numpy(head(g)) / (1 - to_numpy(head(g))))
        with_term = to_numpy(head(g, logit_term=term))
        np.testing.assert_allclose(with_term, 1 / (1 + np.exp(-(logit + term))), atol=1e-5)
        fusion = GatedFusion(init_stddev=0.5, candidate_aware=True)
        r = _candidates(4)[:, 0]
        y, _ = fusion(g, r, _candidates(5))
        y_term, _ = fusion(g, r, _candidates(5), logit_term=term)
        logit = np.log(to_numpy(y) / (1 - to_numpy(y)))
        np.testing.assert_allclose(to_numpy(y_term), 1 / (1 + np.exp(-(logit + term))), atol=1e-5)
