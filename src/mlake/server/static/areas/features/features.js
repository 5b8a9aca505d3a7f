/* Studio: the feature store's pages. Builds on studio.js (Studio.api, Studio.grid, Studio.toast). */
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const fail = (err) => { const p = err.problem || { message: String(err) }; Studio.toast(p.message, "error", p.hint || ""); };
  const typing = (e) => { const t = e.target; return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT"); };
  const INTEGER = new Set(["int", "long"]);

  function featuresSearchPage() {
    // "/" searches features here (not the catalog), like it does everywhere else in Studio.
    document.addEventListener("keydown", (e) => {
      if (e.key === "/" && !typing(e) && !e.ctrlKey && !e.metaKey) {
        e.preventDefault(); e.stopImmediatePropagation();
        const s = $("#feature-search"); s.focus(); s.select();
      }
    }, true);
  }

  function showOnline(host, data) {
    const r = data.results[0];
    const rows = data.features.map((f) => {
      const status = r.statuses[f], v = r.values[f];
      const pill = status === "present" ? "ok" : status === "expired" ? "warn" : "";
      const shown = v === null || v === undefined ? '<span class="muted">null</span>' : esc(typeof v === "object" ? JSON.stringify(v) : v);
      return `<tr><td><code>${esc(f)}</code></td><td class="value">${shown}</td><td><span class="pill ${pill}">${esc(status)}</span></td></tr>`;
    }).join("");
    const times = Object.entries(r.event_times).map(([g, t]) => t ? `${esc(g)}: ${esc(t.replace("T", " ").replace("+00:00", " UTC"))}` : "").filter(Boolean).join(" · ");
    host.innerHTML = `<table class="data"><thead><tr><th>Feature</th><th>Value</th><th>Status</th></tr></thead><tbody>${rows}</tbody></table>` +
      (times ? `<p class="muted small">event time ${times}</p>` : "");
    host.hidden = false;
  }

  function featureGroupPage() {
    const button = $("#materialize");
    if (button) button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const r = await Studio.api(`/api/v1/features/groups/${button.dataset.group}/materialize`, { method: "POST", body: {} });
        Studio.toast(r.up_to_date ? "Already up to date" : `Materialized ${r.entities_written.toLocaleString("en-US")} entities`, "ok");
        setTimeout(() => location.reload(), 700);
      } catch (err) { fail(err); button.disabled = false; }
    });
    const form = $("#online-lookup");
    if (form) form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const entity = {};
      for (const input of form.querySelectorAll("input[name]")) {
        const raw = input.value.trim();
        entity[input.name] = INTEGER.has(input.dataset.type) && /^-?\d+$/.test(raw) ? Number(raw) : input.dataset.type === "bool" ? raw === "true" : raw;
      }
      try {
        const data = await Studio.api("/api/v1/features/online", { method: "POST", body: { features: form.dataset.features.split(","), entities: [entity] } });
        showOnline($("#online-result"), data);
      } catch (err) { fail(err); }
    });
  }

  function trainingSetPage() {
    const host = $("#ts-rows"), id = host.dataset.trainingSet, limit = 50;
    let offset = 0, latest = 0;
    const load = async () => {
      const mine = ++latest;
      try {
        const data = await Studio.api(`/api/v1/features/training-sets/${id}/rows?limit=${limit}&offset=${offset}`);
        if (mine !== latest) return;
        Studio.grid(host, data, { offset });
        $("#prev").disabled = offset === 0;
        $("#next").disabled = !data.has_more;
        $("#page-info").textContent = data.rows.length ? `rows ${(offset + 1).toLocaleString("en-US")}–${(offset + data.rows.length).toLocaleString("en-US")}` : "no rows";
      } catch (err) { host.innerHTML = `<div class="alert deny">${esc(err.problem ? err.problem.message : err)}</div>`; fail(err); }
    };
    $("#prev").addEventListener("click", () => { offset = Math.max(0, offset - limit); load(); });
    $("#next").addEventListener("click", () => { offset += limit; load(); });
    document.addEventListener("keydown", (e) => {
      if (typing(e)) return;
      if (e.key === "ArrowRight" && !$("#next").disabled) $("#next").click();
      if (e.key === "ArrowLeft" && !$("#prev").disabled) $("#prev").click();
    });
    load();
  }

  const pages = { featuresSearchPage, featureGroupPage, trainingSetPage };
  document.addEventListener("DOMContentLoaded", () => {
    const page = pages[document.body.dataset.page];
    if (page) page();
  });
})();
