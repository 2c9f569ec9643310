"""`python -m synthmir.cli ...`: the `synthmir` command run by the current interpreter."""

import sys

from synthmir.cli import main

sys.exit(main())
