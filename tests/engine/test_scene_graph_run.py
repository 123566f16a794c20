"""Scene graphs through the engine: PredCls hands the ground-truth objects to the model."""

from __future__ import annotations

import pytest

from visionbench.engine.run import RunOptions, run
from visionbench.errors import RunError
from visionbench.metrics.scene_graph import SceneGraphEvaluator
from visionbench.models.scene_graph_freq import FreqPredictor, build_freq, compute_freq_statistics
from visionbench.registry import datasets


@pytest.fixture(scope="module")
def vg_mini():
    return datasets.get("vg-mini")(root=None, split="all")


def test_freq_predcls_through_the_engine_equals_direct_composition(tmp_path, vg_mini):
    gt = vg_mini.ground_truth()
    stats = compute_freq_statistics(gt.targets[: len(gt) // 2])
    stats_file = tmp_path / "freq.npz"
    stats.save(stats_file)

    record, _ = run(
        build_freq(str(stats_file)), vg_mini,
        RunOptions(results=tmp_path, workers=0, batch_size=4, progress=False, sg_mode="predcls", command=["t"]),
    )  # fmt: skip

    # the same thing without the engine: FREQ on the gt objects, scored image by image
    predictor = FreqPredictor(stats, overlap=False)
    ev = SceneGraphEvaluator(num_predicates=50, mode="predcls")
    for sid, t in zip(gt.sample_ids, gt.targets):
        p = predictor.predict_graph(t.boxes, t.labels, sample_id=sid)
        ev.update(
            gt_boxes=t.boxes,
            gt_labels=t.labels,
            gt_relations=t.relations,
            pred_boxes=p.boxes,
            pred_labels=p.labels,
            pred_scores=p.scores,
            rel_pairs=p.rel_pairs,
            rel_scores=p.rel_scores,
        )
    direct = ev.compute()
    for k in ("R@20", "R@50", "R@100", "mR@50", "ngR@50"):
        assert record["metrics"][k]["value"] == pytest.approx(direct.metrics[k], abs=0), k
    assert "mode=predcls" in record["metrics"]["R@50"]["signature"]
    assert record["metrics"]["R@100"]["value"] > 0.3  # geometry decides vg-mini's predicates


def test_bad_sg_mode_is_refused(tmp_path, vg_mini):
    with pytest.raises(RunError, match="sg_mode must be predcls, sgcls or sgdet"):
        run(
            build_freq("random"),
            vg_mini,
            RunOptions(results=tmp_path, workers=0, progress=False, sg_mode="x"),
        )
