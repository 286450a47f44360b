"""Demo: a garden LSTM learns The Time Machine, character by character.

The flags of `recipes.demo` (the parser's description is the line above).
"""

import argparse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", help="path of timemachine.txt (default: $GARDEN_DATA)"
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-steps", type=int, default=32)
    parser.add_argument("--units", type=int, default=256)
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "num_steps", "units"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    return args
