"""``python -m visionbench`` (and ``torchrun -m visionbench run ...``) = ``bench``."""

from visionbench.cli import main

if __name__ == "__main__":
    main()
