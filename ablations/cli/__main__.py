"""`python -m ablations.cli`: the same as the `ablate` command."""

import sys

from ablations.cli import main

sys.exit(main())
