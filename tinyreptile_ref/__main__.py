"""python -m tinyreptile_ref: see tinyreptile_ref/cli.py."""
import sys

from .tools.cli import main

sys.exit(main())
