"""What the command-line entry points share.

* `runner`: quiet TensorFlow start-up, `--help`, one-line user errors (`runner.run(main)`).
* `flags`: the training and data flags, and their resolution into a `Config`.

The entry points themselves (`python -m stickerchat.train`, `.evaluate`,
`.recommend`, `.serve`, `.export`, `.compare`) are thin modules at the
package root.
"""
