"""The C kernels (visionbench/metrics/detection/_coco_ext.c) against their references, bit for bit.

References: the numba kernels (coco_kernels.py, coco_json_kernels.py) through the whole
evaluation, pycocotools' mask functions for RLE area / bbox / IoU, and the numpy port of
computeOks for keypoint OKS.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from tests.metrics._coco_gen import random_problem
from visionbench.metrics.detection import coco_kernels as coco_native
from visionbench.metrics.detection.coco import coco_evaluate

if coco_native.NATIVE is None:
    if os.environ.get("VISIONBENCH_REQUIRE_NATIVE"):
        raise RuntimeError("the C extension visionbench.metrics.detection._coco_ext is not built")
    pytest.skip(
        "C kernels not built (pip install -e . / python setup.py build_ext --inplace) or "
        "disabled (VISIONBENCH_COCO_KERNELS=numba)",
        allow_module_level=True,
    )

ARRAYS = ("precision", "recall", "scores", "stats")


def _both(monkeypatch, fn):
    """fn() with the C kernels, then with the numba kernels."""
    a = fn()
    with monkeypatch.context() as m:
        m.setattr(coco_native, "NATIVE", None)
        b = fn()
    return a, b


def _same(a, b) -> None:
    for k in ARRAYS:
        x, y = a.arrays[k], b.arrays[k]
        assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), k


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("iou_type", ["bbox", "segm", "keypoints"])
def test_evaluation_identical_to_numba_kernels(monkeypatch, seed, iou_type):
    rng = np.random.default_rng(seed)
    n_img = int(rng.integers(0, 12)) if iou_type == "bbox" else int(rng.integers(1, 5))
    gt, res = random_problem(
        rng, n_img=n_img, iou_type=iou_type, crowd_p=float(rng.choice([0.0, 0.2, 0.5])),
        tied_scores=bool(seed % 2),
    )  # fmt: skip
    if not res:
        return
    kw = [{}, {"max_dets": [1, 3, 10]}, {"use_cats": False}, {"iou_thrs": [0.3, 0.5, 0.9]}]
    kw = kw[seed % 4] if iou_type != "keypoints" else {}
    a, b = _both(
        monkeypatch,
        lambda: coco_evaluate(gt, res, iou_type=iou_type, compat="pycocotools", **kw),
    )
    _same(a, b)


@pytest.mark.parametrize("seed", range(8))
def test_bbox_json_files_identical_to_numba_kernels(monkeypatch, tmp_path, seed):
    """Through the byte scanner (files in, many images, 100-detection cut)."""
    rng = np.random.default_rng(100 + seed)
    gt, res = random_problem(rng, n_img=40, max_dt=120, tied_scores=True)
    for r in res[::7]:  # numbers the fast path cannot convert exactly: float() re-reads them
        r["bbox"][0] = r["bbox"][0] + 0.1234567890123456789
        r["score"] = r["score"] * 1e-30
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    a, b = _both(
        monkeypatch,
        lambda: coco_evaluate(tmp_path / "gt.json", tmp_path / "res.json", compat="pycocotools"),
    )
    _same(a, b)


SCAN_DOCS = [
    b"[]",
    b" [ ] ",
    b'[{"a": 1, "b": [1, 2.5, -3e2, 4E-2], "c": {"x": [1, "]"]}, "d": "s\\"q"}]',
    b'[{"a": 12345678901234567890, "b": [0.1, 1e-300, 1e300, -0.0]}, {"a": 3}]',
    b'[{"a": 1}, {"b": [1, 2, 3, 4], "a": 2.000000000000000000001}]',
    b'[{"a": 1, "a": 2}]',  # duplicate key
    b'[{"a": 1,}]',
    b'[{"a": 1}',
    b'[{"a": -}]',
    b'[{"a": 1.}]',
    b'[{"a": 1e}]',
    b'[{"b": [1, 2, 3]}]',
    b'[{"b": [1, 2, 3, 4, 5]}]',
    b'[{"a\\u0041": 1}]',
    b'{"a": 1}',
    b'[{"a": 1}] x',
    b'[{}, {"a": 7}]',
    # runs of backslashes before a quote (odd: escaped; even: the string's end)
    b'[{"c": "x\\\\\\\\"}, {"a": 2}]',
    b'[{"c": "\\\\\\"q\\\\", "a": 1}]',
    b'[{"c": "\\\\", "a": 3}, {"c": "\\"\\"", "a": 4}]',
    b'[{"c": "abc\\"}]',
    b'[{"c": "abc\\',
]


@pytest.mark.parametrize("doc", SCAN_DOCS)
def test_scan_objects_identical_to_numba(doc):
    from visionbench.metrics.detection import coco_json_scanner as J

    buf = np.frombuffer(doc, dtype=np.uint8)
    kb = np.frombuffer(b"abc", dtype=np.uint8)
    ko = np.array([0, 1, 2, 3], dtype=np.int64)
    w = np.array([1, 4, 0], dtype=np.int64)
    co = np.array([0, 1, 5, 5], dtype=np.int64)
    pow10 = np.array([10.0**i for i in range(23)])
    n_max = doc.count(b"{") + 1
    ours = coco_native.scan_objects(buf, 0, len(buf), kb, ko, w, co, n_max, pow10)
    ref = J.scan_objects(buf, 0, len(buf), kb, ko, w, co, n_max, pow10)
    assert ours[4] == ref[4]  # status
    if ref[4] == 0:
        n = ref[3]
        assert ours[3] == n
        assert np.array_equal(ours[0][:n], ref[0][:n])
        assert np.array_equal(ours[1][:n], ref[1][:n])
        assert np.array_equal(ours[2], ref[2])


def test_scan_numbers_exact_on_random_decimals():
    """Every number the fast path converts equals Python's float() of its text."""
    rng = np.random.default_rng(3)
    texts = []
    for _ in range(4000):
        d = int(rng.integers(1, 19))
        mant = "".join(str(int(c)) for c in rng.integers(0, 10, d))
        dot = int(rng.integers(0, d + 1))
        t = mant[:dot] + ("." + mant[dot:] if dot < d else "")
        if t.startswith("."):
            t = "0" + t
        if rng.random() < 0.3:
            t += f"e{int(rng.integers(-30, 30))}"
        if rng.random() < 0.3:
            t = "-" + t
        texts.append(t)
    doc = ("[" + ",".join('{"a": ' + t + "}" for t in texts) + "]").encode()
    buf = np.frombuffer(doc, dtype=np.uint8)
    v, pres, slow, n, st = coco_native.scan_objects(
        buf, 0, len(buf), np.frombuffer(b"a", np.uint8), np.array([0, 1]), np.array([1]),
        np.array([0, 1]), len(texts) + 1, np.array([10.0**i for i in range(23)]),
    )  # fmt: skip
    assert st == 0 and n == len(texts)
    fast = np.ones(n, dtype=bool)
    fast[slow[:, 0]] = False
    want = np.array([float(t) for t in texts])
    assert np.array_equal(v[:n, 0][fast], want[fast])
    assert np.array_equal(np.signbit(v[:n, 0][fast]), np.signbit(want[fast]))


