"""`python -m kvportal.kvdt check FILE` / `generate ...` without Django."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m kvportal.kvdt"))
