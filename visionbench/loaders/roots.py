"""Where each dataset lives on disk: ``--data-root``, ``$VISIONBENCH_DATA``, the config file.

Looked for, in order (:func:`find_root`):

1. the ``root`` argument (``--data-root DIR`` on the CLI): the dataset's own folder;
2. ``$VISIONBENCH_DATA/<name>`` (``VISIONBENCH_DATA`` may list several folders,
   separated by ``os.pathsep``);
3. the config file, ``[data]`` table, ``<name> = "path"``: ``$VISIONBENCH_HOME/config.toml``,
   then ``$XDG_CONFIG_HOME/visionbench/config.toml`` (default ``~/.config/visionbench/``)::

       [data]
       coco = "/data/coco"
       imagenet = "~/datasets/ILSVRC2012"

A dataset found nowhere stops with a :class:`~visionbench.errors.DatasetNotFoundError`
that lists every place looked, the layout expected (:data:`LAYOUT_HELP`) and where the
official files are published (nothing is ever downloaded).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from visionbench import paths
from visionbench.errors import AnnotationError, DatasetNotFoundError

__all__ = ["find_root", "read_config_data", "LAYOUT_HELP"]

#: name -> (expected layout, where the official files are published)
LAYOUT_HELP: dict[str, tuple[str, str]] = {
    "coco": (
        "<root>/annotations/instances_val2017.json (captions_, person_keypoints_) and "
        "<root>/val2017/*.jpg (2014: val2014/COCO_val2014_*.jpg)",
        "https://cocodataset.org/#download",
    ),
    "imagenet": (
        "<root>/val/<wnid>/*.JPEG, or flat <root>/val/ILSVRC2012_val_*.JPEG with "
        "<root>/ILSVRC2012_devkit_t12/data/{ILSVRC2012_validation_ground_truth.txt,meta.mat}, "
        "or the Kaggle layout <root>/LOC_val_solution.csv + <root>/ILSVRC/Data/CLS-LOC/val/",
        "https://image-net.org/ (ILSVRC2012; registration required)",
    ),
    "imagenetv2": (
        "<root>/0/ .. <root>/999/*.jpeg (folders named by class index)",
        "https://github.com/modestyachts/ImageNetV2",
    ),
    "lvis": (
        "<root>/annotations/lvis_v1_val.json and the COCO 2017 images <root>/train2017/, "
        "<root>/val2017/ (option image_root=DIR when the images live in your COCO folder)",
        "https://www.lvisdataset.org/dataset",
    ),
    "yolo": (
        "an ultralytics data.yaml (path, train/val, names) with images/<split>/ and "
        "labels/<split>/*.txt (class cx cy w h, normalised); --data-root the yaml or its folder",
        "https://docs.ultralytics.com/datasets/detect/",
    ),
    "cityscapes": (
        "<root>/leftImg8bit/<split>/<city>/*_leftImg8bit.png and "
        "<root>/gtFine/<split>/<city>/*_gtFine_{labelIds,instanceIds}.png",
        "https://www.cityscapes-dataset.com/downloads/ (registration required)",
    ),
    "voc2007": (
        "<root>/VOCdevkit/VOC2007/Annotations/*.xml, ImageSets/Main/<split>.txt and "
        "JPEGImages/*.jpg (root may also be VOCdevkit/ or VOC2007/)",
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/ (VOCtrainval_06-Nov-2007.tar, "
        "VOCtest_06-Nov-2007.tar)",
    ),
    "voc2012": (
        "<root>/VOCdevkit/VOC2012/Annotations/*.xml, ImageSets/Main/<split>.txt and "
        "JPEGImages/*.jpg (root may also be VOCdevkit/ or VOC2012/)",
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/ (VOCtrainval_11-May-2012.tar)",
    ),
    "ade20k": (
        "<root>/ADEChallengeData2016/images/{training,validation}/*.jpg and "
        "annotations/{training,validation}/*.png (root may also be ADEChallengeData2016/)",
        "http://sceneparsing.csail.mit.edu/ (ADEChallengeData2016.zip)",
    ),
}


def find_root(name: str, root: str | Path | None = None) -> Path:
    """The folder of dataset ``name``: ``root``, else ``$VISIONBENCH_DATA/<name>``, else the
    config file's ``[data] <name>``.

    Raises:
        DatasetNotFoundError: found nowhere; the message lists where it looked, the layout
            expected and where the official files are published.
    """
    looked: list[str] = []
    if root is not None:
        p = Path(root).expanduser()
        if p.is_dir():
            return p
        looked.append(
            f"--data-root {p} (does not exist)"
            if not p.exists()
            else f"--data-root {p} (not a folder)"
        )
    else:
        env = os.environ.get("VISIONBENCH_DATA")
        if env:
            for base in filter(None, env.split(os.pathsep)):
                p = Path(base).expanduser() / name
                if p.is_dir():
                    return p
                looked.append(f"$VISIONBENCH_DATA/{name} = {p}")
        else:
            looked.append("$VISIONBENCH_DATA (unset)")
        for cfg in paths.config_files():
            if not cfg.is_file():
                looked.append(f"{cfg} (no such file)")
                continue
            value = read_config_data(cfg).get(name)
            if value is None:
                looked.append(f"{cfg} (no [data] {name} entry)")
                continue
            p = Path(str(value)).expanduser()
            if not p.is_absolute():
                p = cfg.parent / p
            if p.is_dir():
                return p
            looked.append(f"{cfg} [data] {name} = {p} (does not exist)")
    raise DatasetNotFoundError(_not_found(name, looked))


def read_config_data(path: Path) -> dict[str, Any]:
    """The ``[data]`` table of a TOML config file.

    Raises:
        AnnotationError: the file is not valid TOML or ``data`` is not a table.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise AnnotationError(
                "reading config.toml on Python 3.10 needs the 'tomli' package", path=str(path)
            ) from None
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise AnnotationError(f"cannot read config file: {e}", path=str(path)) from None
    data = doc.get("data", {})
    if not isinstance(data, dict):
        raise AnnotationError(
            "expected a [data] table of name = path", path=str(path), field="data"
        )
    return data


def _not_found(name: str, looked: list[str]) -> str:
    layout, url = LAYOUT_HELP.get(name, ("see the dataset's documentation", "its publisher's site"))
    return (
        f"dataset {name!r} not found. Looked in: {'; '.join(looked)}. Pass --data-root DIR, set "
        f'VISIONBENCH_DATA to a folder containing {name}/, or add `{name} = "/path"` under [data] '
        f"in {paths.config_files()[-1]}. Expected layout: {layout}. The official files are published at "
        f"{url} (download them by hand; visionbench never downloads data)."
    )
