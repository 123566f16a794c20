"""numba kernels of :mod:`visionbench.metrics.detection.tide` (compiled once, cached on
disk). Imported lazily: numba's import costs ~0.2 s CPU."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def box_iou(a, b, crowd):  # pycocotools' bbIou, same operations
    w = min(a[2] + a[0], b[2] + b[0]) - max(a[0], b[0])
    if w <= 0:
        return 0.0
    h = min(a[3] + a[1], b[3] + b[1]) - max(a[1], b[1])
    if h <= 0:
        return 0.0
    i = w * h
    da = a[2] * a[3]
    u = da if crowd else da + b[2] * b[3] - i
    return i / u


@nb.njit(cache=True, nogil=True)
def image_pass(gs, ds, cs, gbox, gcls, dbox, dcls, dsc, cbox, ccls, pos, bg):
    nd = len(dcls)
    ng = len(gcls)
    state = np.zeros(nd, np.int8)
    err = np.zeros(nd, np.int8)
    target = np.full(nd, -1, np.int64)
    g_used = np.zeros(ng, np.bool_)
    g_usable = np.zeros(ng, np.bool_)
    g_best = np.full(ng, -1, np.int64)
    g_best_score = np.full(ng, -1.0)
    for im in range(len(gs) - 1):
        g0, g1 = gs[im], gs[im + 1]
        d0, d1 = ds[im], ds[im + 1]
        G = g1 - g0
        D = d1 - d0
        if D == 0:
            continue
        iou = np.zeros((D, G))
        for d in range(D):
            for g in range(G):
                iou[d, g] = box_iou(dbox[d0 + d], gbox[g0 + g], False)
        # greedy matching, class-masked IoU, used columns zeroed
        if G > 0:
            buf = np.zeros((D, G))
            for d in range(D):
                for g in range(G):
                    if dcls[d0 + d] == gcls[g0 + g]:
                        buf[d, g] = iou[d, g]
            for d in range(D):
                best = 0
                for g in range(1, G):
                    if buf[d, g] > buf[d, best]:
                        best = g
                if buf[d, best] >= pos:
                    state[d0 + d] = 1
                    g_used[g0 + best] = True
                    for e in range(D):
                        buf[e, best] = 0.0
        # crowd regions: unmatched detections inside one of their class are ignored
        for c in range(cs[im], cs[im + 1]):
            for d in range(D):
                if state[d0 + d] != 1 and ccls[c] == dcls[d0 + d]:
                    if box_iou(dbox[d0 + d], cbox[c], True) > pos:
                        state[d0 + d] = 2
        # error of every detection that is not a TP
        for d in range(D):
            k = d0 + d
            if state[k] == 1:
                continue
            if G == 0:
                err[k] = 5
                continue
            # Loc: best IoU with its class
            bi, bv = 0, -1.0
            for g in range(G):
                v = iou[d, g] if dcls[k] == gcls[g0 + g] else 0.0
                if v > bv:
                    bi, bv = g, v
            if bg <= bv and bv <= pos:
                err[k] = 2
            else:
                bi, bv = 0, -1.0
                for g in range(G):
                    v = iou[d, g] if dcls[k] != gcls[g0 + g] else 0.0
                    if v > bv:
                        bi, bv = g, v
                if bv >= pos:
                    err[k] = 1
                else:
                    bv = -1.0
                    for g in range(G):
                        v = iou[d, g] if (dcls[k] == gcls[g0 + g] and g_used[g0 + g]) else 0.0
                        if v > bv:
                            bv = v
                    if bv >= pos:
                        err[k] = 4
                    else:
                        bv = -1.0
                        for g in range(G):
                            if iou[d, g] > bv:
                                bv = iou[d, g]
                        err[k] = 5 if bv <= bg else 3
            if err[k] == 1 or err[k] == 2:
                gg = g0 + bi
                target[k] = gg
                if not g_used[gg]:  # tidecv's BestGTMatch
                    g_usable[gg] = True
                    if g_best_score[gg] < dsc[k]:
                        g_best_score[gg] = dsc[k]
                        g_best[gg] = k
    return state, err, target, g_used, g_usable, g_best


@nb.njit(cache=True, nogil=True)
def class_ap(order, cls, sel, tp, n_gt, nc):
    """tidecv's APDataObject.get_ap (fraction) per class of the selected detections
    ranked by ``order``; also the number of data points of each class."""
    count = np.zeros(nc + 1, np.int64)
    for i in order:
        if sel[i]:
            count[cls[i] + 1] += 1
    for c in range(nc):
        count[c + 1] += count[c]
    ranked = np.empty(count[nc], np.bool_)
    fill = count[:nc].copy()
    for i in order:
        if sel[i]:
            ranked[fill[cls[i]]] = tp[i]
            fill[cls[i]] += 1
    out = np.zeros(nc)
    n_pts = np.diff(count)
    for c in range(nc):
        a = count[c]
        n = n_pts[c]
        if n_gt[c] == 0:
            continue
        prec = np.empty(n)
        rec = np.empty(n)
        nt = 0
        nf = 0
        for i in range(n):
            if ranked[a + i]:
                nt += 1
            else:
                nf += 1
            prec[i] = nt / (nt + nf)
            rec[i] = nt / n_gt[c]
        for i in range(n - 1, 0, -1):
            if prec[i] > prec[i - 1]:
                prec[i - 1] = prec[i]
        s = 0.0
        j = 0
        for r in range(101):
            x = r / 100
            while j < n and rec[j] < x:
                j += 1
            if j < n:
                s += prec[j]
        out[c] = s / 101
    return out, n_pts
