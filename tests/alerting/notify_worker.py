"""A delivery process for the process tests: it takes the leader lock when it can and,
while it leads, delivers every tenth of a second through the real channels.

    python -m tests.alerting.notify_worker DATABASE_URL DATA_DIR NAME GROUP_WAIT
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from app.alerting.notify import Deliverer, DeliveryConfig
from storage.db import make_engine
from storage.leader import NotLeader, make_leader_lock
from tests.alerting.notify_support import CONTEXT


def main(database_url: str, data_dir: str, name: str, group_wait: str) -> None:
    """Lead when possible and deliver, noting in ``DATA_DIR/NAME.leads`` once it leads."""
    lock = make_leader_lock(database_url, Path(data_dir), ttl=1)
    config = DeliveryConfig(group_wait=float(group_wait), group_interval=0.0, lease_s=3.0)
    job = Deliverer(make_engine(database_url), lock.fence, CONTEXT, config)
    while True:
        if lock.try_acquire():
            (Path(data_dir) / f"{name}.leads").touch()
            with contextlib.suppress(NotLeader):
                job.deliver(time.time())
        time.sleep(0.1)


if __name__ == "__main__":
    main(*sys.argv[1:])
