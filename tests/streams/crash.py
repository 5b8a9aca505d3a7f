"""The SIGKILL harness of the delivery crash tests: deliveries killed at random moments while producers write."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

DELIVERY_SCRIPT = """
import sys
import mlake
from mlake.streams import open_streams
from mlake.streams.delivery import BufferHints, Delivery
from mlake.streams.features import FeatureDelivery
home, url, name = sys.argv[1], sys.argv[2], sys.argv[3]
lake = mlake.connect(home)
streams = open_streams(url)
print("ready", flush=True)
sys.stdin.readline()  # started ahead of time (imports are slow here), it delivers when told to
hints = BufferHints(max_records=40, max_seconds=0.03)
delivery = {make}
print("started", flush=True)
delivery.run()
"""


def delivery_script(make: str) -> str:
    """A delivery process for :func:`kill_deliveries_while_producing`; ``make`` builds the delivery from
    ``lake``, ``streams``, ``name`` (the stream) and ``hints``."""
    return DELIVERY_SCRIPT.replace("{make}", make)


def kill_deliveries_while_producing(
    script: str,
    args: list[str],
    produce: Callable[[], None],
    commits: Callable[[], int],
    *,
    kills: int = 3,
    seed: int = 5,
) -> None:
    """Run ``script`` (it prints "ready", waits for a line, prints "started" and delivers) ``kills`` times,
    one after the other while ``produce`` runs on a thread; each is SIGKILLed at a random moment after it
    committed at least once (``commits`` counts the target's snapshots), so the kill lands in the middle
    of work. The processes are started ahead of time: imports are slow on this machine."""
    standby = [
        subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for _ in range(kills)
    ]
    for proc in standby:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    producer = threading.Thread(target=produce)
    producer.start()
    rng = random.Random(seed)
    try:
        for proc in standby:
            assert proc.stdin is not None and proc.stdout is not None
            before = commits()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            assert proc.stdout.readline() == b"started\n"
            deadline = time.monotonic() + 120
            while commits() == before:
                assert time.monotonic() < deadline, "the delivery committed nothing"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            assert proc.wait() == -signal.SIGKILL
    finally:
        producer.join()
        for proc in standby:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
