"""How the demo models' shipped weights are made: their training loops and fits.

One module per demo model (the models themselves stay in ``visionbench/models/demo*.py``)
and one command line that writes a weights file::

    python -m visionbench.models.demo_training MODEL --out PATH [--epochs N]

============== ================================ ==============================================
MODEL          module                           writes (shipped in ``models/weights/``)
============== ================================ ==============================================
demo-cnn       :mod:`.cnn`                      ``demo_cnn_imagenet_mini.pt``
demo-detector  :mod:`.detection`                ``demo_detector_coco_mini.pt``
demo-segnet    :mod:`.segmentation`             ``demo_segnet_cityscapes_mini.pt``
demo-freq      :mod:`.scene_graph`              ``freq_vg_mini.npz``
demo-captioner :mod:`.captioning`               ``demo_captioner_coco_mini.npz``
============== ================================ ==============================================

Each module has a ``write(out, *, epochs=None)`` that runs the shipped recipe (the
default epochs) and saves the file. Training is seeded and runs on one thread, so a
rerun on the same torch build and CPU gives bit-identical weights.
"""

from __future__ import annotations

__all__ = ["TRAINERS"]

#: Demo model name -> the module that makes its weights.
TRAINERS = {
    "demo-cnn": "visionbench.models.demo_training.cnn",
    "demo-detector": "visionbench.models.demo_training.detection",
    "demo-segnet": "visionbench.models.demo_training.segmentation",
    "demo-freq": "visionbench.models.demo_training.scene_graph",
    "demo-captioner": "visionbench.models.demo_training.captioning",
}
