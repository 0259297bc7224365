/* Pulseboard browser side: theme switching, drawing and live extension of the Overview's
   charts, and the metrics WebSocket. */
(function () {
  "use strict";

  const LIVE_STORE = "overview-live";
  const LIVE_STATUS = "overview-live-status";
  const CONNECTION_STORE = "overview-connection";
  const MAX_POINTS = 1500;

  function canonicalLabels(labels) {
    const keys = Object.keys(labels || {}).sort();
    const sorted = {};
    keys.forEach(function (k) { sorted[k] = labels[k]; });
    return JSON.stringify(sorted);
  }

  function timeLabel(ts) {
    return new Date(ts * 1000).toISOString().slice(0, 19).replace("T", " ");
  }

  function epochOf(label) {
    return Date.parse(label.replace(" ", "T") + "Z") / 1000;
  }

  // The Overview's charts are drawn one per animation frame, each in a task of its own,
  // and only while they are on screen (or about to be): drawing every chart at once (a
  // refresh, or a live point on each) held the page for most of a second. Plotly draws
  // them directly: a Dash property update per chart cost more than the drawing itself,
  // and a live point adds nothing to a figure Dash keeps. What waits for a chart merges:
  // the newest figure, then every live point that came after it.
  const pending = new Map();
  // By element, not id: Dash first renders a placeholder under the chart's id.
  const onScreen = new WeakMap();
  let drawing = false;
  let watcher = null;

  function pendingOf(id) {
    if (!pending.has(id)) { pending.set(id, { figure: null, points: {} }); }
    return pending.get(id);
  }

  function plotOf(id) {
    return document.querySelector("#" + id + " .js-plotly-plot");
  }

  // Whether Dash's graph has made its first plot (and is not redrawing): before that, a
  // figure drawn into it would be replaced by the graph's own empty one.
  function ready(gd) {
    return !!(gd && gd._fullLayout && window.Plotly && !gd.classList.contains("dash-graph--pending"));
  }

  function watch(element) {
    if (!watcher) {
      watcher = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) { onScreen.set(e.target, e.isIntersecting); });
        startDrawing();
      }, { rootMargin: "200px 0px" });
    }
    if (!onScreen.has(element)) {
      onScreen.set(element, false);
      watcher.observe(element);
    }
  }

  // The first chart on screen that can be drawn now; charts gone from the page lose what
  // waited for them, charts off screen keep it until they are scrolled to.
  function nextChart() {
    let later = false;
    for (const id of pending.keys()) {
      const element = document.getElementById(id);
      if (!element) { pending.delete(id); continue; }
      watch(element);
      if (!onScreen.get(element)) { continue; }
      if (ready(plotOf(id))) { return { id: id, later: later }; }
      later = true;
    }
    return { id: undefined, later: later };
  }

  function extend(gd, points) {
    const indices = Object.keys(points).map(Number).filter(function (i) { return i < gd.data.length; });
    if (!indices.length) { return; }
    const update = { x: [], y: [] };
    indices.forEach(function (i) {
      update.x.push(points[i].x);
      update.y.push(points[i].y);
    });
    window.Plotly.extendTraces(gd, update, indices, MAX_POINTS);
  }

  function drawNext() {
    const next = nextChart();
    if (next.id === undefined) {
      drawing = false;
      // A chart on screen whose graph is still loading: try again shortly.
      if (next.later) { setTimeout(startDrawing, 100); }
      return;
    }
    const job = pending.get(next.id);
    pending.delete(next.id);
    const gd = plotOf(next.id);
    if (job.figure) {
      window.Plotly.react(gd, job.figure.data, job.figure.layout);
      // Its points go on the next turn: the figure is drawn first.
      if (Object.keys(job.points).length) { pendingOf(next.id).points = job.points; }
    } else {
      extend(gd, job.points);
    }
    window.requestAnimationFrame(drawNext);
  }

  function startDrawing() {
    if (!drawing && pending.size) {
      drawing = true;
      window.requestAnimationFrame(drawNext);
    }
  }

  // A chart as it will be once what waits for it is drawn: its figure, its last points.
  function shownFigure(id) {
    const job = pending.get(id);
    const gd = plotOf(id);
    const figure = job && job.figure ? job.figure : gd && { data: gd.data, layout: gd.layout };
    if (!figure || !figure.data || !job) { return figure; }
    return {
      layout: figure.layout,
      data: figure.data.map(function (trace, i) {
        return job.points[i] ? { meta: trace.meta, x: job.points[i].x } : trace;
      }),
    };
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

      // A refresh's figures, by chart id: each replaces what waits for its chart.
      drawCharts: function (figures) {
        Object.keys(figures || {}).forEach(function (id) {
          const job = pendingOf(id);
          job.figure = figures[id];
          job.points = {};
        });
        startDrawing();
      },

      // A live collection: its points wait for their charts (see extendCharts).
      liveCharts: function (message, shownWindow, autoRefresh) {
        const ids = Array.prototype.map.call(
          document.querySelectorAll(".overview-chart[id]"), function (el) { return el.id; });
        const args = [message, shownWindow, autoRefresh].concat(ids.map(shownFigure));
        const updates = window.dash_clientside.pulseboard.extendCharts.apply(null, args);
        updates.forEach(function (update, n) {
          if (update === window.dash_clientside.no_update) { return; }
          const job = pendingOf(ids[n]);
          update[1].forEach(function (index, k) {
            const points = job.points[index] || (job.points[index] = { x: [], y: [] });
            // A chart off screen for long keeps only what it will show: its last points.
            points.x = points.x.concat(update[0].x[k]).slice(-MAX_POINTS);
            points.y = points.y.concat(update[0].y[k]).slice(-MAX_POINTS);
          });
        });
        startDrawing();
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
          values[s.host + "|" + s.name + "|" + canonicalLabels(s.labels)] = s.value;
        });
        const x = timeLabel(message.ts);
        return figures.map(function (fig) {
          if (!fig || !fig.data) { return noUpdate; }
          // After an outage (the figure's gap, in seconds) the line breaks, as drawn.
          const gap = (fig.layout && fig.layout.meta && fig.layout.meta.gap) || Infinity;
          const indices = [], xs = [], ys = [];
          fig.data.forEach(function (trace, i) {
            if (Object.prototype.hasOwnProperty.call(values, trace.meta)) {
              const last = trace.x && trace.x.length ? epochOf(trace.x[trace.x.length - 1]) : null;
              indices.push(i);
              if (last !== null && message.ts - last > gap) {
                xs.push([timeLabel((last + message.ts) / 2), x]);
                ys.push([null, values[trace.meta]]);
              } else {
                xs.push([x]); ys.push([values[trace.meta]]);
              }
            }
          });
          return indices.length ? [{ x: xs, y: ys }, indices, MAX_POINTS] : noUpdate;
        });
      },

      // "live" only while the charts follow now: a zoomed or custom window is history.
      liveBadge: function (connection, shownWindow, autoRefresh) {
        if (shownWindow) { return ["history", "secondary"]; }
        if (!autoRefresh) { return ["paused", "secondary"]; }
        if (connection === "open") { return ["live", "success"]; }
        if (connection === "closed") { return ["reconnecting", "warning"]; }
        return ["connecting", "secondary"];
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
      setProps(CONNECTION_STORE, { data: "open" });
    };
    ws.onmessage = function (event) {
      const message = JSON.parse(event.data);
      if (message.type === "metrics") {
        setProps(LIVE_STORE, { data: message });
      }
    };
    ws.onclose = function () {
      setProps(CONNECTION_STORE, { data: "closed" });
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
