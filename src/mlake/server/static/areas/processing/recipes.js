// The recipe editor: steps as forms built from the transform registry, a live preview after the
// selected step (an HTML fragment from POST /recipes/preview), keyboard first.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("recipe-data").textContent);
  const byOp = Object.fromEntries(data.transforms.map((t) => [t.op, t]));
  const steps = (data.recipe.steps || []).map((s) => ({ ...s }));
  let selected = steps.length; // preview after this step (0: the source)
  const list = document.getElementById("steps");
  const search = document.getElementById("transform-search");
  const results = document.getElementById("transform-list");
  const preview = document.getElementById("preview");
  const source = document.getElementById("recipe-source");
  let active = 0;
  let timer = null;
  let seq = 0;

  const shown = (kind, v) => {
    if (v === undefined || v === null) return "";
    if (kind === "list" || kind === "numbers") return Array.isArray(v) ? v.join(", ") : String(v);
    if (kind === "json" || (kind === "value" && typeof v === "object")) return JSON.stringify(v);
    return String(v);
  };

  const parsed = (kind, raw) => {
    if (kind === "list") return raw.split(",").map((x) => x.trim()).filter(Boolean);
    if (kind === "numbers") return raw.split(",").map((x) => x.trim()).filter(Boolean).map(Number);
    if (kind === "number") return Number(raw);
    if (kind === "json" || kind === "value") {
      try { return JSON.parse(raw); } catch (e) { return raw; }
    }
    return raw;
  };

  function field(step, f, i) {
    const id = `s${i}-${f.name}`;
    const wrap = document.createElement("label");
    wrap.className = f.kind === "bool" ? "check" : "param";
    const input = document.createElement("input");
    input.id = id;
    input.name = f.name;
    input.dataset.kind = f.kind;
    if (f.kind === "bool") {
      input.type = "checkbox";
      input.checked = Boolean(step[f.name] ?? f.default);
      wrap.append(input, ` ${f.name}`);
    } else {
      input.type = "text";
      input.value = shown(f.kind, step[f.name]);
      const hint = f.options.length ? f.options.join(", ") : f.default !== null && f.default !== undefined ? `default ${shown(f.kind, f.default)}` : f.kind === "list" ? "a, b, c" : "";
      input.placeholder = hint;
      if (f.required) input.required = true;
      const name = document.createElement("span");
      name.textContent = f.name + (f.required ? " *" : "");
      wrap.append(name, input);
    }
    input.addEventListener(f.kind === "bool" ? "change" : "input", () => {
      if (f.kind === "bool") {
        if (input.checked === Boolean(f.default)) delete step[f.name]; else step[f.name] = input.checked;
      } else if (input.value.trim() === "") delete step[f.name];
      else step[f.name] = parsed(f.kind, input.value);
      schedule();
    });
    return wrap;
  }

  function draw() {
    list.replaceChildren();
    steps.forEach((step, idx) => {
      const i = idx + 1;
      const t = byOp[step.op];
      const li = document.createElement("li");
      li.className = "step" + (selected === i ? " selected" : "");
      li.dataset.step = String(i);
      li.tabIndex = 0;
      const head = document.createElement("div");
      head.className = "step-head";
      const title = document.createElement("button");
      title.type = "button";
      title.className = "link strong step-title";
      title.textContent = `${i}. ${step.op}`;
      title.title = "Preview after this step";
      title.addEventListener("click", () => { selected = i; draw(); schedule(0); });
      const tools = document.createElement("span");
      tools.className = "step-tools";
      for (const [label, act, aria] of [["↑", -1, "Move up"], ["↓", 1, "Move down"], ["✕", 0, "Remove step"]]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "link small";
        b.textContent = label;
        b.setAttribute("aria-label", `${aria} (step ${i})`);
        b.addEventListener("click", () => (act === 0 ? remove(idx) : move(idx, act)));
        tools.append(b);
      }
      head.append(title, tools);
      li.append(head);
      if (t) {
        const p = document.createElement("p");
        p.className = "muted small";
        p.textContent = t.summary;
        li.append(p);
        const fields = document.createElement("div");
        fields.className = "params";
        t.fields.forEach((f) => fields.append(field(step, f, i)));
        li.append(fields);
      }
      const err = document.createElement("div");
      err.className = "step-message";
      li.append(err);
      li.addEventListener("keydown", (e) => {
        if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
          e.preventDefault();
          move(idx, e.key === "ArrowUp" ? -1 : 1);
          list.querySelector(`li[data-step="${Math.min(Math.max(i + (e.key === "ArrowUp" ? -1 : 1), 1), steps.length)}"]`)?.focus();
        }
      });
      list.append(li);
    });
  }

  function move(idx, by) {
    const to = idx + by;
    if (to < 0 || to >= steps.length) return;
    [steps[idx], steps[to]] = [steps[to], steps[idx]];
    selected = steps.length;
    draw();
    schedule(0);
  }

  function remove(idx) {
    steps.splice(idx, 1);
    selected = steps.length;
    draw();
    schedule(0);
  }

  function add(op) {
    steps.push({ op });
    selected = steps.length;
    search.value = "";
    filter();
    draw();
    list.querySelector(`li[data-step="${steps.length}"] input`)?.focus();
    schedule(0);
  }

  function filter() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    results.replaceChildren();
    if (!words.length) { results.hidden = true; search.setAttribute("aria-expanded", "false"); return; }
    const found = data.transforms.filter((t) => {
      const text = `${t.op} ${t.op.replace(/_/g, " ")} ${t.group} ${t.summary}`.toLowerCase();
      return words.every((w) => text.includes(w));
    }).slice(0, 12);
    active = 0;
    found.forEach((t, n) => {
      const li = document.createElement("li");
      li.role = "option";
      li.dataset.op = t.op;
      li.className = n === 0 ? "active" : "";
      const b = document.createElement("b");
      b.textContent = t.op;
      const g = document.createElement("span");
      g.className = "muted small";
      g.textContent = ` ${t.group}${t.fitted ? " · fitted" : ""} — ${t.summary}`;
      li.append(b, g);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); add(t.op); });
      results.append(li);
    });
    results.hidden = !found.length;
    search.setAttribute("aria-expanded", String(Boolean(found.length)));
  }

  search.addEventListener("input", filter);
  search.addEventListener("keydown", (e) => {
    const items = [...results.children];
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!items.length) return;
      items[active]?.classList.remove("active");
      active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items[active].classList.add("active");
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (items[active]) add(items[active].dataset.op);
    } else if (e.key === "Escape") {
      search.value = "";
      filter();
    }
  });
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || "");
    if (e.key === "+" && !typing) { e.preventDefault(); search.focus(); }
  });

  function schedule(delay = 350) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  }

  async function refresh() {
    const mine = ++seq;
    preview.classList.add("loading");
    const res = await fetch("/recipes/preview", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/html" },
      body: JSON.stringify({ source: source.value, steps, upto: selected }),
    });
    const html = await res.text();
    if (mine !== seq) return;
    preview.classList.remove("loading");
    if (!res.ok) {
      preview.replaceChildren();
      const div = document.createElement("div");
      div.className = "alert error";
      div.textContent = `The preview failed (${res.status}).`;
      preview.append(div);
      return;
    }
    preview.innerHTML = html; // rendered (and escaped) by the server's templates
    list.querySelectorAll("li.step").forEach((li) => {
      li.classList.remove("broken");
      li.querySelector(".step-message").textContent = "";
    });
    const broken = preview.querySelector(".step-error");
    if (broken) {
      const li = list.querySelector(`li[data-step="${broken.dataset.step}"]`);
      if (li) {
        li.classList.add("broken");
        li.querySelector(".step-message").textContent = broken.textContent;
      }
    }
  }

  source.addEventListener("change", () => schedule(0));
  document.getElementById("recipe-form").addEventListener("submit", () => {
    document.getElementById("recipe-steps-json").value = JSON.stringify(steps);
  });
  draw();
  schedule(0);
})();
