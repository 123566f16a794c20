"""numba kernel of the COCO bootstrap (see :mod:`visionbench.metrics.detection.coco_bootstrap`).

Imports numba: import lazily. Each replicate does the arithmetic of
``coco_kernels.accumulate_ranked`` on the duplicated image set, with integer weights. A
chunk of replicates is processed together, the replicate index innermost, so that the
pass over the detections is shared and the inner loops vectorise.
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
    ntp: np.ndarray,
    multi: np.ndarray,
    multi_start: np.ndarray,
    multi_end: np.ndarray,
    pair_img: np.ndarray,
    pair_k: np.ndarray,
    pair_npig: np.ndarray,
    max_dets: np.ndarray,
    rec_thrs: np.ndarray,
    n_thr: int,
    precision: np.ndarray,
    recall: np.ndarray,
) -> None:
    """Fill precision [B', A, T, R, K] (last maxDet; note the order) and recall
    [B', T, K, A, M] (B' >= B: buffers reused across calls) for each replicate.

    Args:
        weights: [B, I] draw counts per image (sorted image ids). det_*: detections in
            pycocotools' order; ``base`` [D, A] their class (1 false positive, 2 ignored)
            outside the exception cells ``ex_*`` (CSR by detection, ``ex_start`` [D + 1]).
        grp_end: at the first detection of a tie group (same category, image and score),
            the group's end. ntp: [K, A, T] true-positive cells. multi: detections of tie
            groups of two or more, per category in ``multi_start:multi_end``.
        pair_*: (image, category) non-ignored gt counts [P, A].

    A detection drawn zero times in some replicate still records its true-positive event
    there, with that replicate's unchanged counts: its recall equals the previous event's
    and its precision is no higher, so it changes no precision cell.
    """
    n_b = weights.shape[0]
    n_img = weights.shape[1]
    n_cat = len(cat_start)
    n_area = base.shape[1]
    n_m = len(max_dets)
    n_r = len(rec_thrs)
    wt = np.ascontiguousarray(weights.T)  # [I, B]
    w_max = np.zeros(n_img, dtype=np.int64)
    for i in range(n_img):
        for b in range(n_b):
            w_max[i] = max(w_max[i], wt[i, b])
    npig = np.zeros((n_cat, n_area, n_b), dtype=np.int64)
    for p in range(len(pair_img)):
        for a in range(n_area):
            c = pair_npig[p, a]
            if c:
                for b in range(n_b):
                    npig[pair_k[p], a, b] += wt[pair_img[p], b] * c
    cap = 1
    for k in range(n_cat):
        extra = 0
        for q in range(multi_start[k], multi_end[k]):
            extra += max(w_max[det_img[multi[q]]] - 1, 0)
        for a in range(n_area):
            for t in range(n_thr):
                cap = max(cap, ntp[k, a, t] * 1 + extra)
    ev_tp = np.empty((n_area, n_thr, cap, n_b), dtype=np.int32)
    ev_fp = np.empty((n_area, n_thr, cap, n_b), dtype=np.int32)
    base_cnt = np.zeros((n_area, 3, n_b), dtype=np.int32)
    adj = np.zeros((n_area, n_thr, 3, n_b), dtype=np.int32)
    tpm = np.zeros((n_area, n_thr, n_m, n_b), dtype=np.int32)
    n_ev = np.zeros((n_area, n_thr), dtype=np.int64)
    u = np.zeros(n_b, dtype=np.int32)
    best = np.empty(n_b, dtype=np.float64)
    r_ptr = np.zeros(n_b, dtype=np.int64)
    env = np.empty((cap, n_b), dtype=np.float64)
    max_gt = 1
    for k in range(n_cat):
        for a in range(n_area):
            for b in range(n_b):
                max_gt = max(max_gt, npig[k, a, b])
    # per gt count N: the fewest true positives whose recall c / N reaches each threshold
    c_table = np.zeros((max_gt + 1, n_r), dtype=np.int64)
    c_done = np.zeros(max_gt + 1, dtype=np.bool_)
    for k in range(n_cat):
        base_cnt[:] = 0
        adj[:] = 0
        tpm[:] = 0
        n_ev[:] = 0
        i = cat_start[k]
        while i < cat_end[k]:
            ge = grp_end[i]
            img = det_img[i]
            wm = w_max[img]
            if wm == 0:
                i = ge
                continue
            if ge - i == 1:
                n_copies = 1
            else:
                n_copies = wm
            for c in range(n_copies):
                if n_copies == 1:
                    for b in range(n_b):
                        u[b] = wt[img, b]
                else:
                    for b in range(n_b):
                        u[b] = 1 if wt[img, b] > c else 0
                for d in range(i, ge):
                    for a in range(n_area):
                        bc = base[d, a]
                        for b in range(n_b):
                            base_cnt[a, bc, b] += u[b]
                    for e in range(ex_start[d], ex_start[d + 1]):
                        a = ex_a[e]
                        t = ex_t[e]
                        cl = ex_cls[e]
                        bc = base[d, a]
                        for b in range(n_b):
                            adj[a, t, bc, b] -= u[b]
                            adj[a, t, cl, b] += u[b]
                        if cl == _TP:
                            n = n_ev[a, t]
                            for b in range(n_b):
                                ev_tp[a, t, n, b] = adj[a, t, _TP, b]
                                ev_fp[a, t, n, b] = base_cnt[a, _FP, b] + adj[a, t, _FP, b]
                            n_ev[a, t] = n + 1
                            for m in range(n_m - 1):
                                if det_rank[d] < max_dets[m]:
                                    for b in range(n_b):
                                        tpm[a, t, m, b] += u[b]
            i = ge
        for a in range(n_area):
            for t in range(n_thr):
                n = n_ev[a, t]
                # precision at each true positive, then its maximum from the right
                for b in range(n_b):
                    best[b] = -1.0
                for q in range(n - 1, -1, -1):
                    for b in range(n_b):
                        ftp = np.float64(ev_tp[a, t, q, b])
                        pr = ftp / (np.float64(ev_fp[a, t, q, b]) + ftp + _EPS)
                        if pr > best[b]:
                            best[b] = pr
                        env[q, b] = best[b]
                for b in range(n_b):
                    n_gt = npig[k, a, b]
                    r_ptr[b] = 0
                    if n_gt == 0:
                        for r in range(n_r):
                            precision[b, a, t, r, k] = -1.0
                        for m in range(n_m):
                            recall[b, t, k, a, m] = -1.0
                        r_ptr[b] = n_r  # nothing more to write
                        continue
                    fn_gt = np.float64(n_gt)
                    for m in range(n_m - 1):
                        recall[b, t, k, a, m] = np.float64(tpm[a, t, m, b]) / fn_gt
                    recall[b, t, k, a, n_m - 1] = np.float64(adj[a, t, _TP, b]) / fn_gt
                    if not c_done[n_gt]:
                        _fill_counts(c_table[n_gt], n_gt, rec_thrs)
                        c_done[n_gt] = True
                # one sweep over the events: each threshold takes the maximum precision
                # from the first event whose recall reaches it
                for q in range(n):
                    for b in range(n_b):
                        r = r_ptr[b]
                        if r < n_r:
                            tp_q = ev_tp[a, t, q, b]
                            need = c_table[npig[k, a, b]]
                            while r < n_r and tp_q >= need[r]:
                                precision[b, a, t, r, k] = env[q, b]
                                r += 1
                            r_ptr[b] = r
                for b in range(n_b):
                    for r in range(r_ptr[b], n_r):
                        precision[b, a, t, r, k] = 0.0


@nb.njit(cache=True, nogil=True)
def _fill_counts(out: np.ndarray, n_gt: int, rec_thrs: np.ndarray) -> None:
    """``out[r]`` = the smallest integer c with ``float(c) / n_gt >= rec_thrs[r]`` (the
    recall test of pycocotools' ``searchsorted``, done once per gt count)."""
    fn = np.float64(n_gt)
    for r in range(len(rec_thrs)):
        thr = rec_thrs[r]
        c = min(max(int(np.ceil(thr * fn)), 0), n_gt)
        while c > 0 and np.float64(c - 1) / fn >= thr:
            c -= 1
        while c < n_gt and np.float64(c) / fn < thr:
            c += 1
        out[r] = c


@nb.njit(cache=True, nogil=True)
def summarize_replicates(
    precision: np.ndarray,
    recall: np.ndarray,
    n_rep: int,
    spec_ap: np.ndarray,
    spec_thr: np.ndarray,
    spec_area: np.ndarray,
    spec_m: np.ndarray,
    spec_grp: np.ndarray,
    cat_grp: np.ndarray,
) -> np.ndarray:
    """``summarize`` of each replicate: stats [B, S], -1 where no cell is defined.

    Each stat is the mean of the defined cells (> -1) taken in ``summarize``'s order --
    precision (t, r, k), recall (t, k) -- and summed as ``np.add.reduce`` sums a contiguous
    float64 array (numpy's pairwise sum), so the bits equal ``np.mean(s[s > -1])``
    (checked against numpy in tests/metrics/test_bootstrap.py).

    Args:
        spec_thr: the IoU-threshold index of each stat, -1 for all of them.
        spec_grp: the category group of each stat, -1 for every category; a stat of group
            g reads only the categories k with ``cat_grp[k] == g`` (in index order).
    """
    n_s = len(spec_ap)
    n_area, n_thr, n_r, n_cat = precision.shape[1:]
    out = np.empty((n_rep, n_s))
    buf = np.empty(n_thr * n_r * n_cat)
    for b in range(n_rep):
        for s in range(n_s):
            a = spec_area[s]
            t0, t1 = (0, n_thr) if spec_thr[s] < 0 else (spec_thr[s], spec_thr[s] + 1)
            n = 0
            g = spec_grp[s]
            if spec_ap[s]:
                for t in range(t0, t1):
                    for r in range(n_r):
                        for k in range(n_cat):
                            v = precision[b, a, t, r, k]
                            if v > -1 and (g < 0 or cat_grp[k] == g):
                                buf[n] = v
                                n += 1
            else:
                m = spec_m[s]
                for t in range(t0, t1):
                    for k in range(n_cat):
                        v = recall[b, t, k, a, m]
                        if v > -1 and (g < 0 or cat_grp[k] == g):
                            buf[n] = v
                            n += 1
            if n == 0:
                out[b, s] = -1.0
            else:
                out[b, s] = _pairwise_sum(buf, 0, n) / n
    return out


@nb.njit(cache=True, nogil=True)
def _pairwise_sum(a: np.ndarray, start: int, n: int) -> float:
    """numpy's ``pairwise_sum`` (``loops_utils.h.src``) of ``a[start:start + n]``.

    Its recursion (halves rounded down to a multiple of 8, leaves of at most 128 summed
    with 8 accumulators) is unrolled on an explicit stack: numba's on-disk cache cannot
    hold recursive functions (a cached recursive kernel crashes when loaded)."""
    f_start = np.empty(128, dtype=np.int64)
    f_n = np.empty(128, dtype=np.int64)
    f_combine = np.empty(128, dtype=np.bool_)
    vals = np.empty(128, dtype=np.float64)
    top = 0
    nv = 0
    f_start[0] = start
    f_n[0] = n
    f_combine[0] = False
    top = 1
    while top > 0:
        top -= 1
        s0 = f_start[top]
        m = f_n[top]
        if f_combine[top]:
            right = vals[nv - 1]
            left = vals[nv - 2]
            nv -= 2
            vals[nv] = left + right
            nv += 1
        elif m <= 128:
            vals[nv] = _leaf_sum(a, s0, m)
            nv += 1
        else:
            m2 = m // 2
            m2 -= m2 % 8
            f_start[top] = s0
            f_n[top] = m
            f_combine[top] = True
            f_start[top + 1] = s0 + m2
            f_n[top + 1] = m - m2
            f_combine[top + 1] = False
            f_start[top + 2] = s0
            f_n[top + 2] = m2
            f_combine[top + 2] = False
            top += 3
    return vals[0]


@nb.njit(cache=True, nogil=True)
def _leaf_sum(a: np.ndarray, start: int, n: int) -> float:
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[start + i]
        return res
    r0 = a[start]
    r1 = a[start + 1]
    r2 = a[start + 2]
    r3 = a[start + 3]
    r4 = a[start + 4]
    r5 = a[start + 5]
    r6 = a[start + 6]
    r7 = a[start + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[start + i]
        r1 += a[start + i + 1]
        r2 += a[start + i + 2]
        r3 += a[start + i + 3]
        r4 += a[start + i + 4]
        r5 += a[start + i + 5]
        r6 += a[start + i + 6]
        r7 += a[start + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i]
        i += 1
    return res
