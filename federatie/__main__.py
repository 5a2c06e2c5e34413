"""`python -m federatie` is the `federatie` command."""

import sys

from federatie.cli import main

sys.exit(main())
