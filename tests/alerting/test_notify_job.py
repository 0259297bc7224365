"""The leader delivers notifications every second, as the job ``alerts-deliver``."""

from __future__ import annotations


def test_the_leader_runs_alerts_deliver_every_second(make_app):
    rt = make_app(alert_group_wait=0).server.extensions["pulseboard"]
    (job,) = [j for j in rt.scheduler.jobs if j.name == "alerts-deliver"]
    assert job.interval == 1.0

    assert rt.scheduler.run_job(job) is None  # a follower does nothing
    assert rt.scheduler.elect()
    assert rt.scheduler.run_job(job) == 0
    assert rt.scheduler.status["alerts-deliver"].last_ok
