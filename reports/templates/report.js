"use strict";
(function () {
  const data = JSON.parse(document.getElementById("armscan-data").textContent);
  const RANK = { blocker: 5, high: 4, medium: 3, low: 2, info: 1 };
  const PAGE = 200;
  const rows = data.findings.map(function (f, i) {
    return { i: i, sev: f[0], rule: f[1], path: f[2], line: f[3], message: f[4], work: f[5], status: f[6],
             suppressed: f[7], snippet: f[8], scope: f[9], text: (f[1] + " " + f[2] + " " + f[4] + " " + (f[8] || "")).toLowerCase() };
  });
  const el = function (id) { return document.getElementById(id); };
  const controls = { q: el("f-search"), sev: el("f-severity"), kind: el("f-kind"), path: el("f-path"),
                     status: el("f-status"), scope: el("f-scope"), sort: el("f-sort") };
  let shown = PAGE;
  let matching = rows;

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function advice(row) {
    const rule = data.rules[row.rule] || {};
    const box = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "Advice";
    box.appendChild(summary);
    const p = document.createElement("p");
    p.className = "advice";
    p.textContent = (rule.advice && (rule.advice[row.status] || rule.advice.unported)) || "";
    box.appendChild(p);
    (rule.references || []).forEach(function (ref) {
      const code = document.createElement("code");
      code.textContent = ref;
      box.appendChild(code);
      box.appendChild(document.createElement("br"));
    });
    return box;
  }

  function render() {
    const body = el("finding-rows");
    body.textContent = "";
    const fragment = document.createDocumentFragment();
    matching.slice(0, shown).forEach(function (row) {
      const tr = document.createElement("tr");
      tr.dataset.severity = row.sev;
      const sev = cell(tr, "", "");
      const badge = document.createElement("span");
      badge.className = "sev sev-" + row.sev;
      badge.textContent = row.sev;
      sev.appendChild(badge);
      cell(tr, row.rule, "rule");
      cell(tr, row.path + (row.line ? ":" + row.line : ""), "path");
      const what = cell(tr, row.message, "");
      if (row.snippet) {
        what.appendChild(document.createElement("br"));
        const code = document.createElement("code");
        code.textContent = row.snippet;
        what.appendChild(code);
      }
      if (row.scope !== "product") {
        const where = document.createElement("div");
        where.className = "meta";
        where.textContent = "not part of the product: " + row.scope;
        what.appendChild(where);
      }
      if (row.suppressed) {
        const note = document.createElement("div");
        note.className = "meta";
        note.textContent = "not counted by the gate: " + row.suppressed;
        what.appendChild(note);
      }
      what.appendChild(advice(row));
      cell(tr, row.work + (row.status !== "unported" ? " (" + row.status + ")" : ""), "meta");
      fragment.appendChild(tr);
    });
    body.appendChild(fragment);
    el("finding-count").textContent = matching.length + " of " + rows.length + " findings" +
      (matching.length > shown ? ", showing " + shown : "");
    el("finding-more").hidden = matching.length <= shown;
  }

  function apply() {
    const q = controls.q.value.trim().toLowerCase();
    const sev = controls.sev.value, kind = controls.kind.value, path = controls.path.value.trim().toLowerCase();
    const status = controls.status.value, scope = controls.scope.value;
    matching = rows.filter(function (r) {
      return (!q || r.text.indexOf(q) >= 0) && (!sev || RANK[r.sev] >= RANK[sev]) && (!kind || r.work === kind) &&
        (!path || r.path.toLowerCase().indexOf(path) >= 0) &&
        (!scope || (scope === "other" ? r.scope !== "product" : r.scope === scope)) &&
        (!status || (status === "suppressed" ? !!r.suppressed : (r.status === status && !r.suppressed)));
    });
    const order = controls.sort.value;
    matching.sort(function (a, b) {
      if (order === "path") { return a.path < b.path ? -1 : a.path > b.path ? 1 : (a.line || 0) - (b.line || 0); }
      if (order === "rule") { return a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : a.i - b.i; }
      return RANK[b.sev] - RANK[a.sev] || a.i - b.i;
    });
    shown = PAGE;
    render();
  }

  Object.keys(controls).forEach(function (name) {
    controls[name].addEventListener(name === "q" || name === "path" ? "input" : "change", apply);
  });
  el("finding-more").addEventListener("click", function () { shown += PAGE * 5; render(); });
  apply();
})();
