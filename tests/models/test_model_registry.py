import ast
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from stickerchat import config as config_lib
from stickerchat import specs
from stickerchat.models import MODEL_NAMES, MODELS, build_model, losses, resolve_model_config
from testing import TestCase, random_batch, random_targets, to_numpy

PAPER_MODELS = (
    "srs",
    "pesrs",
    "pesrs_no_classify",
    "pesrs_no_din",
    "pesrs_no_fr",
    "pesrs_fr2t",
    "pesrs_no_upm",
    "pesrs_no_tar",
    "average_mem",
    "weighted_mem",
)


class TestRegistry(TestCase):
    def test_names(self):
        assert set(PAPER_MODELS) <= set(MODEL_NAMES)

    @pytest.mark.parametrize("name", PAPER_MODELS)
    def test_builds_and_takes_a_training_step(self, name):
        config = config_lib.test().replace(init_stddev=0.2)
        model = build_model(name, config, return_attention=True)
        variant = resolve_model_config(name, config)
        batch = random_batch(config.data, config.model.vocab_size, seed=1, min_history=1)
        targets = random_targets(config.data, config.model.num_emoji)
        optimizer = keras.optimizers.Adam(1e-2)
        before = [to_numpy(v).copy() for v in model.trainable_variables]
        with tf.GradientTape() as tape:
            outputs = model(batch, training=True)
            total, hinge, emoji = losses.model_loss(outputs, targets, 0.1, variant.use_classify, 1.0)
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        assert np.isfinite(float(to_numpy(total)))
        changed = [not np.array_equal(b, to_numpy(v)) for b, v in zip(before, model.trainable_variables)]
        assert sum(changed) > 0.9 * len(changed), name
        assert tuple(outputs[specs.SCORES].shape) == (3, config.data.num_candidates)
        has_memory = variant.use_memory
        assert (specs.MEMORY_WEIGHTS in outputs) == has_memory
        assert (specs.FUSION_GATE in outputs) == has_memory

    def test_variants_differ_in_structure(self):
        config = config_lib.test()
        count = {name: build_model(name, config).count_params() for name in PAPER_MODELS}
        assert count["srs"] == count["pesrs_no_upm"] < count["pesrs"]
        assert count["pesrs_no_tar"] < count["pesrs"]
        assert count["average_mem"] < count["weighted_mem"] < count["pesrs"]
        assert count["pesrs_no_fr"] < count["pesrs"]
        assert resolve_model_config("pesrs_no_classify", config).use_classify is False

    def test_one_literal_table(self):
        # Every name comes from `MODELS`, in its order; importing the
        # baselines registers nothing more.
        import stickerchat.models.baselines  # noqa: F401

        assert MODEL_NAMES == tuple(MODELS)
        assert resolve_model_config("srs", config_lib.test()).use_memory is False
        assert resolve_model_config("pesrs_no_upm", config_lib.test()).use_memory is False
        assert resolve_model_config("mrfn", config_lib.test()) == config_lib.test().model

    def test_baselines_do_not_import_the_registry(self):
        # The registry imports the baselines' builders; the reverse import
        # would be a cycle.
        folder = os.path.join(os.path.dirname(registry_path()), "baselines")
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".py"):
                continue
            with open(os.path.join(folder, name)) as f:
                tree = ast.parse(f.read())
            imported = {
                node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
            } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            assert "stickerchat.models.registry" not in imported, name
            assert "stickerchat.models" not in imported, name  # the package imports the registry

    def test_unknown_model(self):
        with pytest.raises(ValueError, match="registered"):
            build_model("nope", config_lib.test())


def registry_path():
    from stickerchat.models import registry

    return registry.__file__
