"""``python -m skmnist``: the same program as the ``skmnist`` command.

See :mod:`skmnist.cli` for the commands (``train``, ``evaluate``, ``predict``).
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
