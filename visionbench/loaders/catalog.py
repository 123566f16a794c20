"""Built-in datasets: name -> ("module:factory", info).

A factory takes ``(root: str | None, split: str, **options)`` and returns a
:class:`~visionbench.tasks.Dataset`. ``root=None`` means "find it" (``--data-root``,
``VISIONBENCH_DATA``; the ``*-mini`` datasets are generated into the cache).

Each entry names its scoring ``protocol`` (:mod:`visionbench.protocols`; optional
``protocol_options`` defaults) and declares the factory's ``options`` (typed, reachable
from the CLI as ``-D KEY=VALUE``; ``bench describe NAME`` lists them).
"""

from __future__ import annotations

from typing import Any

from visionbench.options import Option

_YEAR = Option("year", "int", 2017, "COCO release year of a split named without one (val)",
               choices=(2014, 2017))  # fmt: skip
_DANGLING = Option("drop_dangling", "bool", False,
                   "drop annotations of missing images with a warning (--lenient)")  # fmt: skip
_MASKS = Option("masks", "bool", False, "give each target its RLE masks (needed by segm)")
_CS_SPACE = Option("label_space", "str", "cityscapes34",
                   "cityscapes34: labelIds, Cityscapes protocol; cityscapes19: trainIds, "
                   "confusion-matrix protocol", choices=("cityscapes34", "cityscapes19"))  # fmt: skip
_UNPAIRED = Option("drop_unpaired", "bool", False,
                   "drop images without their annotation file with a warning (--lenient)")  # fmt: skip
_VOC_YEAR = Option("year", "int", 2007, "VOCdevkit year folder of voc-mini (2012: all-point AP)",
                   choices=(2007, 2012))  # fmt: skip
_VG = (
    Option("target", "str", "scene_graph", "scene_graph, or regions (region-description captions)",
           choices=("scene_graph", "regions")),
    Option("source", "str", "relationships", "relationships.json or scene_graphs.json",
           choices=("relationships", "scene_graphs")),
    Option("vocabulary", "str", "vg150", "object/predicate vocabulary (vg150), or none: raw names",
           nullable=True),
    Option("aliases", "bool", False, "apply VG's object/relationship alias files"),
    Option("skip_image_ids", "ints", (1592, 1722, 4616, 4617), "image ids left out (corrupt in VG)"),
    Option("image_dir", "path", None, "image folder (default: VG_100K* under the root)",
           nullable=True),
    Option("cache", "bool", True, "parse once into the Arrow cache"),
)  # fmt: skip

_HF = (
    Option("task", "str", None, "classification, detection or semantic_segmentation "
           "(default: from the columns)", nullable=True,
           choices=(None, "classification", "detection", "semantic_segmentation")),
    Option("image", "str", "image", "image column"),
    Option("label", "str", None, "ClassLabel column (default label / labels)", nullable=True),
    Option("objects", "str", "objects", "detection: objects column"),
    Option("bbox", "str", "bbox", "detection: box field of the objects"),
    Option("category", "str", "category", "detection: ClassLabel field of the objects"),
    Option("annotation", "str", None, "segmentation: label-image column (default annotation "
           "/ label)", nullable=True),
    Option("bbox_format", "str", "xywh", "detection boxes: xywh (COCO, Hub default) or xyxy",
           choices=("xywh", "xyxy")),
    Option("num_classes", "int", None, "segmentation classes (default: largest id + 1)",
           nullable=True),
    Option("name", "str", None, "dataset name for the record (default hf:<folder>)",
           nullable=True),
)  # fmt: skip

