"""``python -m visionbench`` (and ``torchrun -m visionbench run ...``) = ``bench``."""

from visionbench.cli import entry

if __name__ == "__main__":
    entry()
