"""Build the optional C kernels of the COCO evaluation (everything else is in pyproject.toml).

``pip install -e .`` (or ``python setup.py build_ext --inplace``) compiles
``visionbench/metrics/detection/_coco_ext.c`` (evaluation) and
``visionbench/metrics/detection/_bootstrap_ext.c`` (bootstrap replicates) with the platform's
C compiler. They need only the Python headers (no numpy C API). Should a build fail, the
install still succeeds and visionbench uses its numba kernels (same numbers, slower).
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
        ),
        Extension(
            "visionbench.metrics.detection._bootstrap_ext",
            ["visionbench/metrics/detection/_bootstrap_ext.c"],
            # -O3: the replicate loops (16 int32 / float64 lanes) are written to vectorise
            extra_compile_args=[*args, "-O3"] if args else args,
            optional=True,
        ),
    ]
)
