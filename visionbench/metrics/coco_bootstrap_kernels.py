"""numba kernel of the COCO bootstrap (see :mod:`visionbench.metrics.coco_bootstrap`).

Imports numba: import lazily. Each replicate does the arithmetic of
``coco_kernels.accumulate_ranked`` on the duplicated image set, with integer weights.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_EPS = np.spacing(1)
_TP, _FP, _IG = 0, 1, 2


@nb.njit(cache=True, nogil=True)
def replicate_arrays(
    weights: np.ndarray,
    det_img: np.ndarray,
    det_rank: np.ndarray,
    cat_start: np.ndarray,
    cat_end: np.ndarray,
    base: np.ndarray,
    ex_start: np.ndarray,
    ex_a: np.ndarray,
    ex_t: np.ndarray,
    ex_cls: np.ndarray,
    grp_end: np.ndarray,
    ntp_max: np.ndarray,
    multi: np.ndarray,
    multi_start: np.ndarray,
    multi_end: np.ndarray,
    pair_img: np.ndarray,
    pair_k: np.ndarray,
    pair_npig: np.ndarray,
    max_dets: np.ndarray,
    rec_thrs: np.ndarray,
    n_thr: int,
) -> tuple[np.ndarray, np.ndarray]:
    """precision [B, T, R, K, A] (last maxDet) and recall [B, T, K, A, M] per replicate.

    Args:
        weights: [B, I] draw counts per image (sorted image ids). det_*: detections in
            pycocotools' order; ``base`` [D, A] their class (1 false positive, 2 ignored)
            outside the exception cells ``ex_*`` (CSR by detection, ``ex_start`` [D + 1]).
        grp_end: at the first detection of a tie group (same category, image and score),
            the group's end. multi: detections of groups of two or more, per category in
            ``multi_start:multi_end``. pair_*: (image, category) gt counts [P, A].
    """
    n_b = weights.shape[0]
    n_cat = len(cat_start)
    n_area = base.shape[1]
    n_m = len(max_dets)
    n_r = len(rec_thrs)
    precision = -np.ones((n_b, n_thr, n_r, n_cat, n_area))
    recall = -np.ones((n_b, n_thr, n_cat, n_area, n_m))
    npig = np.zeros((n_cat, n_area), dtype=np.int64)
    base_cnt = np.zeros((n_area, 3), dtype=np.int64)
    adj = np.zeros((n_area, n_thr, 3), dtype=np.int64)
    tpm = np.zeros((n_area, n_thr, n_m), dtype=np.int64)
    n_ev = np.zeros((n_area, n_thr), dtype=np.int64)
    for j in range(n_b):
        w = weights[j]
        npig[:] = 0
        for p in range(len(pair_img)):
            wp = w[pair_img[p]]
            if wp:
                for a in range(n_area):
                    npig[pair_k[p], a] += wp * pair_npig[p, a]
        cap = 1
        for k in range(n_cat):
            extra = 0
            for q in range(multi_start[k], multi_end[k]):
                extra += max(w[det_img[multi[q]]] - 1, 0)
            cap = max(cap, ntp_max[k] + extra)
        ev_tp = np.empty((n_area, n_thr, cap), dtype=np.int64)
        ev_fp = np.empty((n_area, n_thr, cap), dtype=np.int64)
        for k in range(n_cat):
            base_cnt[:] = 0
            adj[:] = 0
            tpm[:] = 0
            n_ev[:] = 0
            i = cat_start[k]
            while i < cat_end[k]:
                ge = grp_end[i]
                wi = w[det_img[i]]
                if wi == 0:
                    i = ge
                    continue
                if ge - i == 1:
                    n_copies = 1
                    u = wi
                else:  # ties inside an image: the duplicated set interleaves the copies
                    n_copies = wi
                    u = 1
                for _c in range(n_copies):
                    for d in range(i, ge):
                        for a in range(n_area):
                            base_cnt[a, base[d, a]] += u
                        for e in range(ex_start[d], ex_start[d + 1]):
                            a = ex_a[e]
                            t = ex_t[e]
                            c = ex_cls[e]
                            adj[a, t, base[d, a]] -= u
                            adj[a, t, c] += u
                            if c == _TP:
                                n = n_ev[a, t]
                                ev_tp[a, t, n] = adj[a, t, _TP]
                                ev_fp[a, t, n] = base_cnt[a, _FP] + adj[a, t, _FP]
                                n_ev[a, t] = n + 1
                                for m in range(n_m):
                                    if det_rank[d] < max_dets[m]:
                                        tpm[a, t, m] += u
                i = ge
            for a in range(n_area):
                n_gt = npig[k, a]
                if n_gt == 0:
                    continue
                fn_gt = np.float64(n_gt)
                for t in range(n_thr):
                    for m in range(n_m):
                        recall[j, t, k, a, m] = np.float64(tpm[a, t, m]) / fn_gt
                    n = n_ev[a, t]
                    for r in range(n_r):
                        precision[j, t, r, k, a] = 0.0
                    if n == 0:
                        continue
                    ri = n_r - 1
                    last = np.float64(ev_tp[a, t, n - 1]) / fn_gt
                    while ri >= 0 and rec_thrs[ri] > last:
                        ri -= 1
                    best = -1.0
                    for q in range(n - 1, -1, -1):
                        ftp = np.float64(ev_tp[a, t, q])
                        pr = ftp / (np.float64(ev_fp[a, t, q]) + ftp + _EPS)
                        if pr > best:
                            best = pr
                        if q > 0:
                            lo = np.float64(ev_tp[a, t, q - 1]) / fn_gt
                            while ri >= 0 and rec_thrs[ri] > lo:
                                precision[j, t, ri, k, a] = best
                                ri -= 1
                        else:
                            while ri >= 0:
                                precision[j, t, ri, k, a] = best
                                ri -= 1
    return precision, recall
