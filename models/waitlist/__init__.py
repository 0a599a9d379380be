"""The waitlist: fans told "sold out" wait per tier for tickets that come back, in the order
of their waiting-room places, and each returned ticket is offered to the next fan whose
quantity fits, as a hold decided by the event's drainer (see docs/internals/waitlist.md).

- ``entries``: join, list, leave (the fan's side);
- ``nudge``: an "offers" marker in the event's mailbox whenever stock comes back;
- ``offers``: the drainer's offer step, settling ended offers;
- ``sweep``: the backstop that nudges events whose returns were not offered.

Import the submodules directly: the reservation code imports ``nudge`` while it loads.
"""
