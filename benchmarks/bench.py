"""Run one benchmark of ``resonance bench`` as a script.

    python benchmarks/bench.py solver --sizes 256,1024,4096 --threads 1,2
    python benchmarks/bench.py metrics --sizes 256,1024,2048
    python benchmarks/bench.py store | swarm | serve | sweep
"""

import sys

from resonance_engine.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", *sys.argv[1:]]))
