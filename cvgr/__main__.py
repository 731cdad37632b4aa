"""``python -m cvgr`` = the ``cvgr`` command."""
import sys

from .cli import main

sys.exit(main())
