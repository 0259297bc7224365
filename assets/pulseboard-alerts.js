/* Alerts, browser side, on every page of the console: the alerts stream (WebSocket,
   reconnecting with backoff) feeds the open-alerts badge and the alert views through the
   alerts-live store, and shows a toast for each alert that starts firing. */
(function () {
  "use strict";

  const BADGE = "nav-alerts-badge";
  const LIVE_STORE = "alerts-live";
  const TOAST_MS = 15000;
  const MAX_TOASTS = 5;
  let delay = 1000;

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    pulseboardAlerts: {
      // The editor shows the metric fields or the log fields, by the rule's kind.
      kindFields: function (kind) {
        const hidden = { display: "none" };
        // Log and new-error-group rules both take a query (the latter no aggregate).
        return kind === "log" || kind === "new_error_group" ? [hidden, {}] : [{}, hidden];
      },
      // The selected alert's actions and detail belong to the open alerts and history.
      alertPanel: function (tab) {
        return tab === "open" || tab === "history" ? {} : { display: "none" };
      },
      // E-mail channels have recipients, every other kind a URL.
      channelFields: function (kind) {
        const hidden = { display: "none" };
        return kind === "email" ? [hidden, {}] : [{}, hidden];
      },
    },
  });

  function labelsText(labels) {
    return Object.keys(labels || {}).sort().map(function (k) { return k + "=" + labels[k]; }).join(", ");
  }

  function toastContainer() {
    let box = document.getElementById("alerts-toasts");
    if (!box) {
      box = document.createElement("div");
      box.id = "alerts-toasts";
      box.className = "toast-container position-fixed top-0 end-0 p-3 alerts-toasts";
      document.body.appendChild(box);
    }
    return box;
  }

  // Text only (textContent): rule names and labels come from users and hosts.
  function toast(alert) {
    const box = toastContainer();
    while (box.children.length >= MAX_TOASTS) { box.removeChild(box.firstChild); }
    const severity = alert.severity || "warning";
    const item = document.createElement("div");
    item.className = "toast show alert-toast alert-toast-" + severity;
    item.setAttribute("role", "alert");
    const header = document.createElement("div");
    header.className = "toast-header";
    const badge = document.createElement("span");
    badge.className = "badge me-2 " + (severity === "critical" ? "text-bg-danger" : "text-bg-warning");
    badge.textContent = severity;
    const title = document.createElement("strong");
    title.className = "me-auto text-truncate";
    title.textContent = alert.rule_name;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", function () { item.remove(); });
    header.append(badge, title, close);
    const body = document.createElement("a");
    body.className = "toast-body d-block text-body text-decoration-none";
    body.href = "/alerts";
    const value = alert.value === null || alert.value === undefined ? "" : " value " + String(Number(Number(alert.value).toPrecision(4)));
    body.textContent = "Firing: " + (labelsText(alert.labels) || "no labels") + value;
    item.append(header, body);
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, TOAST_MS);
  }

  function connect() {
    // Only signed-in pages have the badge (the login page has none).
    if (!document.getElementById(BADGE)) {
      setTimeout(connect, 1000);
      return;
    }
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(scheme + "://" + window.location.host + "/api/v1/admin/alerts/stream");
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (event) {
      const message = JSON.parse(event.data);
      if (message.type !== "alert") { return; }
      if (window.dash_clientside.set_props) {
        window.dash_clientside.set_props(LIVE_STORE, { data: message });
      }
      if (message.event === "firing") { toast(message.alert); }
    };
    ws.onclose = function () {
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
