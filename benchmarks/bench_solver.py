"""Leapfrog throughput per backend and size: ``resonance bench solver`` as a script."""

import sys

from resonance_engine.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "solver", *sys.argv[1:]]))
