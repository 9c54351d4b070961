import sys

from evaluation.core import main

sys.exit(main())
