/* The annotate page: label items of your queue with the keyboard, one widget per task type.

   Speed: the page carries the first items; more are fetched (and their images decoded) while you work,
   so a key press renders the next item from memory. Answers are posted in the background; a refused one
   (e.g. answered meanwhile in another tab) shows a toast and is marked in the history (←).
   After each item is drawn the page dispatches `labeling:shown` (detail: {item_id}) on document, which
   the browser tests and the latency benchmark listen to. */
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const data = JSON.parse($("#label-data").textContent);
  const P = data.project;
  const task = P.task;
  const KEYS = data.keys; // [{key: "1", label}]
  const LOW = 12, BATCH = 30; // fetch more when fewer than LOW items are waiting
  const base = `/api/v1/labeling/projects/${encodeURIComponent(P.name)}`;

  const queue = [];
  const seen = new Set();
  const history = []; // {item, answer, status: "sending" | "saved" | "refused", message}
  let back = 0; // > 0: looking at history[history.length - back]
  let live = null; // the item and answer in progress while looking back
  let current = null, state = null, shownAt = 0;
  let fetching = null, exhausted = false, saved = 0;
  const images = new Map(); // item_id -> decoded HTMLImageElement (boxes)

  const itemEl = $("#label-item"), widgetEl = $("#label-widget"), statusEl = $("#label-status");

  function toast(message, kind = "error") {
    const el = document.createElement("div");
    el.className = "toast " + kind;
    el.textContent = message;
    $("#toasts").appendChild(el);
    setTimeout(() => el.remove(), 6000);
  }

  // --- the queue --------------------------------------------------------------------------------------
  function enqueue(items) {
    let added = 0;
    for (const it of items) {
      if (seen.has(it.item_id)) continue;
      seen.add(it.item_id);
      queue.push(it);
      preload(it);
      added++;
    }
    return added;
  }
  function preload(it) {
    if (!data.image_url || images.has(it.item_id)) return;
    const img = new Image();
    img.src = data.image_url + encodeURIComponent(it.item_id);
    images.set(it.item_id, img);
    if (img.decode) img.decode().catch(() => {});
  }
  function refill() {
    if (fetching || exhausted || queue.length >= LOW) return fetching;
    // the server does not know which items this page holds: ask for enough to get BATCH new ones
    const n = Math.min(500, queue.length + history.filter((h) => h.status === "sending").length + BATCH);
    fetching = fetch(`${base}/next?n=${n}`, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${r.status} ${r.statusText}`))))
      .then((items) => { if (!enqueue(items) && items.length < n) exhausted = true; }) // nothing more to answer
      .catch((e) => toast("Could not fetch more items: " + e.message))
      .finally(() => { fetching = null; });
    return fetching;
  }

  // --- drawing an item ----------------------------------------------------------------------------------
  const hue = (label) => (Math.max(0, P.labels.indexOf(label)) * 67 + 210) % 360;
  function mainText(row) {
    // the text an item is about: the first string column that is not its id (as the server checks spans)
    for (const [k, v] of Object.entries(row)) if (typeof v === "string" && k !== P.id_column && String(v) !== current.item_id) return v;
    return "";
  }
  function fieldsHtml(row, skip = []) {
    const rows = Object.entries(row).filter(([k]) => !skip.includes(k) && k !== "uri" && k !== "sha256");
    return `<dl class="fields">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : v)}</dd>`).join("")}</dl>`;
  }
  function optionsHtml(selected, ranks) {
    return `<div class="options" role="group">${KEYS.map((k, i) => {
      const on = selected.has(String(k.label)) ? " on" : "";
      const rank = ranks && ranks.indexOf(k.label) >= 0 ? `<span class="rank">#${ranks.indexOf(k.label) + 1}</span>` : "";
      return `<button type="button" class="option${on}" data-i="${i}">${k.key ? `<kbd>${k.key}</kbd>` : ""}${esc(k.label)}${rank}</button>`;
    }).join("")}</div>`;
  }
  function spansHtml(text, spans) {
    const sorted = [...spans].sort((a, b) => a.start - b.start);
    let out = "", at = 0;
    for (const s of sorted) {
      out += esc(text.slice(at, s.start)) + `<mark class="c${Math.max(0, P.labels.indexOf(s.label)) % 9}" data-label="${esc(s.label)}">${esc(text.slice(s.start, s.end))}</mark>`;
      at = s.end;
    }
    return out + esc(text.slice(at));
  }

  function fresh() {
    if (task === "multilabel") return { on: new Set() };
    if (task === "classification" || task === "rating") return { pick: null };
    if (task === "ranking") return { order: [] };
    if (task === "spans") return { spans: [], current: P.labels[0] };
    if (task === "boxes") return { boxes: [], current: P.labels[0] };
    return { text: "" };
  }

  function drawItem(item, readonly) {
    const row = item.row;
    if (task === "spans") {
      itemEl.innerHTML = `<div class="text" id="span-text">${spansHtml(mainText(row), state.spans)}</div>`;
    } else if (task === "boxes") {
      const img = images.get(item.item_id) || (preload(item), images.get(item.item_id));
      itemEl.innerHTML = `<div class="boxes-stage" id="box-stage"></div><div class="small muted">${esc(row.path || item.item_id)}${row.width ? ` · ${row.width}×${row.height}` : ""}</div>`;
      const stage = $("#box-stage");
      img.draggable = false;
      stage.appendChild(img);
      drawBoxes();
      if (!readonly) bindBoxes(stage, img, row);
    } else if (task === "ranking") {
      const named = P.labels.filter((l) => Object.prototype.hasOwnProperty.call(row, l));
      itemEl.innerHTML = named.length ? `<div class="pair">${named.map((l) => `<div><b>${esc(l)}</b>${esc(row[l])}</div>`).join("")}</div>` : fieldsHtml(row, [P.id_column]);
    } else {
      const text = mainText(row);
      itemEl.innerHTML = (text && text.length > 40 ? `<div class="text">${esc(text)}</div>` : "") + fieldsHtml(row, text && text.length > 40 ? [P.id_column] : []);
    }
    drawWidget(readonly);
  }

  function drawWidget(readonly) {
    if (task === "classification" || task === "rating") {
      widgetEl.innerHTML = optionsHtml(new Set(state.pick === null ? [] : [String(state.pick)])) +
        (task === "rating" ? `<label class="small">or type <input type="number" id="rating-input" step="any" min="${P.bounds[0]}" max="${P.bounds[1]}" value="${state.pick ?? ""}"${readonly ? " disabled" : ""}></label>` : "");
    } else if (task === "multilabel") {
      widgetEl.innerHTML = optionsHtml(state.on);
    } else if (task === "ranking") {
      widgetEl.innerHTML = optionsHtml(new Set(state.order.map(String)), state.order);
    } else if (task === "spans" || task === "boxes") {
      const list = task === "spans" ? state.spans.map((s) => `${s.label}: “${mainText(current.row).slice(s.start, s.end)}”`) : state.boxes.map((b) => `${b.label}: ${Math.round(b.x_min)},${Math.round(b.y_min)} – ${Math.round(b.x_max)},${Math.round(b.y_max)}`);
      widgetEl.innerHTML = optionsHtml(new Set([String(state.current)])) + `<ul class="span-list">${list.map((s) => `<li class="pill">${esc(s)}</li>`).join("")}</ul>`;
    } else {
      widgetEl.innerHTML = `<textarea id="text-answer" placeholder="Your answer"${readonly ? " disabled" : ""}>${esc(state.text)}</textarea>`;
      const ta = $("#text-answer");
      ta.addEventListener("input", () => { state.text = ta.value; });
      if (!readonly) ta.focus();
    }
    widgetEl.querySelectorAll(".option").forEach((b) => b.addEventListener("click", () => { if (!back) pick(Number(b.dataset.i)); }));
    const ri = $("#rating-input");
    if (ri) ri.addEventListener("input", () => { state.pick = ri.value === "" ? null : Number(ri.value); });
  }

  function show(item) {
    current = item;
    state = fresh();
    back = 0;
    statusEl.className = "label-status";
    statusEl.textContent = `Item ${item.item_id}` + (queue.length ? ` · ${queue.length} more ready` : "");
    drawItem(item, false);
    shownAt = performance.now();
    document.body.dataset.item = item.item_id;
    document.dispatchEvent(new CustomEvent("labeling:shown", { detail: { item_id: item.item_id } }));
  }
  function showDone() {
    current = null;
    itemEl.innerHTML = `<div class="label-done"><h2>All done</h2><p class="muted">Your queue is empty. <a href="/labeling/${encodeURIComponent(P.name)}">Back to the project</a></p></div>`;
    widgetEl.innerHTML = "";
    statusEl.textContent = "";
    document.body.dataset.item = "";
    document.dispatchEvent(new CustomEvent("labeling:shown", { detail: { item_id: null } }));
  }
  function advance() {
    const next = queue.shift();
    if (next) { show(next); refill(); return; }
    const pending = refill();
    if (pending) {
      itemEl.innerHTML = '<p class="muted">Loading…</p>';
      pending.then(() => (queue.length ? show(queue.shift()) : showDone())).then(() => refill());
    } else showDone();
  }
  function goBack() {
    if (back >= history.length) return;
    if (!back) live = { item: current, state };
    back++;
    showHistory();
  }
  function goForward() {
    if (back > 1) { back--; showHistory(); return; }
    if (!back) return;
    back = 0;
    const was = live;
    live = null;
    if (!was || !was.item) { showDone(); return; }
    current = was.item; state = was.state;
    statusEl.className = "label-status";
    statusEl.textContent = `Item ${current.item_id}`;
    drawItem(current, false);
    document.body.dataset.item = current.item_id;
  }
  function showHistory() {
    const h = history[history.length - back];
    current = h.item;
    state = restore(h.answer);
    statusEl.className = "label-status back";
    statusEl.textContent = `Answered before (${back} back): ${h.status}${h.message ? " — " + h.message : ""}. → or Esc returns.`;
    drawItem(h.item, true);
    document.body.dataset.item = h.item.item_id;
  }
  function restore(answer) {
    const s = fresh();
    if (task === "multilabel") s.on = new Set(answer.map(String));
    else if (task === "classification" || task === "rating") s.pick = answer;
    else if (task === "ranking") s.order = answer;
    else if (task === "spans") s.spans = answer;
    else if (task === "boxes") s.boxes = answer;
    else s.text = answer;
    return s;
  }

  // --- answering ----------------------------------------------------------------------------------------
  function pick(i) {
    const k = KEYS[i];
    if (!k) return;
    if (task === "classification" || task === "rating") state.pick = k.label;
    else if (task === "multilabel") { const v = String(k.label); state.on.has(v) ? state.on.delete(v) : state.on.add(v); }
    else if (task === "ranking") {
      if (!state.order.includes(k.label)) state.order.push(k.label);
      if (state.order.length === P.labels.length - 1) state.order.push(P.labels.find((l) => !state.order.includes(l)));
    } else if (task === "spans") {
      state.current = k.label;
      if (addSpanFromSelection(k.label)) return;
    } else if (task === "boxes") state.current = k.label;
    drawWidget(false);
  }
  function addSpanFromSelection(label) {
    const sel = window.getSelection();
    const host = $("#span-text");
    if (!sel || sel.isCollapsed || !host || !host.contains(sel.anchorNode)) return false;
    const range = sel.getRangeAt(0);
    const offset = (node, off) => { const r = document.createRange(); r.selectNodeContents(host); r.setEnd(node, off); return r.toString().length; }; // labels are drawn by CSS (::after), not text
    let start = offset(range.startContainer, range.startOffset), end = offset(range.endContainer, range.endOffset);
    if (end < start) [start, end] = [end, start];
    const text = mainText(current.row);
    while (start < end && /\s/.test(text[start])) start++; // a double-click selects the word and its space
    while (end > start && /\s/.test(text[end - 1])) end--;
    sel.removeAllRanges();
    if (end <= start) return false;
    if (state.spans.some((s) => s.start < end && start < s.end)) { toast("Spans may not overlap", "info"); return true; }
    state.spans.push({ start, end, label });
    drawItem(current, false);
    return true;
  }
  function drawBoxes() {
    const stage = $("#box-stage");
    if (!stage) return;
    stage.querySelectorAll(".box").forEach((b) => b.remove());
    const img = stage.querySelector("img");
    const sx = img.naturalWidth ? img.clientWidth / img.naturalWidth : 1, sy = img.naturalHeight ? img.clientHeight / img.naturalHeight : 1;
    for (const b of state.boxes) {
      const el = document.createElement("div");
      el.className = "box";
      el.style.cssText = `--h: ${hue(b.label)}; left: ${b.x_min * sx}px; top: ${b.y_min * sy}px; width: ${(b.x_max - b.x_min) * sx}px; height: ${(b.y_max - b.y_min) * sy}px`;
      el.innerHTML = `<span>${esc(b.label)}</span>`;
      stage.appendChild(el);
    }
  }
  function bindBoxes(stage, img, row) {
    if (!img.complete) img.addEventListener("load", drawBoxes, { once: true });
    let start = null, ghost = null;
    const point = (e) => {
      const r = img.getBoundingClientRect();
      const w = img.naturalWidth || row.width || r.width, h = img.naturalHeight || row.height || r.height;
      const x = Math.min(Math.max(e.clientX - r.left, 0), r.width), y = Math.min(Math.max(e.clientY - r.top, 0), r.height);
      return { x: Math.round((x * w) / r.width * 10) / 10, y: Math.round((y * h) / r.height * 10) / 10, px: x, py: y };
    };
    stage.addEventListener("pointerdown", (e) => {
      if (back || e.button !== 0) return;
      e.preventDefault();
      stage.setPointerCapture(e.pointerId);
      start = point(e);
      ghost = document.createElement("div");
      ghost.className = "box";
      ghost.style.setProperty("--h", hue(state.current));
      stage.appendChild(ghost);
    });
    stage.addEventListener("pointermove", (e) => {
      if (!start) return;
      const p = point(e);
      ghost.style.left = Math.min(p.px, start.px) + "px"; ghost.style.top = Math.min(p.py, start.py) + "px";
      ghost.style.width = Math.abs(p.px - start.px) + "px"; ghost.style.height = Math.abs(p.py - start.py) + "px";
    });
    stage.addEventListener("pointerup", (e) => {
      if (!start) return;
      const p = point(e);
      ghost.remove();
      const box = { x_min: Math.min(start.x, p.x), y_min: Math.min(start.y, p.y), x_max: Math.max(start.x, p.x), y_max: Math.max(start.y, p.y), label: state.current };
      start = null;
      if (box.x_max - box.x_min >= 2 && box.y_max - box.y_min >= 2) { state.boxes.push(box); drawBoxes(); drawWidget(false); }
    });
  }

  function answerOf() {
    if (task === "classification") return state.pick === null ? undefined : state.pick;
    if (task === "rating") return state.pick === null || Number.isNaN(state.pick) ? undefined : state.pick;
    if (task === "multilabel") return P.labels.filter((l) => state.on.has(String(l)));
    if (task === "ranking") return state.order.length === P.labels.length ? state.order : undefined;
    if (task === "spans") return state.spans;
    if (task === "boxes") return state.boxes;
    return state.text.trim() ? state.text : undefined;
  }
  function submit() {
    if (!current || back) return;
    const answer = answerOf();
    if (answer === undefined) { statusEl.textContent = task === "ranking" ? "Rank every option first." : "Pick an answer first."; return; }
    const item = current, seconds = Math.round((performance.now() - shownAt) / 10) / 100;
    const entry = { item, answer, status: "sending", message: "" };
    history.push(entry);
    $("#label-counter").textContent = `${history.length} submitted`;
    advance(); // the next item first: the answer travels while it is on screen
    outbox.push({ entry, body: { item_id: item.item_id, answer, seconds } });
    pump();
  }
  // One request at a time, with every answer waiting: a browser opens only six connections to a server,
  // and posts waiting on the server's commits must never hold up the fetch of the next items; answers
  // that queue up while one commit runs travel together in the next (one commit for all of them).
  const outbox = [];
  let posting = false;
  function pump() {
    if (posting || !outbox.length) return;
    posting = true;
    const batch = outbox.splice(0, 200);
    const one = batch.length === 1;
    fetch(one ? `${base}/answers` : `${base}/answers/batch`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(one ? batch[0].body : batch.map((b) => b.body)),
    }).then(async (r) => {
      let p = {}; try { p = await r.json(); } catch (e) { /* not JSON */ }
      if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
      const results = r.ok ? (one ? [{ status: "saved" }] : p) : batch.map(() => ({ status: "refused", message: p.message || `${r.status}` }));
      batch.forEach(({ entry }, i) => {
        const res = results[i] || { status: "refused", message: "no answer from the server" };
        if (res.status === "saved") { entry.status = "saved"; saved++; return; }
        entry.status = "refused"; entry.message = res.message;
        toast(`Item ${entry.item.item_id}: ${entry.message}`);
      });
      $("#label-saved").textContent = `${saved} saved`;
    }).catch((e) => {
      batch.forEach(({ entry }) => { entry.status = "refused"; entry.message = String(e); });
      toast(`${batch.length} answer(s) not saved: ${e}`);
    }).finally(() => { posting = false; pump(); });
  }
  window.addEventListener("beforeunload", (e) => { if (outbox.length || posting) e.preventDefault(); });
  function skip() {
    if (!current || back) return;
    advance();
  }
  function undoLast() {
    if (task === "spans" && state.spans.length) { state.spans.pop(); drawItem(current, false); }
    else if (task === "boxes" && state.boxes.length) { state.boxes.pop(); drawBoxes(); drawWidget(false); }
    else if (task === "ranking" && state.order.length) { state.order.pop(); drawWidget(false); }
  }

  // --- keys ---------------------------------------------------------------------------------------------
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target, typing = t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type !== "number") || t.isContentEditable);
    if (typing) {
      if (e.key === "Enter" && !e.shiftKey && t.id === "text-answer") { e.preventDefault(); submit(); }
      return;
    }
    if (e.key === "ArrowLeft") { e.preventDefault(); goBack(); return; }
    if (e.key === "ArrowRight" || (e.key === "Escape" && back)) { e.preventDefault(); goForward(); return; }
    if (back) return;
    if (e.key === "Enter") { e.preventDefault(); submit(); return; }
    if (t && t.id === "rating-input") return; // digits go into the number box
    if (e.key === "s") { e.preventDefault(); skip(); return; }
    if (e.key === "Backspace" || e.key === "Delete") { e.preventDefault(); undoLast(); return; }
    if (/^[1-9]$/.test(e.key)) {
      const i = KEYS.findIndex((k) => k.key === e.key);
      if (i >= 0) { e.preventDefault(); pick(i); }
    }
  });
  $("#label-submit").addEventListener("click", submit);
  $("#label-skip").addEventListener("click", skip);
  $("#label-prev").addEventListener("click", goBack);

  enqueue(data.items);
  advance();
})();
