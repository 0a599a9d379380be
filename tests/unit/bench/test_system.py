"""The system under test, seen without its processes (bench/drop/system.py)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.drop.system import System, SystemOptions


def test_stopping_the_system_ends_a_wait_for_its_health_in_another_thread(tmp_path):
    # The chaos run waits for health in threads; asyncio.run waits for them before it returns.
    system = System(SystemOptions(run_dir=tmp_path, run_id="t"))
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(system.wait_healthy, False, 20)
        system.stop()
        with pytest.raises(RuntimeError, match="being stopped"):
            waiting.result(timeout=5)
