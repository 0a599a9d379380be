"""``python -m ticketdrop``: see ticketdrop/cli.py."""

import sys

from ticketdrop.cli import main

sys.exit(main())
