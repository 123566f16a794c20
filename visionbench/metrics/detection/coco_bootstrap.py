"""Bootstrap replicates of the COCO summary stats from a :class:`MatchState`, no re-matching.

A replicate draws the images with replacement; drawing image ``i`` ``w_i`` times is the
evaluation of a set where image ``i`` appears ``w_i`` times under new ids (new ids given in
the order of the original ids, copies adjacent). Matching is per image, so each copy has
the original's match flags; only ``accumulate`` changes. :class:`CocoSampleTable`
precomputes, once, the detections in pycocotools' order (by category, then ``-score``,
image, rank) and for each detection the (area, IoU threshold) cells where it is not the
plain false positive / ignored it is elsewhere; a replicate is then one pass over the
detections with integer weights (the draw counts), reading precision only at the true
positives (between true positives precision only falls, see
``coco_kernels.accumulate_ranked``). Ties of score inside one image are replayed copy by
copy, as the duplicated set orders them, so the replicate equals
``CocoEvaluator.compute()`` on the duplicated images bit for bit.

The summary stats are specs ``(is_ap, iou_thr, area, maxDet, group)`` (:func:`coco_stat_specs`:
COCO's, group -1 = every category); LVIS passes its 13 (``lvis.lvis_sample_table``), whose
APr / APc / APf average only the categories of one frequency group (``cat_group``), so an
LVIS replicate equals ``LvisEvaluator.compute()`` on the duplicated images likewise.

Two kernels, same numbers: the C extension ``_bootstrap_ext`` (built by ``setup.py``; its
tables are bucketed by (category, area, IoU threshold), see ``_prepare_native``) and the
numba kernels of ``coco_bootstrap_kernels`` (the reference, used when the extension is not
built or ``VISIONBENCH_COCO_KERNELS=numba``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from visionbench.metrics.detection.coco_evaluation import MatchState
from visionbench.metrics.detection.coco_params import CocoParams
from visionbench.metrics.errors import MetricInputError

__all__ = ["NATIVE", "CocoSampleTable", "coco_stat_specs"]

_TP, _FP, _IG = 0, 1, 2
_NATIVE_API = 3  # the argument list of _bootstrap_ext.replicate this module passes


def _load_native() -> Any:
    if os.environ.get("VISIONBENCH_COCO_KERNELS", "").lower() == "numba":
        return None
    try:
        from visionbench.metrics.detection import _bootstrap_ext
    except ImportError:
        return None
    if getattr(_bootstrap_ext, "API", 1) != _NATIVE_API:  # built from an older _bootstrap_ext.c
        import warnings

        warnings.warn(
            "visionbench: _bootstrap_ext is out of date (rebuild: python setup.py build_ext "
            "--inplace); using the numba bootstrap kernel",
            stacklevel=2,
        )
        return None
    return _bootstrap_ext


#: the C extension module of the bootstrap, or None (numba kernels)
NATIVE = _load_native()
_WORK_LOCK = threading.Lock()


class CocoSampleTable:
    """Per-image COCO statistics, resampled by integer image weights.

    Args:
        state: the evaluator's :class:`MatchState` (any union of images).
        params: the evaluation's :class:`CocoParams`.
        cat_ids: [K] sorted category ids (ignored when pooled).
        compat: as in ``CocoEvaluator`` (decides which maxDet the AP stat reads).
        specs, names: other summary stats than COCO's (LVIS's), as :func:`coco_stat_specs`
            gives them; default COCO's.
        cat_group: [K] the group index of each category (LVIS: 0 r, 1 c, 2 f), which the
            specs with a group (``spec[4] >= 0``) average over; needed only by those.
    """

    def __init__(
        self,
        state: MatchState,
        params: CocoParams,
        cat_ids: np.ndarray,
        *,
        compat: bool,
        specs: list[tuple[bool, float | None, int, int, int]] | None = None,
        names: list[str] | None = None,
        cat_group: np.ndarray | None = None,
    ) -> None:
        self.state = state
        self.params = params
        self.cat_ids = np.asarray(cat_ids, dtype=np.int64)
        self.compat = compat
        self.sample_ids = np.asarray(state.image_ids, dtype=np.int64)
        if specs is None:
            self.specs, self.names = coco_stat_specs(params, compat=compat)
        else:
            self.specs = [(bool(a), t, int(ar), int(m), int(g)) for a, t, ar, m, g in specs]
            self.names = [str(n) for n in (names or [])]
            if len(self.names) != len(self.specs):
                raise MetricInputError("bootstrap: one name per summary stat expected")
        self.cat_group = None if cat_group is None else np.asarray(cat_group, dtype=np.int64)
        if any(sp[4] >= 0 for sp in self.specs) and (
            not params.use_cats
            or self.cat_group is None
            or len(self.cat_group) != len(self.cat_ids)
        ):
            raise MetricInputError("bootstrap: stats over a category group need cat_group [K]")
        md = list(params.max_dets)
        for ap, _thr, _area, m, _g in self.specs:
            if ap and m != len(md) - 1:
                raise MetricInputError(
                    f"bootstrap: AP at maxDets={md[m]} (not the last of {md}) is not supported"
                )
        self._prepared: dict[str, Any] | None = None
        self._native: dict[str, Any] | None = None  # {} where the C kernel does not apply

    def __len__(self) -> int:
        return len(self.sample_ids)

    # -- building tables for paired tests ------------------------------------------
    def take(self, idx: np.ndarray) -> CocoSampleTable:
        """The table of images ``idx`` (positions, ascending, unique)."""
        keep_ids = self.sample_ids[np.asarray(idx, dtype=np.int64)]
        s = self.state
        dm = np.isin(s.dt_image_id, keep_ids)
        pm = np.isin(s.pair_image_id, keep_ids)
        sub = MatchState(
            keep_ids, s.dt_image_id[dm], s.dt_cat[dm], s.dt_score[dm], s.dt_rank[dm],
            s.dt_flags[dm], s.pair_image_id[pm], s.pair_cat[pm], s.pair_npig[pm],
        )  # fmt: skip
        return self._like(sub)

    def stacked(self, other: CocoSampleTable) -> CocoSampleTable:
        """This table's images then ``other``'s as one set (ids remapped to ``2 id`` and
        ``2 id + 1``, which keeps pycocotools' tie order); for randomisation tests."""
        a, b = self.state, other.state

        def remap(s: MatchState, off: int) -> MatchState:
            return MatchState(
                2 * s.image_ids + off, 2 * s.dt_image_id + off, s.dt_cat, s.dt_score, s.dt_rank,
                s.dt_flags, 2 * s.pair_image_id + off, s.pair_cat, s.pair_npig,
            )  # fmt: skip

        ra, rb = remap(a, 0), remap(b, 1)
        both = MatchState.concat([ra, rb])
        # sample order (the caller's weight layout): self's images, then other's
        return self._like(both)

    def _like(self, state: MatchState) -> CocoSampleTable:
        """A table of ``state`` with this one's parameters and summary stats."""
        return CocoSampleTable(
            state, self.params, self.cat_ids, compat=self.compat, specs=self.specs,
            names=self.names, cat_group=self.cat_group,
        )  # fmt: skip

    # -- storage --------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez``: the match state (flags bit-packed), params."""
        from visionbench.metrics.detection.coco_evaluation import state_to_dict

        p = self.params
        out = {f"state.{k}": np.asarray(v) for k, v in state_to_dict(self.state).items()}
        out.update(
            {
                "kind": np.array("CocoSampleTable"),
                "cat_ids": self.cat_ids,
                "compat": np.array(self.compat),
                "sample_ids": self.sample_ids,
                "p.iou_type": np.array(p.iou_type),
                "p.iou_thrs": np.asarray(p.iou_thrs),
                "p.rec_thrs": np.asarray(p.rec_thrs),
                "p.max_dets": np.asarray(p.max_dets, dtype=np.int64),
                "p.area_rng": np.asarray(p.area_rng, dtype=np.float64),
                "p.area_lbl": np.asarray(list(p.area_lbl)),
                "p.use_cats": np.array(bool(p.use_cats)),
                # the summary stats (COCO's or LVIS's; thr NaN = all thresholds)
                "spec.ap": np.array([sp[0] for sp in self.specs], dtype=bool),
                "spec.thr": np.array([np.nan if sp[1] is None else sp[1] for sp in self.specs]),
                "spec.area": np.array([sp[2] for sp in self.specs], dtype=np.int64),
                "spec.m": np.array([sp[3] for sp in self.specs], dtype=np.int64),
                "spec.group": np.array([sp[4] for sp in self.specs], dtype=np.int64),
                "spec.names": np.array(self.names, dtype=str),
            }
        )
        if self.cat_group is not None:
            out["cat_group"] = self.cat_group
        return out

    @classmethod
    def from_arrays(cls, d: Any) -> CocoSampleTable:
        """Inverse of :meth:`to_arrays`."""
        from visionbench.metrics.detection.coco_evaluation import state_from_dict

        state = state_from_dict({k[6:]: d[k] for k in d if k.startswith("state.")})
        params = CocoParams(
            iou_type=str(np.asarray(d["p.iou_type"])),
            iou_thrs=np.asarray(d["p.iou_thrs"], dtype=np.float64),
            rec_thrs=np.asarray(d["p.rec_thrs"], dtype=np.float64),
            max_dets=[int(x) for x in np.asarray(d["p.max_dets"])],
            area_rng=[list(map(float, r)) for r in np.asarray(d["p.area_rng"])],
            area_lbl=[str(x) for x in np.asarray(d["p.area_lbl"])],
            use_cats=bool(np.asarray(d["p.use_cats"])),
        )
        specs = names = None
        if "spec.ap" in d:  # (tables stored before the specs were: COCO's)
            specs = [
                (bool(a), None if np.isnan(t) else float(t), int(ar), int(m), int(g))
                for a, t, ar, m, g in zip(
                    *(np.asarray(d[f"spec.{k}"]) for k in ("ap", "thr", "area", "m", "group"))
                )
            ]
            names = [str(n) for n in np.asarray(d["spec.names"])]
        t = cls(
            state, params, np.asarray(d["cat_ids"]), compat=bool(np.asarray(d["compat"])),
            specs=specs, names=names,
            cat_group=np.asarray(d["cat_group"]) if "cat_group" in d else None,
        )  # fmt: skip
        t.sample_ids = np.asarray(d["sample_ids"], dtype=np.int64)
        return t

    # -- replicates -----------------------------------------------------------------
    def metrics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The summary stats of each weighted replicate.

        Args:
            weights: [B, I] non-negative integers, the draw count of each image (in
                ``sample_ids`` order).

        Returns:
            stat name -> [B] values (NaN where pycocotools would print -1).
        """
        w = np.asarray(weights, dtype=np.int64)
        if w.ndim != 2 or w.shape[1] != len(self):
            raise MetricInputError(
                f"weights: expected [B, {len(self)}] draw counts, got {list(w.shape)}"
            )
        nat = self._prepare_native() if NATIVE is not None else None
        if nat is not None and (
            len(w) == 0 or int(w.sum(axis=1).max()) * nat["per_image"] < 2**31 - 1
        ):  # int32 counts: exact
            return self._metrics_native(w, nat)
        prep = self._prepare()
        w = w[:, prep["perm"]]  # into sorted-image-id order
        out = {n: np.empty(len(w)) for n in self.names}
        from visionbench.metrics.detection import coco_bootstrap_kernels as KB

        p = self.params
        n_cat = len(self.cat_ids) if p.use_cats else 1
        a_, t_, r_, m_ = len(p.area_rng), len(p.iou_thrs), len(p.rec_thrs), len(p.max_dets)
        # kept across chunks and calls (a fresh 80 MB array per chunk costs page faults);
        # up to 32 replicates a chunk, fewer where their precision arrays pass 128 MB
        # (LVIS: 39 MB a replicate; 32 would be 1.2 GB). Replicates are independent:
        # the chunk size changes no number.
        if getattr(self, "_buffers", None) is None:
            chunk = int(max(1, min(32, (128 << 20) // max(1, 8 * a_ * t_ * r_ * n_cat))))
            self._buffers = (
                np.empty((chunk, a_, t_, r_, n_cat)),
                np.empty((chunk, t_, n_cat, a_, m_)),
            )
        prec, rec = self._buffers
        chunk = len(prec)
        for c0 in range(0, len(w), chunk):
            n_here = min(chunk, len(w) - c0)
            KB.replicate_arrays(
                w[c0 : c0 + chunk], prep["det_img"], prep["det_rank"], prep["cat_start"],
                prep["cat_end"], prep["base"], prep["ex_start"], prep["ex_a"], prep["ex_t"],
                prep["ex_cls"], prep["grp_end"], prep["ntp"], prep["multi"],
                prep["multi_start"], prep["multi_end"], prep["pair_img"],
                prep["pair_k"], prep["pair_npig"], np.asarray(self.params.max_dets, np.int64),
                self.params.rec_thrs, len(self.params.iou_thrs), prec, rec,
            )  # fmt: skip
            stats = KB.summarize_replicates(prec, rec, n_here, *prep["specs"], prep["cat_grp"])
            for si, n in enumerate(self.names):
                v = stats[:, si]
                out[n][c0 : c0 + n_here] = np.where(v > -1, v, np.nan)
        return out

    def prepare(self) -> str:
        """Build the tables of the kernel :meth:`metrics` will use, once; its name."""
        if NATIVE is not None and self._prepare_native() is not None:
            return "c"
        self._prepare()
        return "numba"

    # -- the C kernel -----------------------------------------------------------------
    def _metrics_native(self, w: np.ndarray, nat: dict[str, Any]) -> dict[str, np.ndarray]:
        ws = np.ascontiguousarray(w[:, nat["perm"]], dtype=np.int32)
        n_b, n_i = ws.shape
        stats = np.empty((n_b, len(self.names)))
        p = self.params
        n_cells = len(p.iou_thrs) * len(p.rec_thrs) * nat["n_cat"] * int(NATIVE.NB)

        def run(b0: int, b1: int) -> None:
            work = self._work_take(n_cells)
            try:
                _replicate(b0, b1, work)
            finally:
                self._work_give(work)

        def _replicate(b0: int, b1: int, work: np.ndarray) -> None:
            NATIVE.replicate(
                ws[b0:b1], b1 - b0, n_i, nat["n_cat"], len(p.area_rng), len(p.iou_thrs),
                len(p.max_dets), len(nat["pair_img"]), nat["pair_img"], nat["pair_k"],
                nat["pair_npig"], nat["bw_off"], nat["bw_img"], nat["snap_off"],
                nat["snap_after"], nat["ex_off"], nat["ex_img"], nat["ex_snap"], nat["ex_tie"],
                nat["ex_flag"], nat["ex_mmask"], nat["tie_len"], nat["tie_gfp"],
                nat["tie_pre"], nat["rec_thrs"], nat["spec_ap"], nat["spec_thr"],
                nat["spec_area"], nat["spec_m"], nat["spec_grp"], nat["cat_grp"], stats[b0:b1],
                work,
            )  # fmt: skip

        # the kernel releases the GIL: replicates split across threads (wall time only;
        # each replicate's numbers do not depend on the split)
        nb = int(NATIVE.NB)
        n_pass = (n_b + nb - 1) // nb  # lane passes
        n_thr = max(1, min(_threads(), n_pass))
        if n_thr == 1:
            if n_b:
                run(0, n_b)
        else:
            from concurrent.futures import ThreadPoolExecutor

            per = (n_pass + n_thr - 1) // n_thr * nb  # whole lane passes per thread
            spans = [(b0, min(b0 + per, n_b)) for b0 in range(0, n_b, per)]
            with ThreadPoolExecutor(len(spans)) as pool:
                for f in [pool.submit(run, b0, b1) for b0, b1 in spans]:
                    f.result()
        return {
            n: np.where(stats[:, i] > -1, stats[:, i], np.nan) for i, n in enumerate(self.names)
        }

    def _work_take(self, n_cells: int) -> np.ndarray:
        """The precision work array of the C kernel, [T R K NB + 8] (kept across calls:
        fresh pages cost). The kernel writes only its first T R Kc NB cells, Kc the
        categories with gts in some replicate of a pass, so the rest is never touched
        (``np.zeros``: pages mapped on first write; LVIS: Kc is well below K)."""
        with _WORK_LOCK:
            pool = self.__dict__.setdefault("_work_pool", [])
            while pool:
                w = pool.pop()
                if len(w) >= n_cells + 8:
                    return w
        return np.zeros(n_cells + 8)

    def _work_give(self, work: np.ndarray) -> None:
        with _WORK_LOCK:
            self.__dict__.setdefault("_work_pool", []).append(work)

    def _prepare_native(self) -> dict[str, Any] | None:
        """Tables of the C kernel (None where it does not apply: more than 9 maxDets).

        Detections in pycocotools' order; per (category, area, IoU threshold) the cells
        that differ from the detection's base class (CSR ``ex_*``, in detection order:
        image, flags ``1`` true positive / ``2`` a false positive of the base class that is
        not one here / ``4`` an ignored one of the base class that is a false positive
        here, the maxDets bits of a true positive, its snapshot); per (area, category)
        the images of the base-class false positives (``bw_*``, up to the last snapshot)
        and the snapshots (``snap_after``: how many of them precede it). Cells of a tie
        group (same category, image and score, two or more detections) carry the group's
        base false positives (``tie_gfp``), those up to theirs (``tie_pre``) and, at the
        first of a run in a bucket, the run's length (``tie_len``); their snapshot is the
        count before the group."""
        if getattr(self, "_native", None) is not None:
            return self._native or None
        s, p = self.state, self.params
        n_m = len(p.max_dets)
        if n_m - 1 > 8:
            self._native = {}
            return None
        from visionbench.metrics.detection import coco_kernels as CK

        img_sorted = np.unique(s.image_ids)
        if len(img_sorted) != len(self.sample_ids):
            raise MetricInputError("bootstrap: duplicate image ids in the COCO state")
        perm = _positions(self.sample_ids, img_sorted)
        cats = self.cat_ids if p.use_cats else np.array([-1], dtype=np.int64)
        n_cat, n_a, n_t = len(cats), len(p.area_rng), len(p.iou_thrs)
        kd = np.minimum(np.searchsorted(cats, s.dt_cat), max(n_cat - 1, 0))
        if len(kd) and not np.array_equal(cats[kd], s.dt_cat):
            raise MetricInputError("bootstrap: detections of categories outside cat_ids")
        img_idx = np.searchsorted(img_sorted, s.dt_image_id)
        n_d = len(kd)
        # pycocotools' order: by category, then -score (stable), image, rank
        if _sorted_lex(kd, img_idx, s.dt_rank):
            first = np.arange(n_d, dtype=np.int64)
        else:
            first = np.lexsort((s.dt_rank, img_idx, kd))
        o = CK.segment_order_desc(first, kd, s.dt_score) if n_d else first
        kd_o = kd[o].astype(np.int32)
        det_img = img_idx[o].astype(np.int32)
        score_o = s.dt_score[o]
        flags = np.ascontiguousarray(s.dt_flags, dtype=np.uint8).reshape(n_d, n_a, n_t)
        base = np.empty((n_d, n_a), dtype=np.uint8)
        n_kat = n_cat * n_a * n_t
        cnt = np.zeros(n_kat, dtype=np.int64)
        o64 = np.ascontiguousarray(o, dtype=np.int64)
        NATIVE.cells_count(o64, kd_o, flags, n_d, n_a, n_t, base, cnt)
        ex_off = np.zeros(n_kat + 1, dtype=np.int64)
        np.cumsum(cnt, out=ex_off[1:])
        n_e = int(ex_off[-1])
        ex_pos = np.empty(n_e, dtype=np.int32)
        ex_cls = np.empty(n_e, dtype=np.uint8)
        NATIVE.cells_fill(o64, kd_o, flags, n_d, n_a, n_t, base, ex_off[:-1].copy(), ex_pos, ex_cls)
        bucket = np.repeat(np.arange(n_kat, dtype=np.int64), cnt)
        ex_a = (bucket // n_t) % n_a
        ex_k = bucket // (n_a * n_t)
        ex_base = base[ex_pos, ex_a]
        is_tp = ex_cls == _TP
        ex_flag = (
            is_tp.astype(np.uint8)
            | (((ex_base == _FP) & (ex_cls != _FP)).astype(np.uint8) << 1)
            | ((ex_cls == _FP).astype(np.uint8) << 2)
        )
        md = np.asarray(p.max_dets, dtype=np.int64)
        rank_e = s.dt_rank[o][ex_pos]
        ex_mmask = np.zeros(n_e, dtype=np.uint8)
        for m in range(n_m - 1):
            ex_mmask |= (rank_e < md[m]).astype(np.uint8) << m
        # tie groups: adjacent detections of one category and image with the same score
        same = np.zeros(n_d, dtype=bool)
        if n_d > 1:
            same[1:] = (
                (kd_o[1:] == kd_o[:-1]) & (det_img[1:] == det_img[:-1])
                & (score_o[1:] == score_o[:-1])
            )  # fmt: skip
        starts = np.flatnonzero(~same)
        sizes = np.diff(np.r_[starts, n_d])
        gid = np.repeat(np.arange(len(starts)), sizes)
        gstart = starts[gid] if n_d else np.zeros(0, np.int64)
        gend = np.repeat(starts + sizes, sizes)
        # base false positives counted from each category's start, per area ([A, D]:
        # contiguous per area, so that the running sums are fast)
        is_fp = np.ascontiguousarray((base == _FP).T, dtype=np.int32)
        cum = np.cumsum(is_fp, axis=1, dtype=np.int32)  # inclusive
        cat_start = np.searchsorted(kd_o, np.arange(n_cat), side="left")
        before_cat = np.zeros((n_a, n_cat), dtype=np.int32)
        nz = cat_start > 0
        before_cat[:, nz] = cum[:, cat_start[nz] - 1]
        in_tie = (sizes > 1)[gid] if n_d else np.zeros(0, bool)
        e_tie = in_tie[ex_pos]
        gs_e, ge_e = gstart[ex_pos], gend[ex_pos]
        # the running base false-positive count a true positive reads (a tie group's
        # cells: the count before the group)
        at = np.where(e_tie, gs_e, ex_pos)
        snap_after = cum[ex_a, at] - np.where(e_tie, is_fp[ex_a, at], 0) - before_cat[ex_a, ex_k]
        ak = ex_a * n_cat + ex_k
        tp_i = np.flatnonzero(is_tp)
        key = ak[tp_i] * (n_d + 1) + snap_after[tp_i]
        ukey, inv = np.unique(key, return_inverse=True)
        u_ak = ukey // (n_d + 1)
        snap_off = np.searchsorted(u_ak, np.arange(n_cat * n_a + 1)).astype(np.int64)
        ex_snap = np.full(n_e, -1, dtype=np.int32)
        ex_snap[tp_i] = (inv.reshape(-1) - snap_off[ak[tp_i]]).astype(np.int32)
        snap_vals = (ukey % (n_d + 1)).astype(np.int32)
        lim = np.zeros(n_cat * n_a, dtype=np.int64)  # base false positives the walk needs
        last = snap_off[1:] > snap_off[:-1]
        lim[last] = snap_vals[snap_off[1:][last] - 1]
        bw_img, bw_len = [], np.zeros(n_cat * n_a, dtype=np.int64)
        for a in range(n_a):
            pos = np.flatnonzero(is_fp[a])
            k_a = kd_o[pos]
            rel = np.arange(len(pos)) - np.searchsorted(k_a, k_a, side="left")
            keep = rel < lim[a * n_cat + k_a]
            bw_img.append(det_img[pos[keep]])
            bw_len[a * n_cat : (a + 1) * n_cat] = np.bincount(k_a[keep], minlength=n_cat)
        bw_off = np.zeros(n_cat * n_a + 1, dtype=np.int64)
        np.cumsum(bw_len, out=bw_off[1:])
        # tie cells: runs of one group inside one bucket
        t_i = np.flatnonzero(e_tie)
        ex_tie = np.full(n_e, -1, dtype=np.int32)
        ex_tie[t_i] = np.arange(len(t_i), dtype=np.int32)
        run_first = np.ones(len(t_i), dtype=bool)
        if len(t_i) > 1:
            run_first[1:] = (
                (t_i[1:] != t_i[:-1] + 1)
                | (bucket[t_i[1:]] != bucket[t_i[:-1]])
                | (gid[ex_pos[t_i[1:]]] != gid[ex_pos[t_i[:-1]]])
            )
        rs = np.flatnonzero(run_first)
        tie_len = np.zeros(len(t_i), dtype=np.int32)
        tie_len[rs] = np.diff(np.r_[rs, len(t_i)])
        a_t = ex_a[t_i]
        g0 = gs_e[t_i]
        tie_gfp = (cum[a_t, ge_e[t_i] - 1] - cum[a_t, g0] + is_fp[a_t, g0]).astype(np.int32)
        tie_pre = (cum[a_t, ex_pos[t_i]] - cum[a_t, g0] + is_fp[a_t, g0]).astype(np.int32)
        # specs
        spec_thr = []
        for _ap, thr, _a, _m, _g in self.specs:
            hit = np.flatnonzero(thr == p.iou_thrs) if thr is not None else None
            if hit is not None and len(hit) != 1:
                raise MetricInputError(f"bootstrap: IoU threshold {thr} is not once in iou_thrs")
            spec_thr.append(-1 if hit is None else int(hit[0]))
        pk = np.minimum(np.searchsorted(cats, s.pair_cat), max(n_cat - 1, 0))
        npig = np.ascontiguousarray(s.pair_npig, dtype=np.int64).reshape(-1, n_a)
        per_img = max(
            int(np.bincount(det_img).max()) if n_d else 0,
            int(npig.sum(axis=1).max()) if len(npig) else 0,
            1,
        )
        i32 = lambda x: np.ascontiguousarray(x, dtype=np.int32)  # noqa: E731
        self._native = {
            "perm": perm,
            "n_cat": n_cat,
            "per_image": per_img,  # a bound of the counts per image (int32 guard)
            "pair_img": i32(np.searchsorted(img_sorted, s.pair_image_id)),
            "pair_k": i32(pk),
            "pair_npig": i32(npig),
            "bw_off": bw_off,
            "bw_img": i32(np.concatenate(bw_img) if bw_img else np.zeros(0)),
            "snap_off": snap_off,
            "snap_after": snap_vals,
            "ex_off": ex_off,
            "ex_img": i32(det_img[ex_pos]),
            "ex_snap": ex_snap,
            "ex_tie": ex_tie,
            "ex_flag": np.ascontiguousarray(ex_flag),
            "ex_mmask": ex_mmask,
            "tie_len": tie_len,
            "tie_gfp": tie_gfp,
            "tie_pre": tie_pre,
            "rec_thrs": np.ascontiguousarray(p.rec_thrs, dtype=np.float64),
            "spec_ap": np.array([sp[0] for sp in self.specs], dtype=np.uint8),
            "spec_thr": np.array(spec_thr, dtype=np.int64),
            "spec_area": np.array([sp[2] for sp in self.specs], dtype=np.int64),
            "spec_m": np.array([sp[3] for sp in self.specs], dtype=np.int64),
            "spec_grp": np.array([sp[4] for sp in self.specs], dtype=np.int64),
            "cat_grp": self._cat_grp(n_cat),
        }
        return self._native

    # -- the numba kernel --------------------------------------------------------------
    def _prepare(self) -> dict[str, Any]:
        if self._prepared is not None:
            return self._prepared
        s, p = self.state, self.params
        img_sorted = np.unique(s.image_ids)
        if len(img_sorted) != len(self.sample_ids):
            raise MetricInputError("bootstrap: duplicate image ids in the COCO state")
        perm = _positions(self.sample_ids, img_sorted)
        cats = self.cat_ids if p.use_cats else np.array([-1], dtype=np.int64)
        n_cat = len(cats)
        kd = np.minimum(np.searchsorted(cats, s.dt_cat), max(n_cat - 1, 0))
        if len(kd) and not np.array_equal(cats[kd], s.dt_cat):
            raise MetricInputError("bootstrap: detections of categories outside cat_ids")
        img_idx = np.searchsorted(img_sorted, s.dt_image_id)
        o = np.lexsort((s.dt_rank, img_idx, -s.dt_score, kd))
        kd_o = kd[o]
        det_img = img_idx[o].astype(np.int64)
        score_o = s.dt_score[o]
        flags = s.dt_flags[o]  # [D, A, T]
        cls = np.where(flags & 2, _IG, np.where(flags & 1, _TP, _FP)).astype(np.int8)
        n_d, n_a, n_t = cls.shape
        # base class per (det, area): the commoner of FP / IG over the thresholds
        n_fp = (cls == _FP).sum(axis=2)
        n_ig = (cls == _IG).sum(axis=2)
        base = np.where(n_ig > n_fp, _IG, _FP).astype(np.int8)
        ex = cls != base[:, :, None]
        ex_d, ex_a, ex_t = np.nonzero(ex)  # C order: by det, then area, then threshold
        ex_cls = cls[ex_d, ex_a, ex_t]
        ex_start = np.zeros(n_d + 1, dtype=np.int64)
        np.cumsum(np.bincount(ex_d, minlength=n_d), out=ex_start[1:])
        cat_start = np.searchsorted(kd_o, np.arange(n_cat), side="left")
        cat_end = np.searchsorted(kd_o, np.arange(n_cat), side="right")
        # tie groups: adjacent detections of one category and image with the same score
        same = np.zeros(n_d, dtype=bool)
        if n_d > 1:
            same[1:] = (
                (kd_o[1:] == kd_o[:-1])
                & (det_img[1:] == det_img[:-1])
                & (score_o[1:] == score_o[:-1])
            )
        starts = np.flatnonzero(~same)
        ends = np.r_[starts[1:], n_d]
        grp_end = np.zeros(n_d, dtype=np.int64)  # at a group's first det: its end; else 0
        grp_end[starts] = ends
        # true-positive cells per (category, area, threshold)
        tp_rows = ex_cls == _TP
        key = (kd_o[ex_d[tp_rows]] * n_a + ex_a[tp_rows]) * n_t + ex_t[tp_rows]
        ntp = np.bincount(key, minlength=n_cat * n_a * n_t).reshape(n_cat, n_a, n_t)
        multi = np.flatnonzero(np.repeat(ends - starts > 1, ends - starts))
        multi_start = np.searchsorted(multi, cat_start).astype(np.int64)
        multi_end = np.searchsorted(multi, cat_end).astype(np.int64)
        pk = np.minimum(np.searchsorted(cats, s.pair_cat), max(n_cat - 1, 0))
        spec_thr = []
        for _ap, thr, _a, _m, _g in self.specs:
            hit = np.flatnonzero(thr == p.iou_thrs) if thr is not None else None
            if hit is not None and len(hit) != 1:
                raise MetricInputError(f"bootstrap: IoU threshold {thr} is not once in iou_thrs")
            spec_thr.append(-1 if hit is None else int(hit[0]))
        self._prepared = {
            "specs": (
                np.array([sp[0] for sp in self.specs], dtype=np.bool_),
                np.array(spec_thr, dtype=np.int64),
                np.array([sp[2] for sp in self.specs], dtype=np.int64),
                np.array([sp[3] for sp in self.specs], dtype=np.int64),
                np.array([sp[4] for sp in self.specs], dtype=np.int64),
            ),
            "cat_grp": self._cat_grp(n_cat),
            "perm": perm,
            "det_img": det_img,
            "det_rank": s.dt_rank[o].astype(np.int64),
            "cat_start": cat_start.astype(np.int64),
            "cat_end": cat_end.astype(np.int64),
            "base": np.ascontiguousarray(base),
            "ex_start": ex_start,
            "ex_a": ex_a.astype(np.int64),
            "ex_t": ex_t.astype(np.int64),
            "ex_cls": ex_cls.astype(np.int64),
            "grp_end": grp_end,
            "ntp": ntp.astype(np.int64),
            "multi": multi.astype(np.int64),
            "multi_start": multi_start,
            "multi_end": multi_end,
            "pair_img": np.searchsorted(img_sorted, s.pair_image_id).astype(np.int64),
            "pair_k": pk.astype(np.int64),
            "pair_npig": np.ascontiguousarray(s.pair_npig, dtype=np.int64),
        }
        return self._prepared

    def _cat_grp(self, n_cat: int) -> np.ndarray:
        """[K] the group of each category (-1 everywhere without groups)."""
        if self.cat_group is None:
            return np.full(max(n_cat, 1), -1, dtype=np.int64)
        return np.ascontiguousarray(self.cat_group, dtype=np.int64)


def _threads() -> int:
    """Threads of the C kernel: ``$VISIONBENCH_BOOTSTRAP_THREADS``, else 2 (at most the
    CPUs)."""
    env = os.environ.get("VISIONBENCH_BOOTSTRAP_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(2, os.cpu_count() or 1))


def _sorted_lex(*keys: np.ndarray) -> bool:
    """Whether the rows are sorted lexicographically by ``keys`` (first key first)."""
    n = len(keys[0])
    if n < 2:
        return True
    undecided = np.ones(n - 1, dtype=bool)
    for k in keys:
        lt, gt = k[:-1] < k[1:], k[:-1] > k[1:]
        if (gt & undecided).any():
            return False
        undecided &= ~lt
    return True


def _positions(order_ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """For each id of ``sorted_ids``, its position in ``order_ids``."""
    o = np.argsort(order_ids, kind="stable")
    return o[np.searchsorted(order_ids[o], sorted_ids)]


def coco_stat_specs(
    params: CocoParams, *, compat: bool
) -> tuple[list[tuple[bool, float | None, int, int, int]], list[str]]:
    """The summary stats of ``coco_core.summarize`` as ``(is_ap, iou_thr, area index,
    maxDet index, category group)`` and their names (same order).

    The group is -1 (every category) in COCO's stats; a stat of group ``g`` averages only
    the cells of the categories whose ``cat_group`` is ``g`` (LVIS's APr / APc / APf:
    ``s[:, :, groups[g]]``, categories in ascending index order)."""
    p = params
    md = list(p.max_dets)
    lbl = list(p.area_lbl)

    def spec(
        ap: bool, thr: float | None, area: str, m: int
    ) -> tuple[bool, float | None, int, int, int]:
        if area not in lbl or m not in md:
            raise MetricInputError(f"bootstrap: the summary needs area {area!r} and maxDets {m}")
        return (ap, thr, lbl.index(area), md.index(m), -1)

    if p.iou_type == "keypoints":
        m = 20 if compat else md[-1]
        specs = [
            spec(True, None, "all", m), spec(True, 0.5, "all", m), spec(True, 0.75, "all", m),
            spec(True, None, "medium", m), spec(True, None, "large", m),
            spec(False, None, "all", m), spec(False, 0.5, "all", m), spec(False, 0.75, "all", m),
            spec(False, None, "medium", m), spec(False, None, "large", m),
        ]  # fmt: skip
        return specs, ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    if compat:
        if len(md) < 3:
            raise MetricInputError(f"max_dets={md}: pycocotools' summarize needs 3 values")
        m0, m1, m2, first = md[0], md[1], md[2], 100
    else:
        m0, m1, m2 = md[0], md[min(1, len(md) - 1)], md[-1]
        first = m2
    specs = [
        spec(True, None, "all", first), spec(True, 0.5, "all", m2), spec(True, 0.75, "all", m2),
        spec(True, None, "small", m2), spec(True, None, "medium", m2), spec(True, None, "large", m2),
        spec(False, None, "all", m0), spec(False, None, "all", m1), spec(False, None, "all", m2),
        spec(False, None, "small", m2), spec(False, None, "medium", m2), spec(False, None, "large", m2),
    ]  # fmt: skip
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", f"AR{m0}", f"AR{m1}", f"AR{m2}"]
    return specs, [*names, "ARs", "ARm", "ARl"]


def summarize_arrays(
    precision: np.ndarray,
    recall: np.ndarray,
    specs: list[tuple[bool, float | None, int, int, int]],
    params: CocoParams,
    cat_group: np.ndarray | None = None,
) -> list[float]:
    """``summarize`` on precision [A, T, R, K] (last maxDet; area first, so that each
    area's [T, R, K] block is contiguous) and recall [T, K, A, M]: the same elements in
    the same order through ``np.mean``, so the same bits."""
    out = []
    for ap, thr, a, m, g in specs:
        s = precision[a] if ap else recall[:, :, a, m]
        if thr is not None:
            s = s[np.where(thr == params.iou_thrs)[0]]
        if g >= 0:
            s = s[..., np.flatnonzero(np.asarray(cat_group) == g)]
        v = s[s > -1]
        out.append(-1.0 if len(v) == 0 else float(np.mean(v)))
    return out
