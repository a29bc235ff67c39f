"""``python -m target_app``: see :mod:`target_app.cli`."""

import sys

from target_app.cli import main

sys.exit(main())
