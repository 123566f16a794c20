"""COCO-caption protocol: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D and SPICE as pycocoevalcap
computes them (PTB tokenisation), and sacreBLEU, on the dataset's reference captions.

Options: ``tokenize`` (ptb: CoreNLP's Java tokenizer when Java is found, else the Python port;
ptb-java | ptb-py | none), ``meteor`` / ``spice`` (auto: whenever this machine can run the jar;
true: required; false: off), ``cider_d``, ``rouge_l``, ``sacrebleu_tokenize`` (sacreBLEU's,
default 13a), ``lowercase`` (sacreBLEU). ``bleuK``, METEOR, ROUGE-L and SPICE are fractions
0-1, CIDEr-D a score (x10 as pycocoevalcap), ``sacrebleu`` a 0-100 score.

Prediction files: COCO caption results JSON ``[{"image_id", "caption"}]``; ``bench export``
writes the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from visionbench.errors import AnnotationError, ContractError
from visionbench.protocols.base import MetricInfo, PerSample, Protocol, result_sample_ids
from visionbench.protocols.options import Option
from visionbench.protocols.prediction_files import check_exists, load_json, write_json
from visionbench.types import CaptionPrediction, Prediction, Target, Task

__all__ = ["CocoCaptionProtocol"]


class CocoCaptionProtocol(Protocol):
    name = "coco-caption"
    task = Task.CAPTIONING
    description = "COCO-caption BLEU-1..4 (pycocoevalcap) and sacreBLEU"
    options = (
        Option(
            "tokenize",
            "str",
            "ptb",
            "COCO-caption tokenisation (ptb: Java when found, else Python)",
            choices=("ptb", "ptb-java", "ptb-py", "none"),
        ),
        Option("cider_d", "bool", True, "CIDEr-D (pycocoevalcap's Cider)"),
        Option("rouge_l", "bool", True, "ROUGE-L (beta 1.2)"),
        Option("meteor", "str", "auto", "METEOR 1.5 (Java)", choices=("auto", "true", "false")),
        Option(
            "spice",
            "str",
            "auto",
            "SPICE (Java + CoreNLP models)",
            choices=("auto", "true", "false"),
        ),
        Option("sacrebleu_tokenize", "str", "13a", "sacreBLEU tokeniser"),
        Option("lowercase", "bool", False, "sacreBLEU: lowercase"),
    )
    headline = (
        "bleu4",
        "cider_d",
        "meteor",
        "rouge_l",
        "spice",
        "bleu1",
        "bleu2",
        "bleu3",
        "sacrebleu",
    )
    metrics = {
        "bleu*": MetricInfo("fraction"),
        "sacrebleu": MetricInfo("score"),
        "cider*": MetricInfo("unbounded"),
        "CIDEr*": MetricInfo("unbounded"),
        "meteor": MetricInfo("fraction"),
        "rouge*": MetricInfo("fraction"),
        "spice": MetricInfo("fraction"),
    }
    export_formats = ("coco-caption-json",)
    per_sample = PerSample(
        "cider_d", True, "the caption's CIDEr-D (pycocoevalcap's per-image score)"
    )

    def per_sample_scores(self, result: Any) -> Any:
        for name in ("cider_d", "bleu4"):
            scores = result.arrays.get(f"{name}_per_caption")
            if scores is not None:
                what = self.per_sample if name == "cider_d" else PerSample(
                    "bleu4", True, "the caption's BLEU-4 (COCO-caption convention)")  # fmt: skip
                return what, result_sample_ids(result, len(scores)), scores
        return None

    def build_evaluator(self) -> Any:
        from visionbench.metrics.captioning.evaluator import CaptionEvaluator

        o = self.opts
        flag = {"auto": "auto", "true": True, "false": False}
        return CaptionEvaluator(
            tokenize=o["tokenize"],
            cider_d=o["cider_d"],
            rouge_l=o["rouge_l"],
            meteor=flag[o["meteor"]],
            spice=flag[o["spice"]],
            sacrebleu_tokenize=o["sacrebleu_tokenize"],
            lowercase=o["lowercase"],
        )

    def update(
        self, evaluator: Any, predictions: Sequence[Prediction], targets: Sequence[Target]
    ) -> None:
        evaluator.update(
            predictions=[p.caption for p in predictions],
            targets=[list(t.captions) for t in targets],
        )

    def read_predictions(self, path: str | Path, gt: Any) -> list[Prediction]:
        p = check_exists(path)
        rows = load_json(p)
        by_id: dict[str, str] = {}
        for i, r in enumerate(rows if isinstance(rows, list) else []):
            if (
                not isinstance(r, dict)
                or "image_id" not in r
                or not isinstance(r.get("caption"), str)
            ):
                raise AnnotationError(
                    f"result {i} needs image_id and a string caption", path=str(p), id=i
                )
            by_id[str(r["image_id"])] = r["caption"]
        missing = [s for s in gt.sample_ids if str(s) not in by_id]
        if not isinstance(rows, list) or missing:
            raise AnnotationError(
                f"no caption for {len(missing)} images: {missing[:10]}",
                path=str(p),
                field="image_id",
            )
        return [CaptionPrediction(by_id[str(s)], sample_id=s) for s in gt.sample_ids]

    def write_predictions(
        self, predictions: Sequence[Prediction], path: str | Path, *, gt: Any = None,
        format: str | None = None,
    ) -> Path:  # fmt: skip
        if format not in (None, "coco-caption-json"):
            raise ContractError(f"protocol coco-caption writes coco-caption-json, not {format!r}")
        rows = [{"image_id": _json_id(p.sample_id), "caption": p.caption} for p in predictions]
        return write_json(rows, path)


def _json_id(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v
