"""numba kernels of the COCO evaluation: box IoU, greedy matching, accumulation.

Each kernel performs the same floating-point operations, in the same order, as
``pycocotools`` (``maskApi.c bbIou``, ``COCOeval.evaluateImg``, ``COCOeval.accumulate``), so
the results are bit-identical. They are the reference path: the C extension
(``_coco_ext.c``, dispatched by :mod:`visionbench.metrics.detection.coco_kernels`) ports them line by
line and the tests compare the two; these run when the extension is not built or
``VISIONBENCH_COCO_KERNELS=numba``. This module imports numba; import it lazily (only
``coco_native`` does, inside functions). Compiled code is cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

_EPS = np.spacing(1)
MATCHED = np.uint8(1)
IGNORED = np.uint8(2)


@nb.njit(cache=True, nogil=True)
def pair_box_ious(
    gt_start: np.ndarray,
    gt_end: np.ndarray,
    dt_start: np.ndarray,
    dt_end: np.ndarray,
    iou_off: np.ndarray,
    gt_box: np.ndarray,
    gt_crowd: np.ndarray,
    dt_box: np.ndarray,
) -> np.ndarray:
    """IoU matrices [D, G] (row-major, dts sorted) of every (image, category) pair, flat.

    Args:
        gt_start, gt_end, dt_start, dt_end: [P] index ranges of each pair's gts and dts.
        iou_off: [P + 1] offsets of each pair's matrix in the output.
        gt_box, dt_box: [N, 4] xywh boxes, pixels. gt_crowd: [Ng] bool.
    """
    out = np.zeros(iou_off[-1], dtype=np.float64)
    for p in range(len(gt_start)):
        g0 = gt_start[p]
        ng = gt_end[p] - g0
        d0 = dt_start[p]
        nd = dt_end[p] - d0
        off = iou_off[p]
        for d in range(nd):
            dx = dt_box[d0 + d, 0]
            dy = dt_box[d0 + d, 1]
            dw = dt_box[d0 + d, 2]
            dh = dt_box[d0 + d, 3]
            da = dw * dh
            for g in range(ng):
                gx = gt_box[g0 + g, 0]
                gy = gt_box[g0 + g, 1]
                gw = gt_box[g0 + g, 2]
                gh = gt_box[g0 + g, 3]
                w = min(dw + dx, gw + gx) - max(dx, gx)
                if w <= 0:
                    continue
                h = min(dh + dy, gh + gy) - max(dy, gy)
                if h <= 0:
                    continue
                i = w * h
                if gt_crowd[g0 + g]:
                    u = da
                else:
                    u = da + gw * gh - i
                out[off + d * ng + g] = i / u
    return out


@nb.njit(cache=True, nogil=True)
def match_pairs(
    gt_start: np.ndarray,
    gt_end: np.ndarray,
    dt_start: np.ndarray,
    dt_end: np.ndarray,
    iou_off: np.ndarray,
    ious: np.ndarray,
    gt_area: np.ndarray,
    gt_crowd: np.ndarray,
    gt_ignore: np.ndarray,
    gt_zero_id: np.ndarray,
    dt_area: np.ndarray,
    area_rng: np.ndarray,
    iou_thrs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy matching of ``COCOeval.evaluateImg`` for every pair, area range and threshold.

    Args:
        gt_ignore: [Ng] bool, the base ignore flag (iscrowd; or no keypoints).
        gt_zero_id: [Ng] bool, gts whose annotation id is 0 (pycocotools treats a match to
            them as no match: ``dtm == 0``).
        area_rng: [A, 2] inclusive area ranges. iou_thrs: [T].
        ious: flat IoU matrices, see :func:`pair_box_ious`. A pair with no gt or no dt
            has an empty matrix.

    Returns:
        flags [Nd, A, T] uint8 (``MATCHED``: ``dtm != 0``; ``IGNORED``: ``dtIg``) and
        npig [P, A] int64 (non-ignored gts of the pair).
    """
    n_pairs = len(gt_start)
    n_area = area_rng.shape[0]
    n_thr = len(iou_thrs)
    n_dt = len(dt_area)
    flags = np.zeros((n_dt, n_area, n_thr), dtype=np.uint8)
    npig = np.zeros((n_pairs, n_area), dtype=np.int64)
    max_g = 0
    for p in range(n_pairs):
        max_g = max(max_g, gt_end[p] - gt_start[p])
    max_d = 0
    for p in range(n_pairs):
        max_d = max(max_d, dt_end[p] - dt_start[p])
    best_iou = np.empty(max_d, dtype=np.float64)
    cand = np.empty(max_d, dtype=np.int64)
    order = np.empty(max_g, dtype=np.int64)
    gig = np.empty(max_g, dtype=np.bool_)
    gtm = np.empty(max_g, dtype=np.bool_)
    thr_min = 1.0
    for t in range(n_thr):
        thr_min = min(thr_min, min(iou_thrs[t], 1 - 1e-10))
    # default: every detection unmatched, ignored where its area is outside the range
    for d in range(n_dt):
        dar = dt_area[d]
        for a in range(n_area):
            if dar < area_rng[a, 0] or dar > area_rng[a, 1]:
                for t in range(n_thr):
                    flags[d, a, t] = IGNORED
    for p in range(n_pairs):
        g0 = gt_start[p]
        ng = gt_end[p] - g0
        d0 = dt_start[p]
        nd = dt_end[p] - d0
        off = iou_off[p]
        has_iou = iou_off[p + 1] > off  # pycocotools: no matching when ious == []
        # candidates: dts whose best IoU reaches the lowest threshold (others never match
        # and leave the greedy state untouched)
        n_cand = 0
        if has_iou:
            for d in range(nd):
                b = ious[off + d * ng]
                for g in range(1, ng):
                    b = max(b, ious[off + d * ng + g])
                best_iou[d] = b
                if b >= thr_min:
                    cand[n_cand] = d
                    n_cand += 1
        for a in range(n_area):
            lo = area_rng[a, 0]
            hi = area_rng[a, 1]
            n_keep = 0
            for g in range(ng):
                ar = gt_area[g0 + g]
                ig = gt_ignore[g0 + g] or ar < lo or ar > hi
                gig[g] = ig
                if not ig:
                    order[n_keep] = g
                    n_keep += 1
            npig[p, a] = n_keep
            if n_cand == 0:
                continue
            k = n_keep
            for g in range(ng):
                if gig[g]:
                    order[k] = g
                    k += 1
            for t in range(n_thr):
                thr = min(iou_thrs[t], 1 - 1e-10)
                for g in range(ng):
                    gtm[g] = False
                for ci in range(n_cand):
                    d = cand[ci]
                    if best_iou[d] < thr:
                        continue
                    m = -1
                    best = thr
                    row = off + d * ng
                    for gi in range(ng):
                        g = order[gi]
                        if gtm[g] and not gt_crowd[g0 + g]:
                            continue
                        if m > -1 and not gig[m] and gig[g]:
                            break
                        v = ious[row + g]
                        if v < best:
                            continue
                        best = v
                        m = g
                    if m == -1:
                        continue  # the default flags stand
                    gtm[m] = True
                    dar = dt_area[d0 + d]
                    outside = dar < lo or dar > hi
                    if gt_zero_id[g0 + m]:
                        flags[d0 + d, a, t] = IGNORED if (gig[m] or outside) else 0
                    else:
                        flags[d0 + d, a, t] = MATCHED | (IGNORED if gig[m] else 0)
    return flags, npig


