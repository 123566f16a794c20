"""numba kernel of the Cityscapes bootstrap (:func:`~visionbench.metrics.segmentation.
cityscapes.cityscapes_replicate_scores`), at module level so that numba's disk cache finds
it in the next process. Imported lazily: numba's import costs ~0.2 s CPU."""

from __future__ import annotations

import numba as nb


@nb.njit(cache=True, nogil=True)
def instance_sums(
    w, off, lab, tp_w, fn_w, cslot, ctp_w, cfn_w, out_cls, out_cat
):  # pragma: no cover - compiled
    """Per replicate b, the instance-weighted tp / fn sums of each label id (``out_cls[b,
    label]``) and instance category (``out_cat[b, slot]``), added one instance at a time in
    the order of the duplicated set (frame f's instances ``w[b, f]`` times in a row, frames
    in order): the sequential sums ``cityscapes_scores`` takes over that set, bit for bit."""
    n_rep, n_frames = w.shape
    for b in range(n_rep):
        for f in range(n_frames):
            for _ in range(w[b, f]):
                for r in range(off[f], off[f + 1]):
                    k = lab[r]
                    out_cls[b, k, 0] += tp_w[r]
                    out_cls[b, k, 1] += fn_w[r]
                    c = cslot[r]
                    if c >= 0:
                        out_cat[b, c, 0] += ctp_w[r]
                        out_cat[b, c, 1] += cfn_w[r]
