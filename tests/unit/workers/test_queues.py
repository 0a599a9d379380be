"""The queues a worker consumes: three, each named with the deployment's QUEUE_PREFIX (an idle
worker fetches from every queue and its delay queue; test_queue_names.py checks the source)."""


def test_the_workers_consume_three_queues_each_with_the_prefix():
    import dramatiq

    from workers import actors  # noqa: F401 - declares every actor
    from workers.broker import queue

    names = {actor.queue_name for actor in dramatiq.get_broker().actors.values()
             if actor.fn.__module__.startswith("workers.")}
    assert names == {queue("checkout"), queue("reservations"), queue("system")}
