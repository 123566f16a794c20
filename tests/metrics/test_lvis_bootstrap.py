"""LVIS bootstrap replicates equal full evaluations of the resampled sets built explicitly.

A replicate with draw counts ``w`` must equal ``LvisEvaluator.compute()`` on the set where
image ``i`` appears ``w_i`` times (copies under new ids in the order of the original ids,
adjacent, each with the image's annotations, results, ``neg_category_ids`` and
``not_exhaustive_category_ids``), bit for bit, with both kernels -- on random cases with
tied scores, categories of all three frequency groups (APr / APc / APf average only their
group), ignore flags, images over the ``max_dets`` cut and empty images.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import warnings

import numpy as np
import pytest

from tests.metrics.test_lvis import lvis_problem, lvis_reference
from visionbench.metrics.bootstrap import sample_table
from visionbench.metrics.detection import coco_bootstrap as CB
from visionbench.metrics.detection.lvis import LvisEvaluator, lvis_evaluate
from visionbench.metrics.sample_tables import table_from_arrays


@pytest.fixture(params=["c", "numba"])
def coco_kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with the C kernel, then with the numba one (``VISIONBENCH_COCO_KERNELS=numba``
    at import time does the same: ``NATIVE`` is None)."""
    if request.param == "c" and CB.NATIVE is None:
        pytest.skip("the C extension _bootstrap_ext is not built")
    if request.param == "numba":
        monkeypatch.setattr(CB, "NATIVE", None)
    return request.param


def _same(a: float, b: float) -> bool:
    return a == b or (np.isnan(a) and np.isnan(b))


def _assert_row(reps: dict[str, np.ndarray], j: int, ref: dict[str, float]) -> None:
    assert list(reps) == list(ref), (list(reps), list(ref))
    for k, v in ref.items():
        assert _same(reps[k][j], v), (k, j, reps[k][j], v)


def _problem(rng: np.random.Generator, n_img: int) -> tuple[dict, list]:
    """An LVIS problem with every frequency group present (most seeds), an empty image,
    and many results on some images (over small ``max_dets`` cuts)."""
    gt, res = lvis_problem(rng, n_img=n_img, max_dt=int(rng.choice([12, 20])))
    cats = gt["categories"]
    if rng.random() < 0.8 and len(cats) >= 3:  # r, c and f each at least once
        freq = ["r", "c", "f"] + [str(x) for x in rng.choice(["r", "c", "f"], len(cats) - 3)]
        for c, f in zip(cats, rng.permutation(freq)):
            c["frequency"] = str(f)
    new_id = max(im["id"] for im in gt["images"]) + 1  # an image with nothing on it
    gt["images"].append({"id": new_id, "height": 48, "width": 64, "neg_category_ids": [3],
                         "not_exhaustive_category_ids": []})  # fmt: skip
    return gt, res


def _duplicated(gt: dict, res: list, counts: dict[int, int]) -> tuple[dict, list]:
    """Image ``i`` ``counts[i]`` times under new ids 1.. in the order of the old ids (copies
    adjacent), with its annotations (new ids), results (their order) and LVIS lists."""
    images, anns, out = [], [], []
    by_id = {im["id"]: im for im in gt["images"]}
    nid = aid = 1
    for i in sorted(counts):
        for _ in range(counts[i]):
            images.append({**copy.deepcopy(by_id[i]), "id": nid})
            for a in gt["annotations"]:
                if a["image_id"] == i:
                    anns.append({**copy.deepcopy(a), "image_id": nid, "id": aid})
                    aid += 1
            out += [{**copy.deepcopy(r), "image_id": nid} for r in res if r["image_id"] == i]
            nid += 1
    return {**gt, "images": images, "annotations": anns}, out


def _fed_evaluator(gt: dict, res: list, max_dets: int) -> LvisEvaluator:
    """An ``LvisEvaluator`` fed image by image through ``update`` (the run path)."""
    freq = {c["id"]: c["frequency"] for c in gt["categories"]}
    ev = LvisEvaluator([c["id"] for c in gt["categories"]], freq, max_dets=max_dets)
    for im in gt["images"]:
        iid = im["id"]
        anns = [a for a in gt["annotations"] if a["image_id"] == iid]
        dts = [r for r in res if r["image_id"] == iid]
        ev.update(
            image_id=iid,
            gt_boxes=np.array([a["bbox"] for a in anns], np.float64).reshape(-1, 4),
            gt_labels=[a["category_id"] for a in anns],
            dt_boxes=np.array([r["bbox"] for r in dts], np.float64).reshape(-1, 4),
            dt_labels=[r["category_id"] for r in dts],
            dt_scores=[r["score"] for r in dts],
            box_format="xywh",
            gt_area=[a["area"] for a in anns],
            gt_ann_ids=[a["id"] for a in anns],
            gt_ignore=[bool(a.get("ignore", 0)) for a in anns],
            neg_category_ids=im["neg_category_ids"],
            not_exhaustive_category_ids=im["not_exhaustive_category_ids"],
        )
    return ev


