"""The launcher: ``python -m ticketdrop {run,init-db,seed,sweep}`` (behind ``make run``, ``make init-db``,
``make seed`` and ``make sweep``). An entry point like ``python -m web``, ``python -m scheduler`` and
``python -m workers``: it wires the domain, the domain never imports it."""
