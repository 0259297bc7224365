/* The embeddable live tail (/embed/logs): newest lines at the bottom, reconnects with
   last_id so nothing is skipped or repeated, log text always inserted as text. */
(function () {
  "use strict";
  const root = document.getElementById("embed-tail");
  if (!root) { return; }
  const rows = document.getElementById("embed-rows");
  const status = document.getElementById("embed-status");
  const rate = document.getElementById("embed-rate");
  const pause = document.getElementById("embed-pause");
  const MAX_ROWS = 2000;
  let lastId = null, retry = 1000, paused = false, held = [], arrivals = [];

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    return td;
  }

  function show(record) {
    const tr = document.createElement("tr");
    tr.append(
      cell(String(record.ts).slice(11, 23)),
      cell(record.level, "level level-" + record.level),
      cell(record.source),
      cell(record.host),
      cell(record.message, "message"),
    );
    const follow = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    rows.appendChild(tr);
    while (rows.childElementCount > MAX_ROWS) { rows.removeChild(rows.firstChild); }
    if (follow) { window.scrollTo(0, document.body.scrollHeight); }
  }

  pause.addEventListener("click", function () {
    paused = !paused;
    pause.textContent = paused ? "Resume (" + held.length + ")" : "Pause";
    if (!paused) { held.forEach(show); held = []; }
  });

  setInterval(function () {
    const now = Date.now();
    arrivals = arrivals.filter(function (t) { return now - t < 5000; });
    rate.textContent = (arrivals.length / 5).toFixed(1) + " lines/s";
    if (paused) { pause.textContent = "Resume (" + held.length + ")"; }
  }, 1000);

  function connect() {
    const params = new URLSearchParams({ q: root.dataset.q });
    if (root.dataset.token) { params.set("token", root.dataset.token); }
    if (lastId !== null) { params.set("last_id", lastId); } else { params.set("backlog", root.dataset.backlog); }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(scheme + "://" + location.host + "/api/v1/admin/logs/stream?" + params);
    ws.onmessage = function (event) {
      const m = JSON.parse(event.data);
      if (m.type === "log") {
        lastId = m.id;
        arrivals.push(Date.now());
        if (paused) { held.push(m); } else { show(m); }
      } else if (m.type === "ready") {
        retry = 1000;
        status.textContent = "live";
        status.className = "live";
      } else if (m.type === "dropped") {
        status.textContent = "live (" + m.count + " skipped: too slow)";
      } else if (m.type === "error") {
        status.textContent = m.message;
        status.className = "error";
        // Only a refused query ends the tail; "unavailable" and "busy" pass: reconnect.
        if (m.retry_after) { retry = m.retry_after * 1000; } else { ws.onclose = null; }
      }
    };
    ws.onclose = function () {
      status.textContent = "reconnecting";
      status.className = "";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }
  connect();
})();