def test_object_spans_identical_to_numba():
    from visionbench.metrics.detection import coco_json_scanner as J

    kb = np.frombuffer(b"imagesannotations", dtype=np.uint8)
    ko = np.array([0, 6, 17], dtype=np.int64)
    for doc in [
        b'{"info": {"a": [1, "}"]}, "images": [1, 2], "annotations": []}',
        b'{"images": [], "images": []}',
        b"{}",
        b'{"images": [1, 2]',
        b"[1]",
        b'{"x\\"y": 1, "annotations": {"q": 1}}',
    ]:
        buf = np.frombuffer(doc, dtype=np.uint8)
        a, sa = coco_native.object_spans(buf, kb, ko)
        b, sb = J.object_spans(buf, kb, ko)
        assert sa == sb
        if sa == 0:
            assert np.array_equal(a, b)


def _random_masks(rng, n, h, w):
    out = []
    for _ in range(n):
        kind = rng.integers(0, 6)
        m = np.zeros((h, w), dtype=np.uint8)
        if kind == 0:
            pass  # empty
        elif kind == 1:
            m[:] = 1  # full
        elif kind == 2:
            m = (rng.random((h, w)) < 0.3).astype(np.uint8)
        else:
            x0, y0 = rng.integers(0, w), rng.integers(0, h)
            x1, y1 = rng.integers(x0, w + 1), rng.integers(y0, h + 1)
            m[y0:y1, x0:x1] = 1
            if kind == 4 and x1 > x0:  # a run that wraps from one column to the next
                m[h - 1, x0] = 1
                m[0, min(x0 + 1, w - 1)] = 1
        rle = mask_utils.encode(np.asfortranarray(m))
        if rng.random() < 0.5:
            rle["counts"] = rle["counts"].decode("ascii")
        out.append(rle)
    return out


