"""Detection and instance-segmentation metrics: COCO (bbox / segm / keypoints), LVIS, Pascal VOC.

Importing this package imports nothing; the public entry points are re-exported lazily by
:mod:`visionbench.metrics`. What each module holds:

- ``coco``: :class:`CocoEvaluator` and :func:`coco_evaluate`, the public COCO API.
- ``coco_evaluation``: the evaluation itself (per-image matching, accumulation, summary).
- ``coco_columns``: ground truth and detections as columnar arrays, and their loaders.
- ``coco_from_arrays``: one image's engine arrays (xyxy boxes) -> columnar COCO tables.
- ``coco_json`` / ``coco_json_scanner``: the columnar COCO JSON reader and its byte scanners.
- ``coco_kernels``: the kernels callers use, from the C extension (``_coco_ext.c``) when
  built, else from ``coco_kernels_numba``.
- ``coco_masks``: segmentations as compressed RLE (pycocotools' ``annToRLE``);
  ``coco_segm_checks``: validation of segmentations before any mask operation.
- ``coco_oks``: object keypoint similarity; ``coco_params``: the evaluation's parameters.
- ``coco_bootstrap``: bootstrap replicates without re-matching, from the C extension
  (``_bootstrap_ext.c``) when built, else from the numba ``coco_bootstrap_kernels``.
- ``lvis`` / ``lvis_ground_truth``: the LVIS federated protocol.
- ``voc``: Pascal VOC devkit AP. ``confusion``: detection confusion matrix with background.
"""
