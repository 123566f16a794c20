"""engine/timing.py: the loop's timings summarised with hand-computed values."""

from __future__ import annotations

import pytest

from visionbench.engine.timing import LoopTimings, merge_timings


def test_warmup_batches_are_left_out_of_the_steady_state_numbers():
    t = LoopTimings(warmup=1)
    t.add(4, wait=9.0, pre=9.0, fwd=9.0, post=9.0, metric=9.0)  # warm-up: ignored below
    t.add(4, wait=0.5, pre=2.0, fwd=1.0, post=0.25, metric=0.25)
    t.add(2, wait=0.5, pre=1.0, fwd=0.5, post=0.25, metric=0.0)
    d = t.as_dict(wall=50.0)
    assert d == {
        "wall_s": 50.0,
        "samples": 10,
        "end_to_end_img_s": 10 / 50.0,
        "batches": 3,
        "warmup_batches": 1,
        "timed_samples": 6,
        "data_wait_s": 1.0,
        "preprocess_s_worker": 3.0,
        "forward_s": 1.5,
        "postprocess_s": 0.5,
        "metric_s": 0.25,
        # 6 samples / (wait 1.0 + forward 1.5 + postprocess 0.5 + metric 0.25); the
        # workers' preprocess overlaps and is not counted
        "throughput_img_s": 6 / 3.25,
        "forward_ms_per_img": 1000 * 1.5 / 6,
    }


def test_only_warmup_batches_leave_throughput_unknown():
    t = LoopTimings(warmup=2)
    t.add(3, 0.1, 0.1, 0.1, 0.1, 0.1)
    d = t.as_dict(wall=0.0)
    assert d["warmup_batches"] == 1 and d["timed_samples"] == 0
    assert d["throughput_img_s"] is None and d["forward_ms_per_img"] is None
    assert d["end_to_end_img_s"] is None  # no wall time measured


def test_ranks_merge_to_the_slowest_wall_and_summed_rates():
    a = {"wall_s": 10.0, "samples": 30, "throughput_img_s": 6.0}
    b = {"wall_s": 12.0, "samples": 20, "throughput_img_s": None}
    c = {"wall_s": 8.0, "samples": 10, "throughput_img_s": 4.0}
    assert merge_timings([a]) is a
    m = merge_timings([a, b, c])
    assert m["per_rank"] == [a, b, c]
    assert m["wall_s"] == 12.0 and m["samples"] == 60
    assert m["end_to_end_img_s"] == pytest.approx(5.0)
    assert m["throughput_img_s"] == 10.0
