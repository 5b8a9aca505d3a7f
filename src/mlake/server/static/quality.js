/* mlake Studio — data quality: the table's Quality tab and the Quality page. Uses Studio (studio.js). */
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const enc = encodeURIComponent;

  // An HTML fragment from Studio's quality routes; errors come back as JSON problems and become toasts.
  async function fragment(path, body) {
    const opts = body === undefined ? {} : { method: "POST", body };
    const res = await Studio.api(path, { ...opts, raw: true });
    return res.text();
  }
  function problemText(err) { return (err && err.problem && err.problem.message) || String(err); }
  function showError(host, err) {
    const div = document.createElement("div");
    div.className = "alert deny";
    div.textContent = problemText(err) + (err.problem && err.problem.hint ? " — " + err.problem.hint : "");
    host.replaceChildren(div);
  }
  function busy(button, text) {
    const old = button.innerHTML;
    button.disabled = true;
    button.textContent = text;
    return () => { button.disabled = false; button.innerHTML = old; };
  }

  function tab() {
    const root = $("#quality");
    if (!root) return;
    const table = root.dataset.table, snapshot = root.dataset.snapshot || null;
    const base = `/tables/${table}/quality`;
    const profileHost = $("#profile-host"), historyHost = $("#history-host"), resultsHost = $("#results-host");
    const showProfile = (html) => {
      profileHost.innerHTML = html;
      const p = $(".q-profile", profileHost);
      $("#profile-meta").textContent = p ? p.dataset.meta : "";
    };
    const loadProfile = () => fragment(`${base}/profile${snapshot ? "?snapshot=" + enc(snapshot) : ""}`)
      .then(showProfile).catch((err) => showError(profileHost, err));
    const loadHistory = () => fragment(`${base}/history`)
      .then((html) => { historyHost.innerHTML = html; }).catch((err) => showError(historyHost, err));
    loadProfile();
    loadHistory();

    $("#profile-now").addEventListener("click", async (e) => {
      const done = busy(e.currentTarget, "Profiling…");
      try {
        showProfile(await fragment(`${base}/profile`, { snapshot_id: snapshot ? Number(snapshot) : null }));
        Studio.toast("Profiled", "ok");
        loadHistory();
      } catch (err) { Studio.toast(problemText(err), "error", (err.problem && err.problem.hint) || ""); }
      finally { done(); }
    });

    async function run(body, button) {
      const done = button ? busy(button, "Running…") : () => {};
      try {
        resultsHost.innerHTML = await fragment(`${base}/checks`, { ...body, snapshot_id: snapshot ? Number(snapshot) : null });
        const passed = $(".q-results", resultsHost).dataset.passed === "true";
        const failed = $$("tr.q-check.fail", resultsHost).length;
        Studio.toast(passed ? "All checks passed" : `${failed} check${failed === 1 ? "" : "s"} failed`, passed ? "ok" : "error");
        loadHistory();
        return true;
      } catch (err) {
        Studio.toast(problemText(err), "error", (err.problem && err.problem.hint) || "");
        return false;
      } finally { done(); }
    }

    const select = $("#suite-select");
    if (select) select.addEventListener("change", () => {
      const q = new URLSearchParams(location.search);
      q.set("tab", "quality"); q.set("suite", select.value);
      location.search = q.toString();
    });
    const runButton = $("#run-suite");
    if (runButton) runButton.addEventListener("click", () => run({ suite: runButton.dataset.suite }, runButton));

    // the suite editor: new, suggested, or an existing suite
    const dialog = $("#suite-dialog"), form = $("#suite-form");
    const open = (title, name, yaml, locked) => {
      $("#suite-dialog-title").textContent = title;
      form.elements.name.value = name;
      form.elements.name.readOnly = !!locked;
      form.elements.yaml.value = yaml;
      dialog.showModal();
      (locked ? form.elements.yaml : form.elements.name).focus();
    };
    const short = table.split(".")[1];
    $("#new-suite").addEventListener("click", () => open("New suite", "", `checks:\n  - not_null: ${short}_id\n  - type: in_range\n    column: amount\n    min: 0\n    threshold: 0.99\n`));
    const suggest = async (e) => {
      const done = busy(e.currentTarget, "Profiling…");
      try {
        const s = await Studio.api(`/api/v1/tables/${table}/quality/suggestion?name=${enc(short + " suggested")}`);
        open("Suggested suite", `${short} suggested`, s.yaml.replace(/^name: .*\n/, "").replace(/^table: .*\n/m, ""));
      } catch (err) { Studio.toast(problemText(err), "error"); }
      finally { done(); }
    };
    $("#suggest-suite").addEventListener("click", suggest);
    $$("[data-click=suggest-suite]").forEach((b) => b.addEventListener("click", suggest));
    const edit = $("#edit-suite");
    if (edit) edit.addEventListener("click", () => {
      const text = $$("textarea[data-suite-yaml]").find((t) => t.dataset.suiteYaml === edit.dataset.suite);
      open(`Edit ${edit.dataset.suite}`, edit.dataset.suite, text ? text.value : "", true);
    });
    const del = $("#delete-suite");
    if (del) del.addEventListener("click", async () => {
      if (!confirm(`Delete the suite “${del.dataset.suite}”? Its kept history stays.`)) return;
      try {
        await Studio.api(`/api/v1/tables/${table}/quality/suites/${enc(del.dataset.suite)}`, { method: "DELETE" });
        location.search = "?tab=quality";
      } catch (err) { Studio.toast(problemText(err), "error"); }
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = form.elements.name.value.trim(), yaml = form.elements.yaml.value;
      try {
        await Studio.api(`/api/v1/tables/${table}/quality/suites/${enc(name)}`, { method: "PUT", body: { yaml } });
        dialog.close();
        Studio.toast(`Saved ${name}`, "ok");
        const q = new URLSearchParams({ tab: "quality", suite: name });
        location.search = q.toString();
      } catch (err) { Studio.toast(problemText(err), "error", (err.problem && err.problem.hint) || ""); }
    });
    $("#suite-try").addEventListener("click", async (e) => {
      if (await run({ yaml: form.elements.yaml.value }, e.currentTarget)) dialog.close();
    });
    form.elements.yaml.addEventListener("keydown", (e) => {
      if (e.key === "Tab" && !e.shiftKey) { e.preventDefault(); form.elements.yaml.setRangeText("  ", form.elements.yaml.selectionStart, form.elements.yaml.selectionEnd, "end"); }
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); $("#suite-try").click(); }
    });
  }

  function page() {
    $$("[data-run-suite]").forEach((b) => b.addEventListener("click", async () => {
      const done = busy(b, "Running…");
      try {
        const r = await Studio.api(`/api/v1/tables/${b.dataset.table}/quality/suites/${enc(b.dataset.runSuite)}/run`, { method: "POST", body: {} });
        const failed = r.results.filter((c) => c.status === "fail").length;
        Studio.toast(r.passed ? `${b.dataset.runSuite}: all checks passed` : `${b.dataset.runSuite}: ${failed} failed`, r.passed ? "ok" : "error");
        setTimeout(() => location.reload(), 500);
      } catch (err) { Studio.toast(problemText(err), "error"); done(); }
    }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    tab();
    if (document.body.dataset.page === "qualityPage") page();
  });
})();