def test_rle_area_and_bbox_identical_to_pycocotools():
    rng = np.random.default_rng(5)
    for h, w in [(1, 1), (1, 7), (9, 1), (13, 17), (40, 33)]:
        rles = _random_masks(rng, 60, h, w)
        area, bbox = coco_native.rle_area_bbox(rles)
        want_a = np.array([float(mask_utils.area(r)) for r in rles])
        want_b = np.array([mask_utils.toBbox(r) for r in rles])
        assert np.array_equal(area, want_a)
        assert np.array_equal(bbox, want_b)


def test_pair_rle_ious_identical_to_pycocotools():
    rng = np.random.default_rng(6)
    for trial in range(30):
        h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        nd, ng = int(rng.integers(0, 12)), int(rng.integers(0, 8))
        dts = _random_masks(rng, nd, h, w)
        gts = _random_masks(rng, ng, h, w)
        if trial % 5 == 0 and ng:  # a gt of another size: pycocotools gives -1 on overlap
            gts[0] = _random_masks(rng, 1, h + 1, w)[0]
        crowd = (rng.random(ng) < 0.4).astype(bool)
        off = np.array([0, nd * ng], dtype=np.int64)
        got = coco_native.pair_rle_ious(
            np.array([0]), np.array([ng]), np.array([0]), np.array([nd]), off, gts, crowd, dts
        ).reshape(nd, ng)
        if nd and ng:
            want = np.asarray(mask_utils.iou(dts, gts, crowd.astype(np.uint8).tolist()))
            assert np.array_equal(got, want.reshape(nd, ng)), trial