DATASETS: dict[str, tuple[str, dict[str, Any]]] = {
    "imagenet-mini": (
        "visionbench.loaders.mini:imagenet_mini",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "split": "val",
            "protocol": "imagenet",
            "description": "built-in: 10 ImageNet classes drawn as shapes, devkit layout",
        },
    ),
    "imagenet": (
        "visionbench.loaders.factories:imagenet",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "split": "val",
            "protocol": "imagenet",
            "options": (
                Option(
                    "layout",
                    "str",
                    "auto",
                    "on-disk layout (auto: detected)",
                    choices=("auto", "folder", "devkit", "kaggle"),
                ),
                Option("real_labels", "path", None, "real.json of ImageNet-ReaL", nullable=True),
            ),  # fmt: skip
            "description": "ILSVRC2012 val: <root>/val/<wnid>/*.JPEG, flat val + devkit meta.mat, or "
            "Kaggle LOC_val_solution.csv (option layout=auto|folder|devkit|kaggle; "
            "real_labels=real.json for ImageNet-ReaL)",
        },
    ),
    "imagenetv2": (
        "visionbench.loaders.factories:imagenetv2",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "split": "matched-frequency",
            "protocol": "imagenet",
            "description": "ImageNetV2, <root>/<class index 0..999>/*.jpeg",
        },
    ),
    "coco": (
        "visionbench.loaders.factories:coco",
        {
            "task": "detection",
            "label_space": "coco91",
            "split": "val2017",
            "protocol": "coco",
            "options": (_YEAR, _MASKS, _DANGLING),
            "description": "COCO instances, <root>/annotations/instances_<split>.json + <root>/<split>/ "
            "(2014/2017; option masks=True for RLE masks, drop_dangling=True)",
        },
    ),
    "lvis": (
        "visionbench.loaders.factories:lvis",
        {
            "task": "detection",
            "label_space": "lvis_v1",
            "split": "val",
            "protocol": "lvis",
            "options": (
                _MASKS,
                Option(
                    "image_root",
                    "path",
                    None,
                    "folder of the COCO 2017 images (default: the LVIS root)",
                    nullable=True,
                ),
            ),  # fmt: skip
            "description": "LVIS v1, <root>/annotations/lvis_v1_<split>.json + COCO 2017 images "
            "<root>/{train,val}2017/ (federated AP, APr/APc/APf, 300 dets/image; option "
            "masks=True for segm, image_root=DIR for the COCO images)",
        },
    ),
    "yolo": (
        "visionbench.loaders.factories:yolo",
        {
            "task": "detection",
            "label_space": "coco91 or the yaml's names",
            "split": "val",
            "protocol": "coco",
            "options": (),
            "description": "ultralytics/YOLO: data.yaml + images/ + labels/*.txt (class cx cy w h); "
            "COCO names map to COCO ids; --predictions a folder of YOLO txt or COCO JSON",
        },
    ),
    "coco-captions": (
        "visionbench.loaders.factories:coco_captions",
        {
            "task": "captioning",
            "label_space": "text",
            "split": "val2017",
            "protocol": "coco-caption",
            "options": (_YEAR, _DANGLING),
            "description": "COCO captions, <root>/annotations/captions_<split>.json",
        },
    ),
    "coco-keypoints": (
        "visionbench.loaders.factories:coco_keypoints",
        {
            "task": "detection",
            "label_space": "coco91",
            "split": "val2017",
            "protocol": "coco",
            "protocol_options": {"iou_type": "keypoints"},
            "options": (_YEAR, _DANGLING),
            "description": "COCO person keypoints, <root>/annotations/person_keypoints_<split>.json",
        },
    ),
    "coco-mini": (
        "visionbench.loaders.mini:coco_mini",
        {
            "task": "detection",
            "label_space": "coco91",
            "split": "val2017",
            "protocol": "coco",
            "options": (_MASKS,),
            "description": "built-in: shapes with COCO category ids, instances_val2017.json format",
        },
    ),
    "coco-mini-captions": (
        "visionbench.loaders.mini:coco_mini_captions",
        {
            "task": "captioning",
            "label_space": "text",
            "split": "val2017",
            "protocol": "coco-caption",
            "description": "built-in: templated captions of coco-mini, captions_val2017.json format",
        },
    ),
    "cityscapes": (
        "visionbench.loaders.factories:cityscapes",
        {
            "task": "semantic_segmentation",
            "label_space": "cityscapes34",
            "split": "val",
            "protocol": "cityscapes",
            "options": (
                _CS_SPACE,
                Option("instances", "bool", True, "read instanceIds (needed by iIoU)"),
                Option(
                    "drop_unpaired",
                    "bool",
                    False,
                    "drop images without gt files with a warning (--lenient)",
                ),
            ),  # fmt: skip
            "description": "Cityscapes, <root>/leftImg8bit/<split>/<city>/ + gtFine labelIds/instanceIds "
            "(option label_space=cityscapes19 for trainIds)",
        },
    ),
    "cityscapes-mini": (
        "visionbench.loaders.mini:cityscapes_mini",
        {
            "task": "semantic_segmentation",
            "label_space": "cityscapes34",
            "split": "val",
            "protocol": "cityscapes",
            "options": (_CS_SPACE,),
            "description": "built-in: drawn street scenes with real Cityscapes label ids",
        },
    ),
    "vg-mini": (
        "visionbench.loaders.visual_genome:vg_mini",
        {
            "task": "scene_graph",
            "label_space": "vg150",
            "split": "all",
            "protocol": "scene-graph",
            "options": _VG,
            "description": "built-in: drawn scene graphs in VG v1.4 files; splits all, train (first "
            "70% of the images), test (option target='regions' for region descriptions)",
        },
    ),
    "vg": (
        "visionbench.loaders.visual_genome:visual_genome",
        {
            "task": "scene_graph",
            "label_space": "vg150",
            "split": "all",
            "protocol": "scene-graph",
            "options": _VG,
            "description": "Visual Genome v1.0/1.2/1.4 release files (objects.json, relationships.json, "
            "...) + VG_100K/; option target='regions' for region descriptions",
        },
    ),
    "vg150": (
        "visionbench.loaders.vg150:vg150",
        {
            "task": "scene_graph",
            "label_space": "vg150",
            "split": "test",
            "protocol": "scene-graph",
            "options": (
                Option("num_val_im", "int", 5000, "images of the val split taken from train"),
                Option("filter_empty_rels", "bool", True, "drop images without relations"),
                Option("filter_duplicate_rels", "bool", False, "train: one predicate per pair"),
                Option("seed", "int", 0, "seed of filter_duplicate_rels"),
                Option("h5_file", "str", "VG-SGG-with-attri.h5", "the split's h5 file"),
                Option("dict_file", "str", "VG-SGG-dicts-with-attri.json", "the vocabulary file"),
                Option("image_file", "str", "image_data.json", "image metadata file"),
                Option(
                    "image_dir",
                    "path",
                    None,
                    "image folder (default: VG_100K under the root)",
                    nullable=True,
                ),
            ),  # fmt: skip
            "description": "VG-150 split: VG-SGG-with-attri.h5 + VG-SGG-dicts-with-attri.json + "
            "image_data.json + VG_100K/",
        },
    ),
    "voc2007": (
        "visionbench.loaders.factories:voc2007",
        {
            "task": "detection",
            "label_space": "voc20",
            "split": "test",
            "protocol": "voc",
            "protocol_options": {"ap_method": "11point"},
            "options": (_UNPAIRED,),
            "description": "Pascal VOC2007 detection, <root>/VOCdevkit/VOC2007/Annotations/*.xml + "
            "ImageSets/Main/<split>.txt + JPEGImages/; 11-point AP at IoU 0.5, difficult ignored",
        },
    ),
    "voc2012": (
        "visionbench.loaders.factories:voc2012",
        {
            "task": "detection",
            "label_space": "voc20",
            "split": "val",
            "protocol": "voc",
            "protocol_options": {"ap_method": "allpoint"},
            "options": (_UNPAIRED,),
            "description": "Pascal VOC2012 detection, <root>/VOCdevkit/VOC2012/...; all-point AP at "
            "IoU 0.5, difficult ignored",
        },
    ),
    "voc-mini": (
        "visionbench.loaders.mini:voc_mini",
        {
            "task": "detection",
            "label_space": "voc20",
            "split": "test",
            "protocol": "voc",
            "protocol_options": {"ap_method": "11point"},
            "options": (_VOC_YEAR,),
            "description": "built-in: 20 VOC classes drawn as shapes, VOCdevkit layout (option "
            "year=2012 for the VOC2012 folder, scored all-point)",
        },
    ),
    "ade20k": (
        "visionbench.loaders.factories:ade20k",
        {
            "task": "semantic_segmentation",
            "label_space": "ade150",
            "split": "validation",
            "protocol": "semantic",
            "protocol_options": {"reduce_zero_label": True},
            "options": (_UNPAIRED,),
            "description": "ADE20K SceneParsing, <root>/ADEChallengeData2016/images|annotations/"
            "<split>/; 150 classes, 0 = other not evaluated (reduce_zero_label)",
        },
    ),
    "ade20k-mini": (
        "visionbench.loaders.mini:ade20k_mini",
        {
            "task": "semantic_segmentation",
            "label_space": "ade150",
            "split": "validation",
            "protocol": "semantic",
            "protocol_options": {"reduce_zero_label": True},
            "options": (),
            "description": "built-in: drawn indoor/outdoor scenes with ADE20K label values, "
            "ADEChallengeData2016 layout",
        },
    ),
}

#: ``<prefix><spec>`` names: the factory gets ``spec`` first (``hf:PATH``).
PREFIXES: dict[str, tuple[str, dict[str, Any]]] = {
    "hf:": (
        "visionbench.loaders.hf_common:hf_dataset",
        {
            "task": "from the columns",
            "label_space": "imagenet1k / coco91 / own",
            "split": "",
            "options": _HF,
            "description": "a Hugging Face dataset: save_to_disk folder or Parquet files, Hub "
            "schemas (image+label, image+objects{bbox,category}, image+annotation); options: "
            "task, image, label, objects, bbox, category, annotation, bbox_format, num_classes",
        },
    ),
}
