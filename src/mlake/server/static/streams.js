/* mlake Studio — a stream's page: the live tail and the charts, polled from /streams/NAME/live.
   Charts arrive drawn (SVG from the server's chart kit); records are written with textContent. */
"use strict";
(() => {
  const root = document.getElementById("s-live");
  if (!root) return;
  const stream = root.dataset.stream;
  const body = document.querySelector("#s-tail tbody");
  const button = document.getElementById("s-pause");
  const state = document.getElementById("s-live-state");
  const EVERY_MS = 2000, CHARTS_EVERY = 5, KEEP = 50;
  let cursor = root.dataset.cursor || "";
  let paused = false, polls = 0, timer = null, busy = false;

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function addRecords(records) {
    if (!records.length) return;
    const empty = document.getElementById("s-tail-empty");
    if (empty) empty.remove();
    for (const r of records.slice().reverse()) {  // newest ends up first
      const tr = document.createElement("tr");
      tr.className = "s-new";
      tr.append(cell(r.at), cell(r.partition), cell(r.sequence), cell(r.key), cell(r.value, "cmd"));
      body.prepend(tr);
    }
    while (body.rows.length > KEEP) body.deleteRow(body.rows.length - 1);
  }
  function drawCharts(data) {
    document.getElementById("s-throughput").innerHTML = data.throughput_svg;  // escaped by the server's chart kit
    const lags = document.getElementById("s-lags");
    if (lags && data.lag_svgs.length) {
      const grid = document.createElement("div");
      grid.className = "m-charts";
      grid.id = "s-lags";
      for (const l of data.lag_svgs) {
        const box = document.createElement("div");
        box.className = "m-series";
        box.dataset.consumer = l.consumer;
        const h = document.createElement("h3");
        h.textContent = l.consumer + " ";
        const small = document.createElement("small");
        small.className = "muted";
        small.textContent = l.caption;
        h.append(small);
        box.append(h);
        box.insertAdjacentHTML("beforeend", l.svg);
        grid.append(box);
      }
      lags.replaceWith(grid);
    }
    document.getElementById("s-rate").textContent =
      `${data.records_last_minute} record(s) in the last minute (${data.records_per_second.toFixed(1)}/s)`;
    document.getElementById("s-at").textContent = data.at;
  }
  async function poll() {
    if (paused || busy) return;
    busy = true;
    try {
      const charts = ++polls % CHARTS_EVERY === 0;
      const q = new URLSearchParams({ from: cursor, charts: charts ? "true" : "false" });
      const data = await Studio.api(`/streams/${encodeURIComponent(stream)}/live?${q}`);
      if (paused) return;  // paused while the request was out: drop what came back, keep the old cursor
      cursor = data.cursor;
      root.dataset.cursor = cursor;
      addRecords(data.records);
      if (charts) drawCharts(data);
      state.textContent = "live · " + new Date().toLocaleTimeString();
    } catch (err) {
      state.textContent = "stopped: " + ((err.problem && err.problem.message) || String(err));
      clearInterval(timer);
    } finally {
      busy = false;
    }
  }
  button.addEventListener("click", () => {
    paused = !paused;
    button.textContent = paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(paused));
    state.textContent = paused ? "paused" : "live";
    if (!paused) poll();
  });
  timer = setInterval(poll, EVERY_MS);
})();
