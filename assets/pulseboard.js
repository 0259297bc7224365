/* Pulseboard browser side: theme switching, live chart extension and the metrics WebSocket. */
(function () {
  "use strict";

  const LIVE_STORE = "overview-live";
  const LIVE_STATUS = "overview-live-status";
  const MAX_POINTS = 1500;
  const RESYNC_STORE = "overview-resync";
  const RESYNC_EVERY_MS = 15000;

  function canonicalLabels(labels) {
    const keys = Object.keys(labels || {}).sort();
    const sorted = {};
    keys.forEach(function (k) { sorted[k] = labels[k]; });
    return JSON.stringify(sorted);
  }

  function timeLabel(ts) {
    return new Date(ts * 1000).toISOString().slice(0, 19).replace("T", " ");
  }

  // A series that appears after a chart was drawn (a new route, a new target) cannot be
  // extended into it: ask the server for a redraw, at most every few seconds.
  let lastResync = 0;
  function wanted(meta, sample) {
    const labels = sample.labels || {};
    return meta.metrics.indexOf(sample.name) >= 0 &&
      !meta.exclude.some(function (e) { return labels[e[0]] === e[1]; }) &&
      meta.only.every(function (o) { return labels[o[0]] === o[1]; });
  }

  function requestResyncIfMissing(figures, samples) {
    const now = Date.now();
    if (now - lastResync < RESYNC_EVERY_MS) { return; }
    const missing = figures.some(function (fig) {
      const meta = fig && fig.layout && fig.layout.meta;
      if (!meta || !Array.isArray(meta.metrics)) { return false; }
      const drawn = new Set((fig.data || []).map(function (t) { return t.meta; }));
      return samples.some(function (s) {
        return wanted(meta, s) && !drawn.has(s.name + "|" + canonicalLabels(s.labels));
      });
    });
    if (missing) {
      lastResync = now;
      setProps(RESYNC_STORE, { data: now });
    }
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    pulseboard: {
      applyTheme: function (switchOn, stored) {
        const ctx = window.dash_clientside.callback_context;
        const fromSwitch = ctx && ctx.triggered && ctx.triggered.length > 0 &&
          ctx.triggered[0].prop_id === "theme-switch.value";
        const theme = fromSwitch ? (switchOn ? "dark" : "light") : (stored || "light");
        document.documentElement.setAttribute("data-bs-theme", theme);
        return [theme, theme === "dark"];
      },

      extendCharts: function (message, shownWindow, autoRefresh) {
        const figures = Array.prototype.slice.call(arguments, 3);
        const noUpdate = window.dash_clientside.no_update;
        // A zoomed or custom window is history: live points belong to "now" only.
        if (!message || message.type !== "metrics" || shownWindow || !autoRefresh) {
          return figures.map(function () { return noUpdate; });
        }
        const values = {};
        message.samples.forEach(function (s) {
          values[s.name + "|" + canonicalLabels(s.labels)] = s.value;
        });
        const x = timeLabel(message.ts);
        requestResyncIfMissing(figures, message.samples);
        return figures.map(function (fig) {
          if (!fig || !fig.data) { return noUpdate; }
          const indices = [], xs = [], ys = [];
          fig.data.forEach(function (trace, i) {
            if (Object.prototype.hasOwnProperty.call(values, trace.meta)) {
              indices.push(i); xs.push([x]); ys.push([values[trace.meta]]);
            }
          });
          return indices.length ? [{ x: xs, y: ys }, indices, MAX_POINTS] : noUpdate;
        });
      },
    },
  });

  function setProps(id, props) {
    if (document.getElementById(LIVE_STATUS) && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, props);
    }
  }

  let delay = 1000;
  function connect() {
    // dcc.Store renders no element: the live badge tells that the Overview is shown.
    if (!document.getElementById(LIVE_STATUS)) {
      setTimeout(connect, 1000);
      return;
    }
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(scheme + "://" + window.location.host + "/api/v1/admin/monitoring/stream");
    ws.onopen = function () {
      delay = 1000;
      setProps(LIVE_STATUS, { children: "live", color: "success" });
    };
    ws.onmessage = function (event) {
      const message = JSON.parse(event.data);
      if (message.type === "metrics") {
        setProps(LIVE_STORE, { data: message });
      }
    };
    ws.onclose = function () {
      setProps(LIVE_STATUS, { children: "reconnecting", color: "warning" });
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
