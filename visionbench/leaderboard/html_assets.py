"""The report page's inline stylesheet and script (vanilla JS, no library).

The script sorts a table on a header click (metrics best-first on the first click,
missing values always last), filters rows by model name and sections by task/dataset,
keeps that state in the URL hash, and builds the long CSV from the embedded JSON for the
download button. The page's Content-Security-Policy pins it by its sha256.
"""

from __future__ import annotations

__all__ = ["CSS", "SCRIPT"]

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 1.5em 3em;color:#222}
header h1{margin:.6em 0 .1em;font-size:1.5em}.meta{color:#555;margin:0 0 .8em}
.controls{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd;
display:flex;gap:1em;flex-wrap:wrap;align-items:center;z-index:2}
.controls input,.controls select,.controls button{font:inherit;padding:2px 6px}
section.group{margin:1.5em 0 2em}h2{font-size:1.2em;margin:.2em 0}
h2 .task{font-size:.75em;color:#fff;background:#3b6ea8;border-radius:3px;padding:1px 6px}
.rankby{color:#555;margin:.2em 0 .5em}.scroll{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:3px 8px;white-space:nowrap}
thead th{background:#f3f5f8;position:relative}table.lb thead tr:last-child th{cursor:pointer}
th.sig{font-weight:normal;font-size:.8em;max-width:30em;overflow:hidden;text-overflow:ellipsis}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right}td.best{background:#dff3df;font-weight:600}
tbody tr:nth-child(even){background:#fafafa}tr[hidden]{display:none}
.plots{display:flex;flex-wrap:wrap;gap:1em;margin-top:.8em}
figure{margin:0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}details{margin:.4em 0}summary{cursor:pointer}
.empty{color:#777}table.runs td{font-size:.85em}
.badge{font-size:.8em;background:#f0ad4e;color:#222;border-radius:3px;padding:0 5px}
tr.unranked td{color:#666}td.id{font-family:ui-monospace,monospace;font-size:.9em}
svg.chart text{user-select:text}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var filter = document.getElementById("vb-filter");
  var task = document.getElementById("vb-task");
  var dataset = document.getElementById("vb-dataset");
  var count = document.getElementById("vb-count");
  function cellValue(td, numeric) {
    if (!numeric) { return td.textContent.trim().toLowerCase(); }
    var v = td.getAttribute("data-v");
    return (v === null || v === "") ? null : parseFloat(v);
  }
  function sortBy(th, dir) {
    var table = th.closest("table");
    var col = parseInt(th.getAttribute("data-col"), 10);
    var numeric = th.getAttribute("data-num") === "1";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a.cells[col], numeric), y = cellValue(b.cells[col], numeric);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      return x < y ? -dir : (x > y ? dir : 0);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.querySelectorAll("thead th[data-col]").forEach(function (h) {
      h.setAttribute("aria-sort", "none");
    });
    th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
  }
  function onHeader(th) {
    var state = th.getAttribute("aria-sort");
    var dir;
    if (state === "ascending") { dir = -1; }
    else if (state === "descending") { dir = 1; }
    else { dir = th.getAttribute("data-hib") === "1" ? -1 : 1; }
    sortBy(th, dir);
    sortState = {key: th.getAttribute("data-key"), dir: dir > 0 ? "asc" : "desc"};
    saveHash();
  }
  var sortState = null;
  function saveHash() {
    var p = new URLSearchParams();
    if (filter.value) { p.set("q", filter.value); }
    if (task.value) { p.set("task", task.value); }
    if (dataset.value) { p.set("dataset", dataset.value); }
    if (sortState) { p.set("sort", sortState.key); p.set("dir", sortState.dir); }
    try { history.replaceState(null, "", "#" + p.toString()); } catch (e) { /* file: quirks */ }
  }
  function loadHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    filter.value = p.get("q") || "";
    [[task, p.get("task")], [dataset, p.get("dataset")]].forEach(function (pair) {
      var ok = Array.prototype.some.call(pair[0].options, function (o) { return o.value === pair[1]; });
      pair[0].value = ok ? pair[1] : "";
    });
    var key = p.get("sort");
    if (key) {
      document.querySelectorAll("table.lb thead th[data-col]").forEach(function (th) {
        if (th.getAttribute("data-key") !== key) { return; }
        var d = p.get("dir");
        sortBy(th, d === "asc" ? 1 : d === "desc" ? -1 : (th.getAttribute("data-hib") === "1" ? -1 : 1));
      });
      sortState = {key: key, dir: p.get("dir") || ""};
    }
  }
  document.querySelectorAll("table.lb thead th[data-col]").forEach(function (th) {
    th.addEventListener("click", function () { onHeader(th); });
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onHeader(th); }
    });
  });
  function apply() {
    var q = filter.value.trim().toLowerCase();
    var shown = 0, total = 0;
    document.querySelectorAll("section.group").forEach(function (s) {
      var on = (!task.value || s.getAttribute("data-task") === task.value) &&
               (!dataset.value || s.getAttribute("data-dataset") === dataset.value);
      s.hidden = !on;
      s.querySelectorAll("table.lb tbody tr").forEach(function (tr) {
        var hit = tr.getAttribute("data-model").toLowerCase().indexOf(q) >= 0;
        tr.hidden = !hit;
        total += 1;
        if (on && hit) { shown += 1; }
      });
    });
    count.textContent = shown + " of " + total + " rows shown";
  }
  function onFilter() { apply(); saveHash(); }
  [filter, task, dataset].forEach(function (el) {
    el.addEventListener("input", onFilter);
    el.addEventListener("change", onFilter);
  });
  loadHash();
  apply();
  function csvField(v) {
    if (v === null || v === undefined) { return ""; }
    var s = String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  document.getElementById("vb-csv").addEventListener("click", function () {
    var rows = JSON.parse(document.getElementById("vb-data").textContent);
    var cols = ["run_id", "date", "model", "tag", "weights_id", "dataset", "split", "task",
                "num_samples", "subset", "status", "metric", "value", "unit", "signature"];
    var lines = [cols.join(",")];
    rows.forEach(function (r) { lines.push(cols.map(function (c) { return csvField(r[c]); }).join(",")); });
    var url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], {type: "text/csv"}));
    var a = document.createElement("a");
    a.href = url;
    a.download = "visionbench-leaderboard.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  });
})();
"""
