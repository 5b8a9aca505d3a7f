/* mlake Studio: small, dependency-free scripts (grid, SVG charts, SQL highlighting, forms). */
"use strict";
const Studio = (() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  // --- API and messages -------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(problem) { super(problem.message || "Request failed"); this.problem = problem; }
  }
  async function api(path, { method = "GET", body, form, raw } = {}) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (form) opts.body = form;
    else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    const res = await fetch(path, opts);
    if (!res.ok) {
      let problem = { message: `${res.status} ${res.statusText}`, status: res.status };
      try { problem = await res.json(); } catch (e) { /* not JSON */ }
      if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
      throw new ApiError(problem);
    }
    if (raw) return res;
    return res.status === 204 ? null : res.json();
  }
  function toast(message, kind = "info", hint = "") {
    const el = document.createElement("div");
    el.className = "toast " + kind;
    el.innerHTML = esc(message) + (hint ? `<small>${esc(hint)}</small>` : "");
    $("#toasts").appendChild(el);
    setTimeout(() => el.remove(), kind === "error" ? 9000 : 4000);
  }
  const fail = (err) => {
    const p = err.problem || { message: String(err) };
    toast(p.message, "error", p.hint || "");
  };

  // --- grid ----------------------------------------------------------------------------------------
  function fmt(v, kind) {
    if (v === null || v === undefined) return null;
    // numbers as a person reads them: integers in full, floats to 10 significant digits without exponents
    // (2524201.37, not 2.52420e+6) and never with thousands separators (a year is 2009, not 2,009)
    if (kind === "number" && typeof v === "number") return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : (Math.abs(v) >= 1e15 || Math.abs(v) < 1e-4 ? v.toPrecision(6) : String(Number(v.toPrecision(10))));
    if (kind === "time" && typeof v === "string") return v.replace("T", " ").replace(/\+00:00$/, "");
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }
  function grid(el, data, { offset = 0, sort = null, onSort = null } = {}) {
    const cols = data.columns;
    const head = cols.map((c) => {
      const arrow = sort && sort.column === c.name ? `<span class="arrow">${sort.desc ? "▼" : "▲"}</span>` : "";
      return `<th class="${onSort ? "sortable" : ""}" data-col="${esc(c.name)}" title="${esc(c.type)}">${esc(c.name)}${arrow}<span class="t">${esc(c.type)}</span></th>`;
    }).join("");
    const body = data.rows.map((r, i) => `<tr><td class="rownum">${(offset + i + 1).toLocaleString("en-US")}</td>` + r.map((v, j) => {
      const s = fmt(v, cols[j].kind);
      return s === null ? '<td class="null">null</td>' : `<td class="${cols[j].kind === "number" ? "n" : ""}" title="${esc(s)}">${esc(s)}</td>`;
    }).join("") + "</tr>").join("");
    el.innerHTML = `<table class="grid"><thead><tr><th></th>${head}</tr></thead><tbody>${body || `<tr><td></td><td colspan="${cols.length}" class="null">no rows</td></tr>`}</tbody></table>`;
    if (onSort) $$("th.sortable", el).forEach((th) => th.addEventListener("click", () => onSort(th.dataset.col)));
  }

  // --- charts (SVG) ----------------------------------------------------------------------------------
  const PALETTE = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316"];
  function niceTicks(min, max, count = 5) {
    if (!isFinite(min) || !isFinite(max)) return [0, 1];
    if (min === max) { min -= 1; max += 1; }
    const span = max - min, step0 = Math.pow(10, Math.floor(Math.log10(span / count)));
    const err = (span / count) / step0;
    const step = step0 * (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1);
    const ticks = [];
    for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
    if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
    return ticks;
  }
  const short = (v) => {
    if (typeof v !== "number") { const s = String(v ?? "null"); return s.length > 14 ? s.slice(0, 13) + "…" : s; }
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + "B";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
  };
  function autoChart(data) {
    const cols = data.columns;
    const nums = cols.filter((c) => c.kind === "number").map((c) => c.name);
    const time = cols.find((c) => c.kind === "time");
    const text = cols.find((c) => c.kind === "text" || c.kind === "bool");
    // Series share one axis: keep those within 10x of the first one's scale.
    const peak = (name) => Math.max(...data.rows.map((r) => Math.abs(r[cols.findIndex((c) => c.name === name)]) || 0));
    const similar = nums.filter((n) => { const a = peak(nums[0]), b = peak(n); return a && b && Math.max(a, b) / Math.min(a, b) <= 10; });
    const series = similar.length ? similar : nums.slice(0, 1);
    if (time && nums.length) return { type: "line", x: time.name, y: series.slice(0, 3) };
    if (text && nums.length) return { type: "bar", x: text.name, y: series.slice(0, 2) };
    if (nums.length >= 2) return { type: "scatter", x: nums[0], y: [nums[1]] };
    if (nums.length === 1) return { type: "bar", x: null, y: nums };
    return { type: "table", x: null, y: [] };
  }
  function chart(el, data, spec) {
    spec = spec && spec.type && spec.type !== "table" && (spec.y || []).length ? spec : autoChart(data);
    if (!spec || spec.type === "table" || !spec.y.length) { el.innerHTML = '<p class="muted">Nothing to chart: the result needs a numeric column.</p>'; return; }
    const idx = Object.fromEntries(data.columns.map((c, i) => [c.name, i]));
    const ys = spec.y.filter((y) => y in idx);
    if (!ys.length) { el.innerHTML = '<p class="muted">The chart\'s columns are not in the result.</p>'; return; }
    const xKind = spec.x && spec.x in idx ? data.columns[idx[spec.x]].kind : null;
    let rows = data.rows.slice(0, spec.type === "bar" ? 60 : 5000);
    const W = Math.max(360, Math.round(el.clientWidth || 820)), H = Math.round(Math.min(320, Math.max(220, W * 0.42))), m = { l: 56, r: 16, t: 16 + (ys.length > 1 ? 18 : 0), b: 52 };
    const iw = W - m.l - m.r, ih = H - m.t - m.b;
    const xval = (r, i) => spec.x && spec.x in idx ? r[idx[spec.x]] : i + 1;
    const continuous = spec.type !== "bar" && (xKind === "number" || xKind === "time");
    const toNum = (v) => xKind === "time" ? Date.parse(v) : Number(v);
    if (continuous) rows = rows.filter((r) => xval(r) !== null).sort((a, b) => toNum(xval(a)) - toNum(xval(b)));
    const yAll = rows.flatMap((r) => ys.map((y) => r[idx[y]])).filter((v) => typeof v === "number");
    const yt = niceTicks(Math.min(0, ...yAll), Math.max(0, ...yAll));
    const y0 = yt[0], y1 = yt[yt.length - 1];
    const Y = (v) => m.t + ih - ((v - y0) / (y1 - y0 || 1)) * ih;
    let X, xTicks = [];
    if (continuous) {
      const xs = rows.map((r) => toNum(xval(r)));
      const lo = Math.min(...xs), hi = Math.max(...xs);
      X = (r) => m.l + ((toNum(xval(r)) - lo) / (hi - lo || 1)) * iw;
      const n = Math.min(6, rows.length);
      for (let k = 0; k < n; k++) { const r = rows[Math.round(k * (rows.length - 1) / Math.max(n - 1, 1))]; xTicks.push([X(r), xKind === "time" ? String(xval(r)).slice(0, 10) : short(xval(r))]); }
    } else {
      const band = iw / Math.max(rows.length, 1);
      X = (r, i) => m.l + band * i + band / 2;
      const every = Math.ceil(rows.length / 14);
      rows.forEach((r, i) => { if (i % every === 0) xTicks.push([X(r, i), short(xval(r, i))]); });
    }
    const parts = [`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.type)} chart of ${esc(ys.join(", "))}">`];
    parts.push('<g class="grid">' + yt.map((t) => `<line x1="${m.l}" x2="${W - m.r}" y1="${Y(t)}" y2="${Y(t)}"/>`).join("") + "</g>");
    parts.push('<g class="axis">' + yt.map((t) => `<text x="${m.l - 8}" y="${Y(t) + 4}" text-anchor="end">${esc(short(t))}</text>`).join(""));
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(Math.max(y0, Math.min(0, y1)))}" y2="${Y(Math.max(y0, Math.min(0, y1)))}"/>`);
    parts.push(xTicks.map(([x, label]) => `<text x="${x}" y="${H - m.b + 16}" text-anchor="${rows.length > 8 && !continuous ? "end" : "middle"}" ${rows.length > 8 && !continuous ? `transform="rotate(-35 ${x} ${H - m.b + 16})"` : ""}>${esc(label)}</text>`).join("") + "</g>");
    ys.forEach((y, s) => {
      const color = PALETTE[s % PALETTE.length], j = idx[y];
      if (spec.type === "bar") {
        const band = iw / Math.max(rows.length, 1), bw = Math.max(1, (band * 0.8) / ys.length);
        rows.forEach((r, i) => {
          const v = r[j]; if (typeof v !== "number") return;
          const x = m.l + band * i + band * 0.1 + bw * s, top = Y(Math.max(v, 0)), h = Math.abs(Y(v) - Y(0));
          parts.push(`<rect class="bar" x="${x}" y="${top}" width="${bw}" height="${Math.max(h, 0.5)}" rx="2" fill="${color}"><title>${esc(xval(r, i))}: ${esc(y)} = ${esc(fmt(v, "number"))}</title></rect>`);
        });
      } else if (spec.type === "scatter") {
        rows.forEach((r, i) => { const v = r[j]; if (typeof v === "number") parts.push(`<circle class="dot" cx="${X(r, i)}" cy="${Y(v)}" r="3.2" fill="${color}" fill-opacity=".7"><title>${esc(xval(r, i))}, ${esc(fmt(v, "number"))}</title></circle>`); });
      } else {
        const pts = rows.map((r, i) => [X(r, i), r[j]]).filter((p) => typeof p[1] === "number");
        if (!pts.length) return;
        const d = pts.map((p, k) => `${k ? "L" : "M"}${p[0].toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
        if (spec.type === "area") parts.push(`<path d="${d}L${pts[pts.length - 1][0]},${Y(Math.max(y0, 0))}L${pts[0][0]},${Y(Math.max(y0, 0))}Z" fill="${color}" fill-opacity=".18"/>`);
        parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
        if (pts.length <= 60) pts.forEach((p) => parts.push(`<circle cx="${p[0]}" cy="${Y(p[1])}" r="2.5" fill="${color}"><title>${esc(fmt(p[1], "number"))}</title></circle>`));
      }
    });
    if (ys.length > 1) parts.push('<g class="legend">' + ys.map((y, s) => `<rect x="${m.l + s * 150}" y="4" width="10" height="10" rx="2" fill="${PALETTE[s % PALETTE.length]}"/><text x="${m.l + s * 150 + 15}" y="13">${esc(y)}</text>`).join("") + "</g>");
    parts.push("</svg>");
    el.innerHTML = parts.join("");
  }

  // --- SQL highlighting ------------------------------------------------------------------------------
  const KEYWORDS = new Set(("select from where group by order having limit offset join left right inner outer full cross on using as and or not in is null " +
    "like ilike between case when then else end distinct union all except intersect with recursive asc desc nulls first last create table insert into " +
    "values replace if exists at version timestamp over partition rows range preceding following current row window filter qualify true false " +
    "interval cast try_cast by name exclude columns pivot unpivot lateral natural semi anti any some array struct map describe summarize explain analyze").split(" "));
  function highlight(sql) {
    const re = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)(?=\s*\()|([A-Za-z_][A-Za-z0-9_]*)|([<>=!|:+\-*/%.,;()[\]{}]+)/gi;
    let out = "", last = 0, m;
    while ((m = re.exec(sql))) {
      out += esc(sql.slice(last, m.index));
      const [t] = m;
      let cls = null;
      if (m[1]) cls = "c"; else if (m[2]) cls = "s"; else if (m[3]) cls = "q"; else if (m[4]) cls = "n";
      else if (m[5]) cls = KEYWORDS.has(t.toLowerCase()) ? "k" : "f";
      else if (m[6]) cls = KEYWORDS.has(t.toLowerCase()) ? "k" : null;
      else if (m[7]) cls = "o";
      out += cls ? `<span class="hl-${cls}">${esc(t)}</span>` : esc(t);
      last = re.lastIndex;
    }
    return out + esc(sql.slice(last)) + "\n";
  }

  // --- shared page behaviour -----------------------------------------------------------------------------
  function typing(e) { const t = e.target; return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable); }
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && !typing(e) && !e.ctrlKey && !e.metaKey) { const s = $("#global-search"); if (s) { e.preventDefault(); s.focus(); s.select(); } }
    if (e.key === "Escape" && typing(e)) e.target.blur();
  });
  document.addEventListener("click", (e) => {
    const open = e.target.closest("[data-open]");
    if (open) { const d = document.getElementById(open.dataset.open); if (d) d.showModal(); }
    const close = e.target.closest("[data-close]");
    if (close) { const d = close.closest("dialog"); if (d) d.close(); }
  });
  function formJson(form) {
    const out = {};
    new FormData(form).forEach((v, k) => { out[k] = v; });
    $$("input[type=checkbox]", form).forEach((c) => { out[c.name] = c.checked; });
    return out;
  }
  function wireUpload() {
    const form = $("#upload-form");
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const btn = $("button[type=submit]", form), result = $(".upload-result", form);
      btn.disabled = true; btn.textContent = "Uploading…";
      try {
        const r = await api("/api/v1/ingest", { method: "POST", form: new FormData(form) });
        result.innerHTML = `<div class="alert info">${esc(r.summary)}</div>`;
        toast("Uploaded into " + r.table, "ok");
        setTimeout(() => { location.href = "/tables/" + r.table + "?tab=data"; }, 900);
      } catch (err) { fail(err); } finally { btn.disabled = false; btn.textContent = "Upload"; }
    });
  }
  function wireMetadata() {
    const form = $("#metadata-form");
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = formJson(form), tags = {};
      (f.tags || "").split(",").map((s) => s.trim()).filter(Boolean).forEach((t) => { const [k, ...v] = t.split("="); tags[k.trim()] = v.join("=").trim(); });
      const body = { description: f.description, tags };
      if ("owner" in f) body.owner = f.owner;
      try { await api(`/api/v1/tables/${form.dataset.table}`, { method: "PATCH", body }); toast("Saved", "ok"); setTimeout(() => location.reload(), 400); } catch (err) { fail(err); }
    });
  }

  // --- table page: rows with paging, sorting, filter, time travel -------------------------------------
  function tablePage() {
    const host = $("#rows");
    if (!host) return;
    const table = host.dataset.table, snapshot = host.dataset.snapshot;
    const state = { offset: 0, limit: 50, sort: null, where: "" };
    let latest = 0;  // answers to superseded requests (a fast second click) are dropped
    const load = async () => {
      const mine = ++latest;
      const q = new URLSearchParams({ limit: state.limit, offset: state.offset });
      if (state.sort) { q.set("order_by", state.sort.column); q.set("desc", state.sort.desc); }
      if (snapshot) q.set("snapshot_id", snapshot);
      if (state.where) q.set("where", state.where);
      host.classList.add("loading");
      try {
        const data = await api(`/api/v1/tables/${table}/rows?${q}`);
        if (mine !== latest) return;
        grid(host, data, { offset: state.offset, sort: state.sort, onSort: (col) => {
          state.sort = state.sort && state.sort.column === col ? (state.sort.desc ? null : { column: col, desc: true }) : { column: col, desc: false };
          state.offset = 0; load();
        } });
        $("#prev").disabled = state.offset === 0;
        $("#next").disabled = !data.has_more;
        const total = data.total_rows != null ? ` of ${Number(data.total_rows).toLocaleString("en-US")}` : "";
        $("#page-info").textContent = data.rows.length ? `rows ${(state.offset + 1).toLocaleString("en-US")}–${(state.offset + data.rows.length).toLocaleString("en-US")}${total}` : "no rows";
      } catch (err) { host.innerHTML = `<div class="alert deny">${esc(err.problem ? err.problem.message : err)}</div>`; fail(err); }
      finally { host.classList.remove("loading"); }
    };
    $("#prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); load(); });
    $("#next").addEventListener("click", () => { state.offset += state.limit; load(); });
    $("#rows-filter").addEventListener("submit", (e) => { e.preventDefault(); state.where = new FormData(e.target).get("where").trim(); state.offset = 0; load(); });
    document.addEventListener("keydown", (e) => {
      if (typing(e)) return;
      if (e.key === "ArrowRight" && !$("#next").disabled) $("#next").click();
      if (e.key === "ArrowLeft" && !$("#prev").disabled) $("#prev").click();
    });
    load();
  }

  // --- SQL page ------------------------------------------------------------------------------------------
  function sqlPage() {
    const input = $("#sql-input"), hl = $("#sql-highlight"), pre = $(".editor pre");
    let last = null, lastSql = "";
    const paint = () => { hl.innerHTML = highlight(input.value); pre.scrollTop = input.scrollTop; pre.scrollLeft = input.scrollLeft; };
    input.addEventListener("input", paint);
    input.addEventListener("scroll", () => { pre.scrollTop = input.scrollTop; pre.scrollLeft = input.scrollLeft; });
    input.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); run(); }
      if (e.key === "Tab" && !e.shiftKey) { e.preventDefault(); const s = input.selectionStart; input.setRangeText("  ", s, input.selectionEnd, "end"); paint(); }
    });
    paint();
    $$("[data-insert]").forEach((b) => b.addEventListener("click", () => { input.setRangeText(b.dataset.insert, input.selectionStart, input.selectionEnd, "end"); input.focus(); paint(); }));
    $("#table-filter").addEventListener("input", (e) => { const q = e.target.value.toLowerCase(); $$("#sql-tables li").forEach((li) => { li.hidden = !li.textContent.toLowerCase().includes(q); }); });
    const selY = $("#chart-y"), selX = $("#chart-x"), selT = $("#chart-type");
    const currentSpec = () => ({ type: selT.value, x: selX.value || null, y: Array.from(selY.selectedOptions).map((o) => o.value) });
    const drawChart = () => { if (last) chart($("#chart"), last, currentSpec()); };
    [selX, selY, selT].forEach((s) => s.addEventListener("change", drawChart));
    $$(".result .tabs a").forEach((a) => a.addEventListener("click", (e) => {
      e.preventDefault();
      $$(".result .tabs a").forEach((x) => x.classList.toggle("active", x === a));
      $("#grid").hidden = a.dataset.view !== "grid"; $("#chart-panel").hidden = a.dataset.view !== "chart";
      if (a.dataset.view === "chart") drawChart();
    }));
    async function run() {
      const sql = input.value.trim();
      if (!sql) return;
      $("#status").textContent = "Running…";
      $("#run").disabled = true;
      try {
        const data = await api("/api/v1/sql", { method: "POST", body: { sql, limit: 1000 } });
        last = data; lastSql = sql;
        $("#result").hidden = false;
        grid($("#grid"), data);
        $("#status").textContent = `${data.rows.length.toLocaleString("en-US")}${data.truncated ? "+" : ""} rows · ${data.elapsed_ms} ms`;
        const spec = autoChart(data);
        selX.innerHTML = '<option value="">(row number)</option>' + data.columns.map((c) => `<option ${c.name === spec.x ? "selected" : ""}>${esc(c.name)}</option>`).join("");
        selY.innerHTML = data.columns.filter((c) => c.kind === "number").map((c) => `<option ${spec.y.includes(c.name) ? "selected" : ""}>${esc(c.name)}</option>`).join("");
        selY.size = Math.min(4, Math.max(1, selY.options.length));
        if (spec.type !== "table") selT.value = spec.type;
        ["#download-csv", "#download-parquet", "#save-table", "#save-query"].forEach((s) => { $(s).disabled = false; });
        if (!$("#chart-panel").hidden) drawChart();
      } catch (err) {
        $("#status").innerHTML = `<span class="warn-text">${esc(err.problem ? err.problem.message : err)}</span>`;
        fail(err);
      } finally { $("#run").disabled = false; }
    }
    $("#run").addEventListener("click", run);
    async function download(format) {
      try {
        const res = await api("/api/v1/sql/export", { method: "POST", body: { sql: lastSql, format }, raw: true });
        const blob = await res.blob(), a = document.createElement("a");
        a.href = URL.createObjectURL(blob); a.download = `result.${format}`; a.click();
        setTimeout(() => URL.revokeObjectURL(a.href), 5000);
      } catch (err) { fail(err); }
    }
    $("#download-csv").addEventListener("click", () => download("csv"));
    $("#download-parquet").addEventListener("click", () => download("parquet"));
    $("#save-table").addEventListener("click", () => $("#save-table-dialog").showModal());
    $("#save-table-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = formJson(e.target);
      try { const t = await api("/api/v1/sql/save", { method: "POST", body: { sql: lastSql, table: f.table, mode: f.mode } }); $("#save-table-dialog").close(); toast(`Saved ${t.name} (${t.rows} rows)`, "ok"); }
      catch (err) { fail(err); }
    });
    const dsel = $("#save-query-form select[name=dashboard]");
    dsel.addEventListener("change", () => { $(".new-dashboard").hidden = dsel.value !== "new"; });
    $("#save-query").addEventListener("click", () => $("#save-query-dialog").showModal());
    $("#save-query-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = formJson(e.target), spec = currentSpec();
      try {
        const q = await api("/api/v1/queries", { method: "POST", body: { name: f.name, sql: lastSql, chart: spec.y.length ? spec : autoChart(last) } });
        let board = f.dashboard;
        if (board === "new") board = (await api("/api/v1/dashboards", { method: "POST", body: { name: f.new_dashboard || f.name } })).id;
        if (board) { await api(`/api/v1/dashboards/${board}/tiles`, { method: "POST", body: { query_id: q.id, width: 1 } }); }
        $("#save-query-dialog").close();
        toast(board ? "Saved and pinned" : "Saved", "ok");
        if (board) setTimeout(() => { location.href = "/dashboards/" + board; }, 600);
      } catch (err) { fail(err); }
    });
    input.focus();
    if (new URLSearchParams(location.search).get("run") === "1") run();
  }

  // --- dashboards ------------------------------------------------------------------------------------------
  function dashboardsPage() {
    const form = $("#new-dashboard-form");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = formJson(form);
      try { const d = await api("/api/v1/dashboards", { method: "POST", body: { name: f.name, description: f.description || null, refresh_seconds: Number(f.refresh_seconds || 0) } }); location.href = "/dashboards/" + d.id; }
      catch (err) { fail(err); }
    });
    $$("[data-delete-query]").forEach((b) => b.addEventListener("click", async () => {
      if (!confirm("Delete this saved query? Its tiles are removed from dashboards.")) return;
      try { await api("/api/v1/queries/" + b.dataset.deleteQuery, { method: "DELETE" }); location.reload(); } catch (err) { fail(err); }
    }));
  }
  function dashboardPage() {
    const host = $("#tiles"), id = host.dataset.dashboard, every = Number(host.dataset.refresh || 0);
    const refresh = async () => {
      await Promise.all($$(".tile", host).map(async (tile) => {
        const body = $(".tile-body", tile);
        try {
          const data = await api(`/api/v1/queries/${tile.dataset.query}/run`, { method: "POST" });
          const spec = JSON.parse(tile.dataset.chart || "{}");
          if (spec.type === "table") { body.innerHTML = '<div class="grid-host"></div>'; grid($(".grid-host", body), data); }
          else chart(body, data, spec);
        } catch (err) { body.innerHTML = `<div class="alert deny">${esc(err.problem ? err.problem.message : err)}</div>`; }
      }));
      $("#refreshed").textContent = "updated " + new Date().toLocaleTimeString() + (every ? ` · every ${every}s` : "");
    };
    $("#refresh-now").addEventListener("click", refresh);
    $$("[data-unpin]").forEach((b) => b.addEventListener("click", async () => {
      try { await api(`/api/v1/dashboards/${id}/tiles/${b.dataset.unpin}`, { method: "DELETE" }); location.reload(); } catch (err) { fail(err); }
    }));
    $("#pin-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = formJson(e.target);
      try { await api(`/api/v1/dashboards/${id}/tiles`, { method: "POST", body: { query_id: Number(f.query_id), width: Number(f.width) } }); location.reload(); } catch (err) { fail(err); }
    });
    refresh();
    if (every > 0) setInterval(() => { if (!document.hidden) refresh(); }, every * 1000);
  }

  // --- access ------------------------------------------------------------------------------------------------
  function accessPage() {
    $$("form[data-api]").forEach((form) => form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = formJson(form);
      if ("roles" in body) body.roles = String(body.roles).split(",").map((s) => s.trim()).filter(Boolean);
      try { await api(form.dataset.api, { method: form.dataset.method, body }); toast("Saved", "ok"); setTimeout(() => location.reload(), 300); } catch (err) { fail(err); }
    }));
    $$("[data-delete]").forEach((b) => b.addEventListener("click", async () => {
      try { await api(b.dataset.delete, { method: "DELETE" }); location.reload(); } catch (err) { fail(err); }
    }));
    $$("[data-token]").forEach((b) => b.addEventListener("click", async () => {
      try {
        const t = await api("/api/v1/tokens", { method: "POST", body: { principal: b.dataset.token, description: "created in Studio" } });
        $("#token-value").value = t.token; $("#token-dialog").showModal(); $("#token-value").select();
      } catch (err) { fail(err); }
    }));
  }

  const pages = { sqlPage, dashboardsPage, dashboardPage, accessPage };
  document.addEventListener("DOMContentLoaded", () => {
    wireUpload(); wireMetadata(); tablePage();
    const page = pages[document.body.dataset.page];
    if (page) page();
  });
  document.addEventListener("click", (e) => { if (e.target.closest("[data-reload]")) location.reload(); });
  return { api, toast, grid, chart, autoChart, highlight, ...pages };
})();
