"""Semantic-segmentation metrics: confusion-matrix scores and the Cityscapes benchmark.

- ``semantic``: IoU / mIoU / pixel accuracy from an accumulated confusion matrix
  (``ignore_index``, ``reduce_zero_label``).
- ``cityscapes``: the pixel-level benchmark as cityscapesScripts evaluates it (IoU, iIoU,
  categories); ``cityscapes_files``: the same on result PNGs on disk, decoded in threads.
- ``label_png``: the one label-map PNG reader; ``result_pngs``: the one pairing of result
  PNGs in a folder with their frames.
"""
