"""Config presets, JSON round trips, flag resolution and resume safety."""

import json

import pytest

from stickerchat import config as config_lib
from stickerchat.cli import flags as sc_flags


@pytest.mark.parametrize("name", sorted(config_lib.PRESETS))
def test_preset_json_round_trip(name):
    cfg = config_lib.get_preset(name)
    back = config_lib.Config.from_json(cfg.to_json())
    assert back == cfg
    assert json.loads(cfg.to_json())["preset"] == name


def test_paper_preset_is_section_6_4():
    cfg = config_lib.get_preset("paper")
    assert (cfg.model.emb_dim, cfg.model.hidden_dim) == (100, 100)
    assert (cfg.data.context_len, cfg.data.max_words, cfg.data.num_candidates, cfg.data.history_len) == (15, 30, 10, 10)
    assert cfg.data.image_size == 128 and cfg.model.image_encoder == "inception_v3"
    assert cfg.train.batch_size == 32 and cfg.train.learning_rate == 1e-4
    assert cfg.train.classify_warmup_steps == 1000
    # The authors fine-tune Inception-v3 from ImageNet; tests and offline users pass none or a file.
    assert cfg.model.image_weights == "imagenet"
    assert sc_flags.resolve_config("paper", "/data", "pesrs", image_weights="none").model.image_weights is None


def test_unknown_fields_are_refused():
    with pytest.raises(ValueError, match="Unknown fields"):
        config_lib.Config.from_dict({"model": {"hiden_dim": 3}})
    with pytest.raises(ValueError, match="Unknown or ambiguous"):
        config_lib.get_preset("cpu").replace(nonsense=1)


def test_an_option_that_would_be_ignored_is_refused():
    cfg = config_lib.get_preset("cpu")
    config_lib.check(cfg.replace(memory_address="bilinear", memory_read_init="identity"))  # accepted
    with pytest.raises(ValueError, match="memory_read_init='identity' has no effect with model.memory_address='cosine'"):
        config_lib.check(cfg.replace(memory_read_init="identity"))


def test_flag_resolution_defaults_and_overrides():
    cfg = sc_flags.resolve_config(None, None, "srs", hidden_dim=32, image_weights="none", batch_size=None)
    assert cfg.preset == "cpu" and cfg.model_name == "srs" and cfg.model.hidden_dim == 32
    assert cfg.model.image_weights is None
    assert cfg.train.batch_size == config_lib.get_preset("cpu").train.batch_size
    assert sc_flags.resolve_config(None, "/data", "pesrs").preset == "paper"


def test_resume_with_another_config_is_refused(tmp_path):
    from stickerchat.training import trainer

    cfg = config_lib.get_preset("test")
    trainer.write_config(cfg, str(tmp_path))
    trainer.write_config(cfg, str(tmp_path))  # same config: fine
    with pytest.raises(trainer.TrainingError, match=r"train.batch_size: 4 -> 8"):
        trainer.write_config(cfg.replace(batch_size=8), str(tmp_path))


def test_steps_and_intervals():
    from stickerchat.training import trainer

    cfg = config_lib.get_preset("test").replace(batch_size=10, epochs=3)
    assert trainer.resolve_steps(cfg, 105) == (30, 10)
    assert trainer.resolve_steps(cfg.replace(train_steps=25, eval_every=7), 105) == (25, 7)
    with pytest.raises(trainer.TrainingError, match="fewer than one batch"):
        trainer.resolve_steps(cfg, 5)


def test_non_finite_loss_stops_with_a_message():
    import keras

    from stickerchat.training.callbacks import NonFiniteLoss

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    cb = NonFiniteLoss()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert cb.message is None and not model.stop_training
    cb.on_train_batch_end(1, {"loss": float("nan")})
    assert model.stop_training and "loss became nan" in cb.message


def test_a_config_written_before_a_field_existed_reads_as_it_was_trained():
    written = config_lib.cpu().to_dict()
    for key in (
        "history_encoding",
        "memory_loss",
        "context_classify",
        "lexical_match",
        "memory_read_init",
        "memory_query",
        "context_encoding",
        "memory_address",
        "context_dropout",
        "memory_lookalike",
    ):
        del written["model"][key]
    old = config_lib.Config.from_dict(written)
    assert old.model.memory_query == "dialog" and old.model.context_dropout == 0.0 and old.model.memory_lookalike == 0.0
    assert (old.model.context_encoding, old.model.memory_address) == ("max", "bilinear")
    assert (old.model.history_encoding, old.model.memory_loss, old.model.context_classify) == ("rnn", 0.0, 0.0)
    assert (old.model.lexical_match, old.model.memory_read_init) == (False, "default")
    # A config written today round-trips with today's defaults.
    assert config_lib.Config.from_dict(config_lib.cpu().to_dict()) == config_lib.cpu()
    today = config_lib.cpu().model
    assert (today.context_classify, today.memory_loss, today.history_encoding) == (1.0, 1.0, "keys")
    assert (today.context_encoding, today.memory_address, today.preference) == ("rnn", "cosine", "direct")
    assert today.memory_read_init == "zeros" and today.memory_query == "dialog" and today.context_dropout == 0.3
    assert today.memory_lookalike == 5.0
