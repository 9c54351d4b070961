"""``python -m tinyfq_native.cli``: the ``tinyfq`` command."""

import sys

from tinyfq_native.cli import main

sys.exit(main())