def _weights(rng: np.random.Generator, n: int, b: int = 4) -> np.ndarray:
    w = rng.multinomial(n, np.ones(n) / n, size=b).astype(np.int64)
    w[0] = 0
    w[0, rng.integers(n)] = 3  # one image three times (tie groups replayed per copy)
    w[1] = rng.integers(0, 4, n)
    return w


@pytest.mark.parametrize("seed", range(40))
def test_lvis_replicate_equals_duplicated_evaluation(seed: int, coco_kernel: str) -> None:
    rng = np.random.default_rng(seed)
    gt, res = _problem(rng, int(rng.integers(3, 9)))
    max_dets = int(rng.choice([3, 7, 300]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "empty results" of some duplicated sets
        # half the seeds: the file-pair path (bench eval), the others: update per image
        if seed % 2:
            full = lvis_evaluate(gt, res, max_dets=max_dets)
        else:
            full = _fed_evaluator(gt, res, max_dets).compute()
        assert full.evaluator is not None
        table = sample_table(full.evaluator)
        assert table.names == list(full.metrics)
        ones = table.metrics(np.ones((1, len(table)), np.int64))
        _assert_row(ones, 0, full.metrics)
        w = _weights(rng, len(table))
        reps = table.metrics(w)
        for j in range(len(w)):
            counts = {int(i): int(c) for i, c in zip(table.sample_ids, w[j]) if c}
            g2, r2 = _duplicated(gt, res, counts)
            want = _fed_evaluator(g2, r2, max_dets).compute().metrics
            _assert_row(reps, j, want)
            if seed < 10 and j < 2 and r2:  # and lvis-api's LVISEval on that set, directly
                ref = lvis_reference(g2, r2, "bbox", max_dets).results  # (names AR@300)
                got = [reps[k][j] for k in want]
                assert all(_same(a, np.nan if b == -1 else b)
                           for a, b in zip(got, ref.values())), (got, ref)  # fmt: skip


def test_lvis_problems_cover_the_cases() -> None:
    """The random cases above do hold what they are meant to test."""
    seen = {"cut": 0, "ties": 0, "ignore": 0, "nel": 0, "all_groups": 0, "nan_group": 0}
    for seed in range(40):
        rng = np.random.default_rng(seed)
        gt, res = _problem(rng, int(rng.integers(3, 9)))
        max_dets = int(rng.choice([3, 7, 300]))
        per = np.bincount([r["image_id"] for r in res]) if res else np.zeros(1)
        seen["cut"] += int(per.max() > max_dets)
        keys = [(r["image_id"], r["category_id"], r["score"]) for r in res]
        seen["ties"] += int(len(set(keys)) < len(keys))
        seen["ignore"] += int(any(a.get("ignore") for a in gt["annotations"]))
        seen["nel"] += int(any(im["not_exhaustive_category_ids"] for im in gt["images"]))
        seen["all_groups"] += int({c["frequency"] for c in gt["categories"]} == {"r", "c", "f"})
        m = lvis_evaluate(gt, res, max_dets=max_dets).metrics
        seen["nan_group"] += int(any(np.isnan(m[k]) for k in ("APr", "APc", "APf")))
    assert all(v >= 5 for v in seen.values()), seen


@pytest.mark.parametrize("seed", range(4))
def test_lvis_c_kernel_equals_numba_kernel(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # larger sets: several 32-lane passes (one partial), lanes with different categories
    # of a group defined, draw counts up to 6
    if CB.NATIVE is None:
        pytest.skip("the C extension _bootstrap_ext is not built")
    rng = np.random.default_rng(200 + seed)
    gt, res = _problem(rng, int(rng.integers(15, 40)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = sample_table(lvis_evaluate(gt, res).evaluator)
        n = len(table)
        w = np.concatenate(
            [rng.multinomial(n, np.ones(n) / n, size=60), rng.integers(0, 7, size=(10, n))]
        ).astype(np.int64)
        w[3] = 0
        w[3, :2] = 1  # two images: most categories undefined
        c = table.metrics(w)
        monkeypatch.setattr(CB, "NATIVE", None)
        nb = table._like(table.state).metrics(w)
    assert list(c) == list(nb)
    for k in nb:
        assert np.array_equal(c[k], nb[k], equal_nan=True), (k, c[k], nb[k])


def test_lvis_many_categories_c_kernel_equals_numba_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    # LVIS-sized category lists (1,203, most without gts or results): the C kernel keeps
    # only the categories some replicate defines, the numba one runs in chunks of fewer
    # than 32 replicates (their [A, T, R, K] arrays bounded); both equal, and all-ones
    # equals the evaluation
    if CB.NATIVE is None:
        pytest.skip("the C extension _bootstrap_ext is not built")
    rng = np.random.default_rng(300)
    gt, res = _problem(rng, 12)
    have = {c["id"] for c in gt["categories"]}
    groups = ["r", "c", "f"]
    gt["categories"] += [
        {"id": int(i), "name": f"x{i}", "frequency": groups[i % 3]}
        for i in range(1, 1300)
        if i not in have
    ][: 1203 - len(have)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = lvis_evaluate(gt, res)
        table = sample_table(full.evaluator)
        assert len(table.cat_ids) == 1203
        n = len(table)
        w = np.concatenate([np.ones((1, n)), rng.integers(0, 4, size=(9, n))]).astype(np.int64)
        c = table.metrics(w)
        _assert_row(c, 0, full.metrics)
        monkeypatch.setattr(CB, "NATIVE", None)
        ref = table._like(table.state)
        nb = ref.metrics(w)
        assert len(ref._buffers[0]) < 10  # several chunks, the last one partial
    for k in nb:
        assert np.array_equal(c[k], nb[k], equal_nan=True), (k, c[k], nb[k])


def test_lvis_table_round_trip_take_and_stacked(tmp_path, coco_kernel: str) -> None:
    """A stored table reads back with LVIS's stats; ``take`` and ``stacked`` (paired tests)
    keep them: each equals the evaluation of the image set it stands for."""
    rng = np.random.default_rng(5)
    gt, res = _problem(rng, 8)
    _, res_b = lvis_problem(np.random.default_rng(6), n_img=8)  # another run's results
    ids = sorted(im["id"] for im in gt["images"])
    res_b = [{**r, "image_id": ids[i % len(ids)]} for i, r in enumerate(res_b)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ta = sample_table(lvis_evaluate(gt, res).evaluator)
        tb = sample_table(lvis_evaluate(gt, res_b).evaluator)
        np.savez(tmp_path / "t.npz", **ta.to_arrays())
        with np.load(tmp_path / "t.npz", allow_pickle=False) as d:
            back = table_from_arrays({k: d[k] for k in d.files})
        assert back.names == ta.names and back.specs == ta.specs
        assert np.array_equal(back.cat_group, ta.cat_group)
        w = _weights(rng, len(ta))
        want = ta.metrics(w)
        got = back.metrics(w)
        for k in want:
            assert np.array_equal(want[k], got[k], equal_nan=True), k
        # take: a subset of the images
        pos = np.array([0, 2, 3, 6])
        sub = ta.take(pos)
        keep = set(ta.sample_ids[pos].tolist())
        g_sub = {**gt, "images": [im for im in gt["images"] if im["id"] in keep],
                 "annotations": [a for a in gt["annotations"] if a["image_id"] in keep]}  # fmt: skip
        r_sub = [r for r in res if r["image_id"] in keep]
        _assert_row(sub.metrics(np.ones((1, 4), np.int64)), 0, lvis_evaluate(g_sub, r_sub).metrics)
        # stacked: per image, run A's results or run B's (ids 2 id and 2 id + 1)
        pick = rng.integers(0, 2, len(ta))
        sw = np.concatenate([pick == 0, pick == 1]).astype(np.int64)[None, :]
        got = ta.stacked(tb).metrics(sw)
        images, anns, rr = [], [], []
        for i, iid in enumerate(ta.sample_ids.tolist()):
            nid = 2 * iid + int(pick[i])
            im = next(x for x in gt["images"] if x["id"] == iid)
            images.append({**im, "id": nid})
            anns += [{**a, "image_id": nid} for a in gt["annotations"] if a["image_id"] == iid]
            rr += [{**r, "image_id": nid} for r in (res, res_b)[pick[i]] if r["image_id"] == iid]
        ref = lvis_evaluate({**gt, "images": images, "annotations": anns}, rr).metrics
        _assert_row(got, 0, ref)


@pytest.mark.parametrize("kernels", ["", "numba"])
def test_bench_eval_lvis_record_has_intervals_and_worst(tmp_path, kernels: str) -> None:
    """``bench eval --dataset lvis``: the record's headline metrics carry ``ci`` (B as
    given), its stored table scores the record's values, and the per-image analysis is
    there (the evaluator travels with the result); with either bootstrap kernel."""
    from tests.loaders.test_lvis import _write
    from visionbench.engine.intervals import load_sample_table

    _write(tmp_path, seed=4, n_img=10)
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="200")
    env["VISIONBENCH_COCO_KERNELS"] = kernels
    cmd = ["bench", "eval", "--dataset", "lvis", "--data-root", str(tmp_path), "--bootstrap", "50"]
    cmd += ["--predictions", str(tmp_path / "res.json"), "--results", str(tmp_path / "out")]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "no confidence intervals" not in p.stderr and "left out" not in p.stderr, p.stderr
    rec = json.loads(next((tmp_path / "out" / "records").glob("*.json")).read_text())
    headline = rec["protocol"]["headline"]
    assert set(headline) >= {"AP", "APr", "APc", "APf", "AR@300"}
    n_ci = 0
    for name in headline:
        m = rec["metrics"][name]
        if m.get("value") is None:
            assert "ci" not in m, name
            continue
        ci = m["ci"]
        assert ci["B"] == 50 and ci["method"] == "percentile-bootstrap", name
        assert ci["low"] <= ci["high"], name
        n_ci += 1
    assert n_ci >= 5, rec["metrics"]
    worst = rec["analysis"]["worst"]
    assert worst["by"] == "F1@0.5" and worst["samples"], worst
    assert "threshold_sweep" in rec["analysis"]
    table = load_sample_table(rec, root=tmp_path / "out")
    ones = table.metrics(np.ones((1, len(table)), np.int64))
    for name in headline:
        v = rec["metrics"][name]["value"]
        assert (v is None and np.isnan(ones[name][0])) or ones[name][0] == v, name


def test_run_path_evaluator_gives_the_file_paths_intervals(tmp_path) -> None:
    """The run path (per-sample predictions fed to the protocol's ``LvisEvaluator``) and
    the file pair (``lvis_evaluate``) keep the same images and statistics: the same
    intervals in the record, and the per-image analysis from the result's evaluator."""
    from tests.loaders.test_lvis import _write
    from visionbench.engine.analysis import build_analysis
    from visionbench.engine.intervals import attach_intervals
    from visionbench.metrics.bootstrap import bootstrap_intervals
    from visionbench.protocols.base import Protocol
    from visionbench.protocols.lvis import LvisProtocol
    from visionbench.registry import datasets

    _write(tmp_path, seed=8, n_img=12)
    ds = datasets.get("lvis")(root=str(tmp_path))
    proto = LvisProtocol(ds.label_space, dataset=ds)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no confidence intervals" / "left out" warning
        run = Protocol.evaluate_file(proto, tmp_path / "res.json", ds)  # via update()
        assert isinstance(run.evaluator, LvisEvaluator)
        file = proto.evaluate_file(tmp_path / "res.json", ds)  # lvis_evaluate
        headline = proto.headline_metrics()
        record = {
            "run_id": "lvis-run",
            "metrics": {k: {"value": None if np.isnan(v) else v} for k, v in run.metrics.items()},
            "protocol": {"headline": headline},
        }
        attach_intervals(record, run.evaluator, root=tmp_path / "out", B=40)
        analysis = build_analysis(run, proto)
    want = bootstrap_intervals(file.evaluator, B=40, metrics=headline)
    for k in headline:
        assert _same(run.metrics[k], file.metrics[k]), k
        if record["metrics"][k]["value"] is not None and np.isfinite(want[k]["low"]):
            assert record["metrics"][k]["ci"] == want[k], k
    assert sum("ci" in m for m in record["metrics"].values()) >= 5
    assert analysis["worst"]["samples"] and analysis["threshold_sweep"]["per_class"]