@nb.njit(cache=True, nogil=True)
def accumulate_sorted(
    cat_start: np.ndarray,
    cat_end: np.ndarray,
    score: np.ndarray,
    rank: np.ndarray,
    flags: np.ndarray,
    npig: np.ndarray,
    max_dets: np.ndarray,
    rec_thrs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``COCOeval.accumulate`` over detections already in pycocotools' order.

    Args:
        cat_start, cat_end: [K] ranges of each category's detections, which are sorted by
            (-score, image id, rank in image) -- the stable mergesort of pycocotools.
        score: [N] float64. rank: [N] position of the detection in its image's sorted list.
        flags: [N, A, T] uint8. npig: [K, A] non-ignored gts.
        max_dets: [M] int64. rec_thrs: [R] float64.

    Returns:
        precision [T, R, K, A, M], recall [T, K, A, M], scores [T, R, K, A, M]; -1 where a
        (category, area) has no non-ignored gt.
    """
    n_cat = len(cat_start)
    n_area = flags.shape[1]
    n_thr = flags.shape[2]
    n_m = len(max_dets)
    n_r = len(rec_thrs)
    precision = -np.ones((n_thr, n_r, n_cat, n_area, n_m))
    recall = -np.ones((n_thr, n_cat, n_area, n_m))
    scores = -np.ones((n_thr, n_r, n_cat, n_area, n_m))
    max_n = 0
    for k in range(n_cat):
        max_n = max(max_n, cat_end[k] - cat_start[k])
    idx = np.empty(max_n, dtype=np.int64)
    rc = np.empty(max_n, dtype=np.float64)
    pr = np.empty(max_n, dtype=np.float64)
    for k in range(n_cat):
        for m in range(n_m):
            md = max_dets[m]
            nd = 0
            for i in range(cat_start[k], cat_end[k]):
                if rank[i] < md:
                    idx[nd] = i
                    nd += 1
            for a in range(n_area):
                n_gt = npig[k, a]
                if n_gt == 0:
                    continue
                fn_gt = np.float64(n_gt)
                for t in range(n_thr):
                    tp = 0
                    fp = 0
                    for i in range(nd):
                        j = idx[i]
                        if not flags[j, a, t] & IGNORED:
                            if flags[j, a, t] & MATCHED:
                                tp += 1
                            else:
                                fp += 1
                        ftp = np.float64(tp)
                        rc[i] = ftp / fn_gt
                        pr[i] = ftp / (np.float64(fp) + ftp + _EPS)
                    recall[t, k, a, m] = rc[nd - 1] if nd > 0 else 0.0
                    for i in range(nd - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    i = 0
                    for r in range(n_r):
                        thr = rec_thrs[r]
                        while i < nd and rc[i] < thr:
                            i += 1
                        if i < nd:
                            precision[t, r, k, a, m] = pr[i]
                            scores[t, r, k, a, m] = score[idx[i]]
                        else:
                            precision[t, r, k, a, m] = 0.0
                            scores[t, r, k, a, m] = 0.0
    return precision, recall, scores


@nb.njit(cache=True, nogil=True)
def accumulate_ranked(
    order: np.ndarray,
    cat_start: np.ndarray,
    cat_end: np.ndarray,
    score: np.ndarray,
    rank: np.ndarray,
    flags: np.ndarray,
    npig: np.ndarray,
    max_dets: np.ndarray,
    rec_thrs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``COCOeval.accumulate`` in one pass per category; same result as
    :func:`accumulate_sorted`, bit for bit.

    pycocotools' precision after its right-to-left maximum, read at the first index where
    recall reaches a threshold, equals the maximum of ``tp / (fp + tp + eps)`` over the
    true positives from the ``c``-th on (``c`` the smallest tp count with
    ``c / npig >= threshold``): between true positives precision only falls. So only the
    true positives' precisions are kept, for every (area, IoU, maxDet) at once.

    Args:
        order: [N] detection indices in pycocotools' order (by category, then -score,
            image id, rank); ``cat_start``/``cat_end`` index into it.
        score, rank: [N]. flags: [N, A, T] uint8 (see :func:`match_pairs`). npig: [K, A].
    """
    n_cat = len(cat_start)
    n_area = flags.shape[1]
    n_thr = flags.shape[2]
    n_m = len(max_dets)
    n_r = len(rec_thrs)
    precision = -np.ones((n_thr, n_r, n_cat, n_area, n_m))
    recall = -np.ones((n_thr, n_cat, n_area, n_m))
    scores = -np.ones((n_thr, n_r, n_cat, n_area, n_m))
    max_gt = 1
    for k in range(n_cat):
        for a in range(n_area):
            max_gt = max(max_gt, npig[k, a])
    tp_pr = np.empty((n_area, n_thr, n_m, max_gt), dtype=np.float64)
    tp_pos = np.empty((n_area, n_thr, n_m, max_gt), dtype=np.int64)
    tp = np.zeros((n_area, n_thr, n_m), dtype=np.int64)
    fp = np.zeros((n_area, n_thr, n_m), dtype=np.int64)
    fp_all = np.zeros((n_area, n_m), dtype=np.int64)  # false positives at every threshold
    nd = np.zeros(n_m, dtype=np.int64)
    first = np.zeros(n_m, dtype=np.int64)
    for k in range(n_cat):
        tp[:] = 0
        fp[:] = 0
        fp_all[:] = 0
        nd[:] = 0
        for ii in range(cat_start[k], cat_end[k]):
            i = order[ii]
            r = rank[i]
            m0 = n_m
            for m in range(n_m):
                if r < max_dets[m]:
                    m0 = m
                    break
            if m0 == n_m:
                continue
            for m in range(m0, n_m):
                if nd[m] == 0:
                    first[m] = i
                nd[m] += 1
            for a in range(n_area):
                if npig[k, a] == 0:
                    continue
                # fast path: a false positive at every threshold (the common case)
                all_fp = True
                for t in range(n_thr):
                    if flags[i, a, t] != 0:
                        all_fp = False
                        break
                if all_fp:
                    for m in range(m0, n_m):
                        fp_all[a, m] += 1
                    continue
                for t in range(n_thr):
                    f = flags[i, a, t]
                    if f & IGNORED:
                        continue
                    if f & MATCHED:
                        for m in range(m0, n_m):
                            c = tp[a, t, m] + 1
                            tp[a, t, m] = c
                            fc = np.float64(c)
                            n_fp = fp[a, t, m] + fp_all[a, m]
                            tp_pr[a, t, m, c - 1] = fc / (np.float64(n_fp) + fc + _EPS)
                            tp_pos[a, t, m, c - 1] = i
                    else:
                        for m in range(m0, n_m):
                            fp[a, t, m] += 1
        for a in range(n_area):
            n_gt = npig[k, a]
            if n_gt == 0:
                continue
            fn_gt = np.float64(n_gt)
            for t in range(n_thr):
                for m in range(n_m):
                    ntp = tp[a, t, m]
                    recall[t, k, a, m] = np.float64(ntp) / fn_gt if nd[m] > 0 else 0.0
                    prs = tp_pr[a, t, m]
                    for c in range(ntp - 1, 0, -1):  # suffix maximum
                        if prs[c] > prs[c - 1]:
                            prs[c - 1] = prs[c]
                    c = 0
                    for rr in range(n_r):
                        thr = rec_thrs[rr]
                        while c <= ntp and np.float64(c) / fn_gt < thr:
                            c += 1
                        if nd[m] == 0 or c > ntp:
                            precision[t, rr, k, a, m] = 0.0
                            scores[t, rr, k, a, m] = 0.0
                        elif c == 0:
                            precision[t, rr, k, a, m] = prs[0] if ntp > 0 else 0.0
                            scores[t, rr, k, a, m] = score[first[m]]
                        else:
                            precision[t, rr, k, a, m] = prs[c - 1]
                            scores[t, rr, k, a, m] = score[tp_pos[a, t, m, c - 1]]
    return precision, recall, scores


@nb.njit(cache=True, nogil=True)
def group_order(
    fine_key: np.ndarray, n_fine: int, coarse_div: int, neg_score: np.ndarray, by_score: bool
) -> np.ndarray:
    """Stable order by ``fine_key`` (counting sort), then, when ``by_score``, stable by
    ``neg_score`` within each run of equal ``fine_key // coarse_div`` -- the order of
    pycocotools' per-(image, category) lists after ``argsort(-score, kind='mergesort')``."""
    n = len(fine_key)
    counts = np.zeros(n_fine + 1, dtype=np.int64)
    for i in range(n):
        counts[fine_key[i] + 1] += 1
    for j in range(n_fine):
        counts[j + 1] += counts[j]
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        f = fine_key[i]
        order[counts[f]] = i
        counts[f] += 1
    if not by_score:
        return order
    s = 0
    while s < n:
        c = fine_key[order[s]] // coarse_div
        e = s + 1
        while e < n and fine_key[order[e]] // coarse_div == c:
            e += 1
        if e - s > 1:
            if e - s <= 24:  # insertion sort: stable
                for i in range(s + 1, e):
                    v = order[i]
                    key = neg_score[v]
                    j = i - 1
                    while j >= s and neg_score[order[j]] > key:
                        order[j + 1] = order[j]
                        j -= 1
                    order[j + 1] = v
            else:
                seg = order[s:e].copy()
                sub = np.argsort(neg_score[seg], kind="mergesort")
                for i in range(e - s):
                    order[s + i] = seg[sub[i]]
        s = e
    return order


@nb.njit(cache=True, nogil=True)
def segment_order_desc(base: np.ndarray, seg_key: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``base`` (already sorted by ``seg_key``) re-sorted by descending score, stably,
    inside each run of equal ``seg_key[base[i]]``."""
    n = len(base)
    order = base.copy()
    s = 0
    while s < n:
        c = seg_key[base[s]]
        e = s + 1
        while e < n and seg_key[base[e]] == c:
            e += 1
        if e - s > 1:
            seg = base[s:e]
            neg = np.empty(e - s, dtype=np.float64)
            for i in range(e - s):
                neg[i] = -score[seg[i]]
            sub = np.argsort(neg, kind="mergesort")
            for i in range(e - s):
                order[s + i] = seg[sub[i]]
        s = e
    return order
