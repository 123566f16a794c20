"""Darknet networks (YOLOv3, YOLOv3-tiny) from darknet's own files.

- :mod:`~visionbench.models.darknet.cfg`: the ``.cfg`` parser and the packaged cfgs;
- :mod:`~visionbench.models.darknet.layers`: conv, max-pool, upsample, route, shortcut;
- :mod:`~visionbench.models.darknet.yolo_head`: the ``[yolo]`` head and its decoding;
- :mod:`~visionbench.models.darknet.network`: :class:`Darknet`, the network a cfg describes;
- :mod:`~visionbench.models.darknet.weights`: darknet's binary ``.weights`` format.

The evaluation adapter is :mod:`visionbench.models.yolov3`.
"""
