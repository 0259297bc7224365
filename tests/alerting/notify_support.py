"""What the delivery tests share: a real HTTP receiver on 127.0.0.1, a sender that posts a
notification to it as JSON, and alerts queued the way the evaluation queues them."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import Engine

from app.alerting.notification import AlertView, Answer, DeliveryContext, Notification
from app.alerting.notify import Deliverer, DeliveryConfig, outbox_entries
from storage.alerts import (
    AlertStore,
    HistoryEntry,
    InstanceChange,
    InstanceRecord,
    RuleRecord,
    SilenceRecord,
)
from storage.channels import ChannelRecord, ChannelStore
from storage.leader import FileLeaderLock
from storage.outbox import OutboxRecord, OutboxStore

T0 = 1_800_000_000.0
"""The tests' clock starts here (epoch seconds)."""
CONTEXT = DeliveryContext(external_url="http://pulseboard.test")


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that keeps the JSON bodies it took and answers with
    the codes in ``script`` first (then 200)."""

    port: int = 0
    script: list[int] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)
    requests: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Where to post."""
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        """Listen (on the same port again after ``stop``)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                code = receiver.script.pop(0) if receiver.script else 200
                if code == 200:
                    receiver.received.append(json.loads(body))
                answer = b'{"ok": true}' if code == 200 else b"receiver says no"
                self.send_response(code)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: posts are refused until ``start`` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def post_json(
    kind: str, config: dict, notification: Notification, context: DeliveryContext
) -> Answer:
    """A sender for the tests: the notification as JSON to ``config["url"]``."""
    body = json.dumps(
        {
            "kind": kind,
            "receiver": notification.receiver,
            "groupKey": notification.group_key,
            "status": notification.status,
            "digest": notification.digest,
            "externalURL": context.external_url,
            "alerts": [
                {"id": a.id, "status": a.status, "labels": a.labels, "startsAt": a.starts_at}
                for a in notification.alerts
            ],
        }
    ).encode()
    request = urllib.request.Request(
        config["url"], body, {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return Answer(True, response.status, response.read().decode())
    except urllib.error.HTTPError as exc:
        code = exc.code
        return Answer(False, code, exc.read().decode(), retry=code >= 500 or code == 429)
    except OSError as exc:
        return Answer(False, None, str(exc))


class Alerts:
    """Rules, channels and alerts on one database, queued as the evaluation queues them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = AlertStore(engine)
        self.channels = ChannelStore(engine)
        self.outbox = OutboxStore(engine)

    def channel(
        self, url: str, name: str = "ops hook", kind: str = "webhook", **config: str
    ) -> ChannelRecord:
        """A channel posting to ``url`` (with the rest of its ``config``)."""
        return self.channels.create(ChannelRecord(name, kind, {"url": url, **config}), T0)

    def rule(
        self, name: str, channels: list[int], repeat_s: int = 3600, labels: dict | None = None
    ) -> RuleRecord:
        """A metric rule notifying ``channels``."""
        record = RuleRecord(
            name,
            "metric",
            {"metric": "cpu"},
            channels=channels,
            repeat_s=repeat_s,
            labels=labels or {},
        )
        return self.store.create_rule(record, "admin", T0)

    def silence(
        self, matchers: dict, starts_at: float, ends_at: float, weekly: dict | None = None
    ) -> SilenceRecord:
        """A silence of ``matchers`` from ``starts_at`` to ``ends_at`` (in ``weekly``'s window)."""
        record = SilenceRecord(matchers, starts_at, ends_at, weekly, created_at=T0)
        return self.store.create_silence(record)

    def fire(
        self,
        rule: RuleRecord,
        host: str,
        now: float,
        *,
        instance: InstanceRecord | None = None,
        event: str = "firing",
        severity: str = "warning",
        ts: float | None = None,
    ) -> InstanceRecord:
        """Make the instance of ``rule`` for ``host`` fire at ``now`` (or tell ``event``
        of it), with its history and outbox rows in one transaction."""
        status = "resolved" if event == "resolved" else "firing"
        current = instance or InstanceRecord(
            rule_id=rule.id, rule_name=rule.name, fingerprint=f"fp-{host}", labels={"host": host}
        )
        fired_at = now if current.state != "firing" else current.fired_at
        changed = replace(
            current,
            state="normal" if status == "resolved" else "firing",
            severity=None if status == "resolved" else severity,
            fired_at=fired_at,
            resolved_at=now if status == "resolved" else None,
            notified_at=now if status == "firing" else current.notified_at,
        )
        view = AlertView(
            id=current.id or 0,
            rule_id=rule.id,
            rule_name=rule.name,
            fingerprint=changed.fingerprint,
            status=status,
            severity=changed.severity,
            labels={**rule.labels, "host": host, "alertname": rule.name, "severity": severity},
            annotations={"summary": f"cpu high on {host}"},
            value=97.0,
            starts_at=fired_at,
            ends_at=now if status == "resolved" else None,
        )
        history = [HistoryEntry(ts=now, event=event, from_state=current.state, to_state="firing")]
        entries = outbox_entries(changed, rule.channels, event, view, now, ts)
        (written,) = self.store.apply([InstanceChange(changed, history, entries)])
        return written

    def rows(self, status: str | None = None) -> list[OutboxRecord]:
        """The outbox, oldest first."""
        rows, _ = self.outbox.deliveries(status=status, limit=10_000)
        return sorted(rows, key=lambda r: r.id)


def held_lock(tmp_path: Path) -> FileLeaderLock:
    """A leader lock this test process holds."""
    lock = FileLeaderLock(tmp_path / "leader.lock")
    assert lock.try_acquire()
    return lock


def deliverer(engine: Engine, fence, **config) -> Deliverer:
    """A deliverer posting through ``post_json``; no group wait unless given."""
    config.setdefault("group_wait", 0.0)
    return Deliverer(engine, fence, CONTEXT, DeliveryConfig(**config), sender=post_json)
