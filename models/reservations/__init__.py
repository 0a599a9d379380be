"""Reservations: requests queued per event, decided in order by one drainer, holds with a TTL.

Import the submodules (``service``, ``drain``, ``holds``, ``counters``, ``kick``, ``lease``...);
this package imports none of them, so any of them can import another domain that imports it back.
The functions other domains call (checkout, operations) are re-exported by ``models.inventory``.
"""
