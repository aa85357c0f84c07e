"""What every command-line entry point shares: quiet TensorFlow, help, one-line user errors.

* `quiet_tensorflow()` (called by each entry module before TensorFlow is
  imported) sets `TF_CPP_MIN_LOG_LEVEL=3` unless the user set it and drops
  what TensorFlow's libraries print while they load: the start-up chatter on
  a CPU-only machine (`failed call to cuInit`, oneDNN notes, CUDA stubs,
  about 35 lines per run) is nothing a user can act on. Errors still reach
  the user as Python exceptions with their messages. `TF_CPP_MIN_LOG_LEVEL=0`
  shows everything again.
* `run(main)` runs an absl `main`: `--help`/`--helpshort`/`-h` print the
  entry point's main flags and `--helpfull` all flags, and exit 0; a bad flag
  value, and the errors a user causes and can fix (bad data, a missing or
  damaged file, a refused configuration), print one line `error: ...` and
  exit 2. `--verbosity=1` (or `STICKERCHAT_TRACEBACK=1`) shows the traceback
  instead.
"""

from __future__ import annotations

import os
import sys

EXIT_USER_ERROR = 2
_HELP = ("--help", "-help", "-h", "-?", "--helpshort", "-helpshort")
_HELPFULL = ("--helpfull", "-helpfull")


def quiet_tensorflow() -> None:
    """Silences TensorFlow's start-up chatter; call before anything imports TensorFlow.

    `TF_CPP_MIN_LOG_LEVEL=3` (unless the user set it) silences the runtime's
    log after start-up. The lines TensorFlow's libraries print while they load
    (before its log level applies: oneDNN notes, missing CUDA drivers) are
    captured during the import and dropped; if the import fails they are
    printed with the error. Without TensorFlow installed (a JAX-only install)
    nothing is imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] in ("0", "1"):
        return
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return  # e.g. a JAX-only install serving a model: TensorFlow is imported only if something needs it
    import importlib.util
    import tempfile

    if importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    try:
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
    except Exception:  # noqa: BLE001 - logging setup is best effort
        pass


def user_error_types() -> tuple:
    """Exceptions whose message is the whole story for a user."""
    from stickerchat.data.errors import DataError
    from stickerchat.rundir.runfiles import CorruptRunFile

    types = [DataError, CorruptRunFile, FileNotFoundError, NotADirectoryError, UserError]
    for module, name in (("stickerchat.training.trainer", "TrainingError"), ("stickerchat.serving.recommender", "RecommenderError")):
        if module in sys.modules:  # only an entry point that uses it can raise it
            types.append(getattr(sys.modules[module], name))
    return tuple(types)


class UserError(ValueError):
    """A request that cannot be served as given (the message says why)."""


def show_traceback() -> bool:
    from absl import flags

    verbosity = flags.FLAGS["verbosity"].value if "verbosity" in flags.FLAGS else 0
    return os.environ.get("STICKERCHAT_TRACEBACK", "") not in ("", "0") or (verbosity or 0) >= 1


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split("\n")).strip() or type(error).__name__


def _flags_parser(argv):
    from absl import app, flags

    args = argv[1:]
    if any(a in _HELPFULL for a in args):
        app.usage(shorthelp=False, writeto_stdout=True, exitcode=0)
    if any(a in _HELP for a in args):
        app.usage(shorthelp=True, writeto_stdout=True)
        print("\nTry --helpfull to get a list of all flags.")
        sys.exit(0)
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        print(f"error: {one_line(e)} (--help lists the flags)", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def run(main, extra_errors: tuple = ()) -> None:
    """`absl.app.run(main)` with the help, flag-error and user-error handling above."""
    from absl import app

    def wrapped(argv):
        from absl import flags, logging

        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)  # library INFO lines (e.g. SavedModel fingerprints) are noise
        try:
            return main(argv)
        except app.UsageError as e:
            if show_traceback():
                raise
            print(f"error: {one_line(e)}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        except user_error_types() + tuple(extra_errors) as e:
            if show_traceback():
                raise
            print(f"error: {one_line(e)}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)

    app.run(wrapped, flags_parser=_flags_parser)
