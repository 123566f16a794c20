"""``python -m visionbench.models.demo_training MODEL --out PATH [--epochs N]``."""

from __future__ import annotations

import argparse
import importlib

from visionbench.models.demo_training import TRAINERS


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m visionbench.models.demo_training",
        description="make a demo model's weights file (the recipe of the shipped one)",
    )
    ap.add_argument("model", choices=sorted(TRAINERS))
    ap.add_argument("--out", required=True, help="the file to write")
    ap.add_argument(
        "--epochs", type=int, default=None, help="training epochs (default: the shipped recipe's)"
    )
    args = ap.parse_args(argv)
    module = importlib.import_module(TRAINERS[args.model])
    print(module.write(args.out, epochs=args.epochs))


if __name__ == "__main__":
    main()
