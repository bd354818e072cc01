"""`python -m parley_local` with per-invocation timings (bench/_timings.py), in the stack's process and in
each environment process (which imports bench._timings before its handler)."""

import os
import sys

from bench import _timings  # noqa: F401 - installs the hooks in this process
from parley_local.environment import PRELOAD_VARIABLE

os.environ[PRELOAD_VARIABLE] = "bench._timings"

from parley_local.__main__ import main

sys.exit(main(sys.argv[1:]))