def _rle_string(counts) -> bytes:
    """pycocotools' rleToString of any run lengths (zero runs anywhere included)."""
    out, cnts = bytearray(), list(counts)
    for i, x0 in enumerate(cnts):
        x = int(x0) - (int(cnts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(c + 48)
    return bytes(out)


def _odd_rles(rng, n, h, w):
    """RLEs that pycocotools' encode never writes: runs of length 0 after the first one
    (where rleIou's walk can stop early), long runs across columns."""
    out = []
    for _ in range(n):
        total, runs = h * w, []
        while total > 0:
            r = int(rng.integers(0, max(2, total // 3) + 1))
            r = min(r, total) if rng.random() < 0.8 else 0
            runs.append(r)
            total -= r
        runs += [0] * int(rng.integers(0, 3))
        out.append({"size": [h, w], "counts": _rle_string(runs)})
    return out


def test_pair_rle_ious_on_zero_runs_identical_to_pycocotools():
    """Masks with zero-length runs in the middle (pycocotools' walk stops when both masks
    reach one at once), through each input form (dicts, decoded counts, JSON spans with
    the reader's boxes)."""
    from visionbench.metrics.detection.coco_columns import RleColumn

    rng = np.random.default_rng(11)
    for trial in range(60):
        h, w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        nd, ng = int(rng.integers(1, 9)), int(rng.integers(1, 6))
        dts = _odd_rles(rng, nd, h, w) + _random_masks(rng, 2, h, w)
        gts = _odd_rles(rng, ng, h, w) + _random_masks(rng, 1, h, w)
        nd, ng = len(dts), len(gts)
        crowd = (rng.random(ng) < 0.3).astype(bool)
        off = np.array([0, nd * ng], dtype=np.int64)
        want = np.asarray(mask_utils.iou(dts, gts, crowd.astype(np.uint8).tolist()))
        want = want.reshape(nd, ng)
        args = (np.array([0]), np.array([ng]), np.array([0]), np.array([nd]), off)
        got = coco_native.pair_rle_ious(*args, gts, crowd, dts).reshape(nd, ng)
        assert np.array_equal(got, want), trial
        c, o, sz = coco_native.rle_counts(gts)
        dec = coco_native.DecodedRles(c, o, sz)
        dicts = [
            {
                **r,
                "counts": bytes(r["counts"]).decode()
                if isinstance(r["counts"], bytes)
                else r["counts"],
            }
            for r in dts
        ]
        doc = json.dumps([{"segmentation": r} for r in dicts])
        buf = np.frombuffer(doc.encode(), dtype=np.uint8)
        starts = [m.end() for m in __import__("re").finditer(r'"segmentation": ', doc)]
        spans = np.array([[a, doc.index("}", a) + 1] for a in starts], dtype=np.int64)
        cs, size, area, box, st = coco_native.NATIVE.rle_json_spans(buf, spans)
        assert st == 0
        col = RleColumn(
            buf, np.frombuffer(cs, np.int64)[: 2 * nd], np.frombuffer(size, np.int64)[: 2 * nd],
            boxes=np.frombuffer(box, np.float64)[: 4 * nd],
        )  # fmt: skip
        assert np.array_equal(np.frombuffer(area, np.float64)[:nd], mask_utils.area(dts))
        assert np.array_equal(
            np.frombuffer(box, np.float64)[: 4 * nd].reshape(nd, 4), mask_utils.toBbox(dts)
        )
        got2 = coco_native.pair_rle_ious(*args, dec, crowd, col).reshape(nd, ng)
        assert np.array_equal(got2, want), trial


def test_rle_json_spans_refuses_what_the_validator_refuses():
    """The C reader's checks of a counts string are those of check_segmentation: random
    strings of the RLE alphabet (truncated numbers, over-long numbers, negative or
    overflowing runs, wrong totals) are accepted by one exactly when by the other."""
    from visionbench.metrics.detection.coco_segm_checks import check_segmentation
    from visionbench.metrics.errors import MetricInputError

    rng = np.random.default_rng(12)
    alphabet = np.frombuffer(bytes(range(48, 112)), np.uint8)
    seen = {True: 0, False: 0}
    for trial in range(3000):
        h, w = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        if trial % 3 == 0:
            runs = _odd_rles(rng, 1, h, w)[0]["counts"]
            s = bytearray(runs)
            if len(s) and rng.random() < 0.5:
                s[int(rng.integers(0, len(s)))] = int(rng.choice(alphabet))
            s = bytes(s)
        else:
            k = int(rng.integers(0, 9))
            s = bytes(rng.choice(alphabet, k).tolist())
        s = s.replace(b"\\", b"")  # (a backslash is written escaped in JSON: tested above)
        seg = {"size": [h, w], "counts": s.decode()}
        try:
            check_segmentation(seg, h, w, src="x", ident="r")
            ok = True
        except MetricInputError:
            ok = False
        doc = json.dumps([{"segmentation": seg}]).encode()
        buf = np.frombuffer(doc, dtype=np.uint8)
        a, b = doc.index(b"segmentation") + len(b"segmentation") + 3, len(doc) - 2
        *_, st = coco_native.NATIVE.rle_json_spans(buf, np.array([[a, b]]))
        assert (st == 0) == ok, (s, h, w)
        seen[ok] += 1
    assert min(seen.values()) > 100


def test_polys_to_rle_identical_to_pycocotools():
    """The C rleFrPoly / rleMerge: random polygons (inside, across and outside the image
    edges, degenerate, several per annotation) give frPyObjects + merge's counts."""
    from visionbench.metrics.detection.coco_masks import _polys_to_rle

    rng = np.random.default_rng(13)
    for trial in range(40):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        anns = []
        for _ in range(int(rng.integers(1, 8))):
            polys = []
            for _ in range(int(rng.integers(1, 4))):
                k = int(rng.integers(3, 12))
                c = rng.uniform(-0.3, 1.3, 2) * (w, h)
                r = rng.uniform(0, 1.5) * max(h, w)
                xy = c + rng.uniform(-r, r, (k, 2))
                if rng.random() < 0.3:
                    xy = np.round(xy * 2) / 2  # on pixel edges and centres
                polys.append(xy.reshape(-1).tolist())
            anns.append(polys)
        flat = [v for a in anns for q in a for v in q]
        p_off = np.cumsum([0] + [len(q) for a in anns for q in a])
        a_off = np.cumsum([0] + [len(a) for a in anns])
        sizes = np.array([[h, w]] * len(anns), dtype=np.int64)
        counts, off = _polys_to_rle(np.array(flat, np.float64), p_off, a_off, sizes)
        for i, a in enumerate(anns):
            ref = mask_utils.merge(mask_utils.frPyObjects(a, h, w))
            c, o, _ = coco_native.rle_counts([ref])
            assert np.array_equal(counts[off[i] : off[i + 1]], c[o[0] : o[1]]), (trial, i)


def test_oks_identical_to_numpy_port():
    from visionbench.metrics.detection.coco_oks import oks
    from visionbench.metrics.detection.coco_params import KPT_OKS_SIGMAS

    rng = np.random.default_rng(7)
    for trial in range(40):
        ng, nd = int(rng.integers(1, 6)), int(rng.integers(1, 9))
        gk = np.round(rng.uniform(0, 200, (ng, 51)), 2)
        v = rng.choice([0, 1, 2], size=(ng, 17), p=[0.4, 0.2, 0.4])
        v[rng.random(ng) < 0.3] = 0  # no visible keypoint: the box-distance branch
        gk[:, 2::3] = v
        gb = np.round(np.c_[rng.uniform(0, 100, (ng, 2)), rng.uniform(0, 80, (ng, 2))], 2)
        ga = np.round(rng.uniform(0, 5000, ng), 2)
        ga[rng.random(ng) < 0.2] = 0.0
        dk = np.round(rng.uniform(-20, 220, (nd, 51)), 2)
        off = np.array([0, nd * ng], dtype=np.int64)
        got = coco_native.oks_matrices(
            np.array([0]), np.array([ng]), np.array([0]), np.array([nd]), off, gk, gb, ga, dk,
            KPT_OKS_SIGMAS,
        ).reshape(nd, ng)  # fmt: skip
        want = oks(gk, gb, ga, dk, KPT_OKS_SIGMAS)
        assert np.array_equal(got, want), trial
        # rows through index arrays, keypoints as a row-strided view, a few pairs per chunk
        wide = np.zeros((nd, 60))
        wide[:, 3:54] = dk
        perm = rng.permutation(nd)
        inv = np.argsort(perm)
        if nd < 2:
            continue
        got2 = coco_native.oks_matrices(
            np.array([0, 1]), np.array([1, ng]), np.array([0, 2]), np.array([2, nd]),
            np.array([0, 2, 2 + (nd - 2) * (ng - 1)]), gk, gb, ga, wide[perm][:, 3:54],
            KPT_OKS_SIGMAS, dt_rows=inv, chunk=3,
        )  # fmt: skip
        assert np.array_equal(got2[:2], want[:2, 0])
        assert np.array_equal(got2[2:], want[2:, 1:].reshape(-1))


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("iou_type", ["segm", "keypoints"])
def test_columnar_json_readers_identical_to_pycocotools(tmp_path, seed, iou_type):
    """segm / keypoints files through the C readers (RLE decoded from the bytes, keypoint
    columns scanned) give pycocotools' arrays, with and without a bbox in the results."""
    from tests.metrics._coco_gen import pycocotools_eval
    from visionbench.metrics.detection.coco_columns import (
        RleColumn,
        load_ground_truth,
        load_results,
    )

    rng = np.random.default_rng(seed)
    gt, res = random_problem(rng, n_img=5, iou_type=iou_type, crowd_p=0.2)
    if not res:
        return
    if seed % 3:  # with a bbox per result (mmdetection / detectron2 files)
        for r in res:
            if iou_type == "segm":
                r["bbox"] = [float(v) for v in mask_utils.toBbox(r["segmentation"])]
            else:
                kp = np.array(r["keypoints"]).reshape(-1, 3)
                r["bbox"] = [float(kp[:, 0].min()), float(kp[:, 1].min()), 3.0, 4.0]
    gp, rp = tmp_path / "gt.json", tmp_path / "res.json"
    gp.write_text(json.dumps(gt))
    rp.write_text(json.dumps(res))
    g = load_ground_truth(gp, iou_type=iou_type, compat=True)
    d = load_results(rp, g, iou_type=iou_type, compat=True)
    if iou_type == "segm":
        assert isinstance(d.segm, RleColumn)  # the columnar reader took it
    ref = pycocotools_eval(gt, res, iou_type)
    ours = coco_evaluate(gp, rp, iou_type=iou_type, compat="pycocotools")
    for k in ("precision", "recall", "scores"):
        assert np.array_equal(ref.eval[k], ours.arrays[k]), k
    assert np.array_equal(np.asarray(ref.stats), ours.arrays["stats"])


def test_rle_json_reader_unescapes_and_falls_back():
    """A backslash in RLE counts is written '\\\\' in JSON; anything unusual (polygons,
    other keys, a bad alphabet, counts not summing to h * w) returns status 1."""
    rng = np.random.default_rng(0)
    found = None
    for _ in range(2000):  # find a mask whose counts contain a backslash
        m = (rng.random((40, 40)) < rng.random()).astype(np.uint8)
        rle = mask_utils.encode(np.asfortranarray(m))
        if b"\\" in rle["counts"]:
            found = rle
            break
    assert found is not None
    good = {"size": [40, 40], "counts": found["counts"].decode()}
    for seg, ok in [
        (good, True),
        ({"counts": good["counts"], "size": [40, 40]}, True),
        ({"size": [40, 41], "counts": good["counts"]}, False),
        ({"size": [40, 40], "counts": good["counts"], "x": 1}, False),
        ([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], False),
        ({"size": [40, 40], "counts": [1600]}, False),
    ]:
        doc = json.dumps([{"segmentation": seg}]).encode()
        buf = np.frombuffer(doc, dtype=np.uint8)
        a, b = doc.index(b"segmentation") + len(b"segmentation") + 3, len(doc) - 2
        cs, size, area, box, st = coco_native.NATIVE.rle_json_spans(buf, np.array([[a, b]]))
        assert (st == 0) == ok, seg
        if ok:
            from visionbench.metrics.detection.coco_columns import RleColumn

            col = RleColumn(buf, np.frombuffer(cs, np.int64)[:2], np.frombuffer(size, np.int64)[:2])
            assert col[0]["counts"] == found["counts"] and col[0]["size"] == [40, 40]
            assert np.frombuffer(area, np.float64)[0] == mask_utils.area(found)
            assert np.array_equal(np.frombuffer(box, np.float64)[:4], mask_utils.toBbox(found))
