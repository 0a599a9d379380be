"""An event's statuses, and the sets of them the services ask about: written down once.

``draft -> scheduled -> on_sale -> closed``, and ``canceled`` from any but the final two
(the moves themselves are :data:`models.catalog.rules.TRANSITIONS`). Kept free of imports
so the tables, the scheduler's reads and the hot-path services can all use it.
"""

from __future__ import annotations

#: Every status an event can be in (the ``events.status`` column holds one of these).
EVENT_STATUSES = ("draft", "scheduled", "on_sale", "closed", "canceled")

#: Statuses an event may be created in; closed and canceled are reached by moves only.
INITIAL_STATUSES = ("draft", "scheduled", "on_sale")

#: Statuses whose sale is open or opens at ``on_sale_at``: the waiting room runs, reservations
#: are taken once on-sale has passed, the waitlist is joined and offered, the gauges watch it.
SELLING_STATUSES = ("scheduled", "on_sale")

#: Statuses in which nothing is sold any more: no new tiers, queued requests are refused,
#: confirms are refused (nothing charged), the waiting room reads ``closed``.
FINISHED_STATUSES = ("closed", "canceled")
