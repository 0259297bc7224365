/* Logs page, browser side: grid cell formats, cache purge on a new search, export form
   fields, and the live tail (WebSocket, pause/resume, follow, rate and dropped counts). */
(function () {
  "use strict";

  const TAIL_GRID = "logs-tail-grid";
  const MAX_TAIL_ROWS = 5000;
  const LEVEL_CLASSES = ["debug", "info", "warning", "error", "critical"];
  // Below this width (px) a grid shows the clock instead of the date, source and host.
  const NARROW_GRID = 576;

  window.dashAgGridFunctions = Object.assign({}, window.dashAgGridFunctions, {
    pulseboardLogTime: function (value) {
      return value ? String(value).slice(0, 23).replace("T", " ") : "";
    },
    pulseboardLogClock: function (value) {
      return value ? String(value).slice(11, 19) : "";
    },
    pulseboardFitColumns: function (params, gridId) {
      const grid = document.getElementById(gridId);
      const width = params.clientWidth || (grid ? grid.clientWidth : 0);
      if (!width) { return; }
      const narrow = width < NARROW_GRID;
      params.api.setColumnsVisible(["ts", "source", "host"], !narrow);
      params.api.setColumnsVisible(["clock"], narrow);
    },
    pulseboardLevelClass: function (value) {
      return LEVEL_CLASSES.indexOf(value) >= 0 ? "log-level log-level-" + value : "log-level";
    },
  });

  const tail = {
    ws: null,
    query: null,
    lastId: null,
    paused: false,
    follow: true,
    held: [],
    arrivals: [],
    dropped: 0,
    retry: 1000,
    timer: null,
    wanted: false,
  };

  function setProps(id, props) {
    if (document.getElementById(id) && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, props);
    }
  }

  function status(text, color) {
    setProps("logs-tail-status", { children: text, color: color });
  }

  function gridApi() {
    return window.dash_ag_grid && window.dash_ag_grid.getApi
      ? window.dash_ag_grid.getApi(TAIL_GRID)
      : null;
  }

  function apply(records) {
    const api = gridApi();
    if (!api || !records.length) { return; }
    const remove = [];
    const count = api.getDisplayedRowCount();
    const excess = count + records.length - MAX_TAIL_ROWS;
    for (let i = 0; i < excess && i < count; i++) {
      const node = api.getDisplayedRowAtIndex(i);
      if (node) { remove.push(node.data); }
    }
    api.applyTransaction({ add: records, remove: remove });
    if (tail.follow) {
      api.ensureIndexVisible(api.getDisplayedRowCount() - 1, "bottom");
    }
  }

  function onRecord(record) {
    tail.lastId = record.id;
    tail.arrivals.push(Date.now());
    if (tail.paused) { tail.held.push(record); } else { pending.push(record); }
  }

  // Records are added to the grid in one transaction per animation frame, not one each.
  let pending = [];
  function flush() {
    if (pending.length) { apply(pending); pending = []; }
    window.requestAnimationFrame(flush);
  }
  window.requestAnimationFrame(flush);

  function stats() {
    const now = Date.now();
    tail.arrivals = tail.arrivals.filter(function (t) { return now - t < 5000; });
    setProps("logs-tail-rate", { children: (tail.arrivals.length / 5).toFixed(1) + " lines/s" });
    const held = tail.paused ? ", " + tail.held.length + " held" : "";
    setProps("logs-tail-dropped", {
      children: tail.dropped + " dropped" + held,
      color: tail.dropped ? "warning" : "light",
    });
  }
  setInterval(stats, 1000);

  function connect() {
    if (!tail.wanted || !document.getElementById(TAIL_GRID)) { return; }
    const params = new URLSearchParams({ q: tail.query || "" });
    if (tail.lastId !== null) { params.set("last_id", tail.lastId); } else { params.set("backlog", "200"); }
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(scheme + "://" + window.location.host + "/api/v1/admin/logs/stream?" + params);
    tail.ws = ws;
    status("connecting", "secondary");
    ws.onmessage = function (event) {
      const message = JSON.parse(event.data);
      if (message.type === "log") { onRecord(message); }
      else if (message.type === "ready") { tail.retry = 1000; status("live", "success"); }
      else if (message.type === "dropped") { tail.dropped += message.count; }
      else if (message.type === "error") {
        status(message.message, "danger");
        // Only a refused query ends the tail; "unavailable" and "busy" pass: reconnect.
        if (message.retry_after) { tail.retry = message.retry_after * 1000; } else { tail.wanted = false; }
      }
    };
    ws.onclose = function () {
      if (tail.ws !== ws) { return; }
      tail.ws = null;
      if (!tail.wanted) { return; }
      // Reconnect with last_id: the server sends exactly what was missed meanwhile.
      status("reconnecting", "warning");
      tail.timer = setTimeout(connect, tail.retry);
      tail.retry = Math.min(tail.retry * 2, 30000);
    };
  }

  function stop() {
    tail.wanted = false;
    clearTimeout(tail.timer);
    if (tail.ws) { const ws = tail.ws; tail.ws = null; ws.close(); }
  }

  function clear() {
    stop();
    const api = gridApi();
    if (api) { api.setGridOption("rowData", []); }
    pending = [];
    tail.held = [];
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    pulseboardLogs: {
      purge: function (view) {
        if (window.dash_ag_grid && window.dash_ag_grid.getApiAsync) {
          window.dash_ag_grid.getApiAsync("logs-grid").then(function (api) {
            api.purgeInfiniteCache();
          });
        }
        return view ? view.q + "|" + view.from + "|" + view.to : null;
      },

      // No search (the query has a mistake): nothing to export.
      exportFields: function (view, gzip) {
        const search = view || {};
        return [
          search.q || "", String(search.from || ""), String(search.to || ""),
          gzip ? "true" : "false", !view,
        ];
      },

      liveTail: function (on, view) {
        const query = view ? view.q : "";
        if (on && !view) {
          // A query with a mistake stops the tail: nothing it shows would match.
          clear();
          status("stopped: correct the query", "danger");
        } else if (on && (!tail.wanted || query !== tail.query)) {
          clear();
          Object.assign(tail, { query: query, lastId: null, dropped: 0, wanted: true });
          connect();
        } else if (!on) {
          stop();
          status("off", "secondary");
        }
        return [{ display: on ? "none" : "block" }, { display: on ? "block" : "none" }];
      },

      pause: function (clicks) {
        tail.paused = clicks % 2 === 1;
        if (!tail.paused && tail.held.length) {
          pending = pending.concat(tail.held);
          tail.held = [];
        }
        return tail.paused ? "Resume" : "Pause";
      },

      follow: function (on) {
        tail.follow = !!on;
        return tail.follow;
      },
    },
  });
})();
