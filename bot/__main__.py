"""`python -m bot` is the `zhenggai` command."""

import sys

from bot.cli import main

sys.exit(main())
