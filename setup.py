"""Build the optional C kernels of the COCO evaluation (everything else is in pyproject.toml).

``pip install -e .`` (or ``python setup.py build_ext --inplace``) compiles
``visionbench/metrics/detection/_coco_ext.c`` with the platform's C compiler. It needs only the
Python headers (no numpy C API). Should the build fail, the install still succeeds and
visionbench uses its numba kernels (same numbers, slower start-up).
"""

import sys

from setuptools import Extension, setup

args = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math"]
setup(
    ext_modules=[
        Extension(
            "visionbench.metrics.detection._coco_ext",
            ["visionbench/metrics/detection/_coco_ext.c"],
            extra_compile_args=args,
            optional=True,
        )
    ]
)
