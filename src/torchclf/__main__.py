"""``python -m torchclf`` runs the command line."""

import sys

from torchclf.cli.main import main

sys.exit(main())
