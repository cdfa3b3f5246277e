"""``python -m balupi``: the same command line as ``balupi``."""

import sys

from balupi.cli import main

sys.exit(main())
