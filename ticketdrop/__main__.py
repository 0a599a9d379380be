"""``python -m ticketdrop``: see ticketdrop/cli.py."""

from models.settings import run_process
from ticketdrop.cli import main

run_process(main)
