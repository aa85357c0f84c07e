"""Training and evaluation: the ranking task, callbacks, the trainer."""
