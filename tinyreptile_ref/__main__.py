"""python -m tinyreptile_ref: see tinyreptile_ref/cli.py."""
import sys

from .cli import main

sys.exit(main())
