"""Timings of a run's loop: data wait, preprocess (in the workers), forward, postprocess
and metric per batch; the first ``warmup`` batches excluded from the steady-state numbers."""

from __future__ import annotations

from typing import Any

__all__ = ["LoopTimings", "merge_timings"]


class LoopTimings:
    """Per-batch seconds, summarised by :meth:`as_dict` for the run record."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.rows: list[tuple[int, float, float, float, float, float]] = []

    def add(self, n: int, wait: float, pre: float, fwd: float, post: float, metric: float) -> None:
        self.rows.append((n, wait, pre, fwd, post, metric))

    def as_dict(self, wall: float) -> dict[str, Any]:
        """Timings of the loop. ``end_to_end_img_s``: samples / wall time of the whole
        loop (data loading included, every batch); ``throughput_img_s``: steady-state
        model throughput (samples / (data wait + forward + postprocess + metric) over the
        batches after the warm-up; None when every batch was warm-up)."""
        n_all = sum(r[0] for r in self.rows)
        rows = self.rows[self.warmup :] if len(self.rows) > self.warmup else []
        n = sum(r[0] for r in rows)
        tot = [sum(r[i] for r in rows) for i in range(1, 6)]
        steady = tot[0] + tot[2] + tot[3] + tot[4]
        return {
            "wall_s": wall,
            "samples": n_all,
            "end_to_end_img_s": (n_all / wall) if wall > 0 and n_all else None,
            "batches": len(self.rows),
            "warmup_batches": min(self.warmup, len(self.rows)),
            "timed_samples": n,
            "data_wait_s": tot[0],
            "preprocess_s_worker": tot[1],
            "forward_s": tot[2],
            "postprocess_s": tot[3],
            "metric_s": tot[4],
            "throughput_img_s": (n / steady) if steady > 0 else None,
            "forward_ms_per_img": (1000 * tot[2] / n) if n else None,
        }


def merge_timings(per_rank: list[dict[str, Any]]) -> dict[str, Any]:
    """One rank's timings as they are; several ranks': ``per_rank`` plus the slowest
    wall time, the summed samples and the summed steady-state throughput."""
    if len(per_rank) == 1:
        return per_rank[0]
    out: dict[str, Any] = {"per_rank": per_rank, "wall_s": max(t["wall_s"] for t in per_rank)}
    out["samples"] = sum(t.get("samples") or 0 for t in per_rank)
    out["end_to_end_img_s"] = out["samples"] / out["wall_s"] if out["wall_s"] > 0 else None
    tp = [t["throughput_img_s"] for t in per_rank if t["throughput_img_s"]]
    out["throughput_img_s"] = sum(tp) if tp else None
    return out
