"""Evaluate Cityscapes result PNGs on disk, decoding frames in parallel threads.

The file-level counterpart of ``cityscapesscripts``' ``evalPixelLevelSemanticLabeling``
main: pair each ``*_gtFine_labelIds.png`` with its ``*_gtFine_instanceIds.png`` and the
prediction PNG whose name starts with ``{city}_{seq}_{frame}``, decode the three PNGs of a
frame in a worker thread (:func:`~visionbench.metrics.segmentation.label_png.read_label_png` releases
the GIL), reduce the frame to its statistics there, and add the statistics in frame
order, so the numbers do not depend on the number of threads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from visionbench.metrics.base import MetricResult
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.segmentation.cityscapes import (
    CityscapesEvaluator,
    CityscapesFrameStats,
    cityscapes_frame_stats,
)
from visionbench.metrics.segmentation.label_png import read_label_png
from visionbench.metrics.segmentation.result_pngs import pair_result_pngs

__all__ = ["evaluate_cityscapes_files", "find_cityscapes_predictions"]

_GT_SUFFIX = "_gtFine_labelIds.png"


def evaluate_cityscapes_files(
    pred_files: Sequence[str | os.PathLike[str]],
    gt_label_files: Sequence[str | os.PathLike[str]],
    gt_instance_files: Sequence[str | os.PathLike[str]] | None = None,
    *,
    num_workers: int | None = None,
    check_train_ids: bool = True,
) -> MetricResult:
    """Evaluate prediction PNGs (labelIds) against Cityscapes gt PNGs.

    Args:
        pred_files: one prediction PNG per frame, labelIds 0..33, single channel.
        gt_label_files: the matching ``*_gtFine_labelIds.png`` files, same order.
        gt_instance_files: the matching ``*_gtFine_instanceIds.png``; by default derived
            from ``gt_label_files`` by replacing ``labelIds`` with ``instanceIds`` (as
            cityscapesScripts does).
        num_workers: decoding threads (default ``min(8, os.cpu_count())``).
        check_train_ids: refuse trainId-looking predictions.

    Returns:
        The :class:`CityscapesEvaluator` result (fractions 0-1).

    Raises:
        MetricInputError: mismatched list lengths, unreadable files, bad ids (the message
            names the frame).
    """
    evaluator = CityscapesEvaluator(check_train_ids=check_train_ids)
    for stats in iter_cityscapes_file_stats(
        pred_files,
        gt_label_files,
        gt_instance_files,
        num_workers=num_workers,
        check_train_ids=check_train_ids,
    ):
        evaluator.add_stats(stats)
    return evaluator.compute()


def iter_cityscapes_file_stats(
    pred_files: Sequence[str | os.PathLike[str]],
    gt_label_files: Sequence[str | os.PathLike[str]],
    gt_instance_files: Sequence[str | os.PathLike[str]] | None = None,
    *,
    num_workers: int | None = None,
    check_train_ids: bool = True,
) -> Iterator[CityscapesFrameStats]:
    """Per-frame statistics, in frame order, decoded by ``num_workers`` threads."""
    if len(pred_files) != len(gt_label_files):
        raise MetricInputError(
            f"pred_files: expected one prediction per gt file ({len(gt_label_files)}), "
            f"got {len(pred_files)}"
        )
    if gt_instance_files is None:
        gt_instance_files = [str(p).replace("labelIds", "instanceIds") for p in gt_label_files]
    if len(gt_instance_files) != len(gt_label_files):
        raise MetricInputError(
            f"gt_instance_files: expected {len(gt_label_files)} files, got {len(gt_instance_files)}"
        )
    jobs = list(zip(pred_files, gt_label_files, gt_instance_files))
    workers = num_workers or min(8, os.cpu_count() or 1)

    def one(job: tuple) -> CityscapesFrameStats:
        pred_path, gt_path, inst_path = job
        return cityscapes_frame_stats(
            read_label_png(gt_path),
            read_label_png(pred_path),
            read_label_png(inst_path),
            frame=f"{Path(gt_path).name} / {Path(pred_path).name}",
            check_train_ids=check_train_ids,
        )

    if workers <= 1:
        yield from map(one, jobs)
        return
    with ThreadPoolExecutor(workers) as pool:
        # bounded look-ahead keeps memory flat on long lists
        window = 4 * workers
        futures = [pool.submit(one, job) for job in jobs[:window]]
        nxt = len(futures)
        for i in range(len(jobs)):
            stats = futures[i].result()
            futures[i] = None  # type: ignore[call-overload]
            if nxt < len(jobs):
                futures.append(pool.submit(one, jobs[nxt]))
                nxt += 1
            yield stats


def find_cityscapes_predictions(
    gt_root: str | os.PathLike[str],
    pred_root: str | os.PathLike[str],
    *,
    split: str = "val",
) -> tuple[list[Path], list[Path]]:
    """Pair gt label files with prediction files, as cityscapesScripts' getPrediction.

    Ground truth: ``{gt_root}/gtFine/{split}/*/*_gtFine_labelIds.png`` (or
    ``{gt_root}/{split}/*/...`` when ``gt_root`` already is the gtFine folder). A
    prediction is any PNG under ``pred_root`` (recursively) whose name starts with
    ``{city}_{seq}_{frame}`` (:func:`~visionbench.metrics.segmentation.result_pngs.pair_result_pngs`,
    which ``bench eval`` uses too).

    Returns:
        ``(pred_files, gt_label_files)``, sorted by gt file name.

    Raises:
        MetricInputError: no gt files, or frames with no or several predictions (named).
    """
    gt_root = Path(gt_root)
    base = gt_root / "gtFine" / split if (gt_root / "gtFine").is_dir() else gt_root / split
    gts = sorted(base.glob(f"*/*{_GT_SUFFIX}"), key=lambda p: p.name)
    if not gts:
        raise MetricInputError(f"{base}: no */*{_GT_SUFFIX} files found")
    frames = [g.name[: -len(_GT_SUFFIX)] for g in gts]
    return pair_result_pngs(pred_root, frames, separator=""), gts
