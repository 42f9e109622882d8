"""``python -m graphcl ...``: the ``graphcl`` command without an installed entry point."""
import sys

from graphcl.cli import main

sys.exit(main())
