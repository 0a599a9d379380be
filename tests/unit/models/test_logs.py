"""Logging set-up: what a process writes to its log."""

from __future__ import annotations

import logging

import pytest

from models.logs import configure_logging
from models.tables import Ticket
from models.tickets import issue_for_order
from tests.factories import make_event, make_tier
from tests.unit.models.test_reservations_support import make_paid_order


@pytest.fixture
def debug_log(settings, capsys):
    """Configure logging as a process would with LOG_LEVEL=DEBUG; restore the root logger after."""
    root, peewee = logging.getLogger(), logging.getLogger("peewee")
    saved = (root.handlers[:], root.level, peewee.level, logging._srcfile)
    configure_logging(settings.with_(log_level="DEBUG", log_format="json"), process="test")
    yield lambda: capsys.readouterr().err
    root.handlers[:], root.level, _, logging._srcfile = saved
    peewee.setLevel(saved[2])


def test_ticket_secrets_stay_out_of_the_log_even_at_debug(settings, db, debug_log):
    tier = make_tier(make_event(), capacity=10)
    issue_for_order(settings.secret_bytes, make_paid_order(tier, "fan-1", 2).id)
    logging.getLogger("ticketdrop.test").debug("debug lines do reach the log")
    written = debug_log()
    assert "debug lines do reach the log" in written
    for ticket in Ticket.select():
        assert ticket.secret not in written and ticket.qr_sig not in written
