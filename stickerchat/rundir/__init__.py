"""A model directory: the files a run writes and reads.

* `runfiles`: atomic writers, checked readers (`CorruptRunFile`), saving and
  loading `.keras` files in safe mode.
"""
