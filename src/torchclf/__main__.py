"""``python -m torchclf`` runs the command line."""

import sys

from torchclf.cli import main

sys.exit(main())
