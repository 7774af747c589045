"""`python -m kvportal.kim open FILE ...` without Django."""

import sys

from kvportal.kim.cli import main

sys.exit(main())
