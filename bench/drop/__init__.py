"""The drop simulator: ``python -m bench.drop [--chaos]`` (``make drop`` / ``make drop-chaos``)."""
