"""Every catalog dataset names a protocol that resolves, of its task; protocol metadata is
well-formed; the seam replaces task / label-space branching."""

from __future__ import annotations

import pytest

from visionbench.label_spaces import get_label_space
from visionbench.protocols import (
    UNITS,
    Protocol,
    dataset_protocol_name,
    get_protocol_class,
    protocols,
)
from visionbench.registry import datasets


@pytest.mark.parametrize("name", datasets.names())
def test_every_dataset_names_a_protocol_of_its_task(name):
    info = datasets.entry(name).info
    cls = get_protocol_class(info["protocol"])
    assert issubclass(cls, Protocol)
    assert cls.task.value == info["task"]


@pytest.mark.parametrize("name", protocols.names())
def test_protocol_metadata(name):
    cls = get_protocol_class(name)
    assert cls.name == name and cls.description
    assert all(info.unit in UNITS for info in cls.metrics.values())
    assert len({o.name for o in cls.options}) == len(cls.options)
    assert cls.export_formats


def test_cityscapes_trainids_switch_to_the_confusion_protocol():
    from visionbench.loaders.mini import cityscapes_mini

    assert dataset_protocol_name(cityscapes_mini())[0] == "cityscapes"
    ds = cityscapes_mini(label_space="cityscapes19")
    assert dataset_protocol_name(ds) == ("semantic", {"ignore_index": 255})


def test_scene_graph_predicates_come_from_the_label_space():
    class DS:
        name = "my-sg"
        task = get_protocol_class("scene-graph").task
        label_space = get_label_space("vg150")
        predicate_space = get_label_space("vg150_predicates")

    from visionbench.protocols import dataset_protocol

    p = dataset_protocol(DS())
    assert p.num_predicates == len(get_label_space("vg150_predicates")) == 50
    assert p.build_evaluator().num_predicates == 50
    p = dataset_protocol(DS(), {"num_predicates": "7", "mode": "predcls"})
    assert p.num_predicates == 7 and p.model_inputs() == {"gt_objects": "boxes+labels"}
