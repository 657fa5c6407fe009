// The live fleet page of `directorsync serve`. Everything from the server is shown as text
// (textContent, never innerHTML). The token comes from the address's #token=… (never sent to
// the server as part of the URL) or the form, and is kept for this tab only.
"use strict";
(function () {
  const ACTIVE = new Set(["pending", "running"]);
  const TERMINAL = new Set(["sync.completed", "sync.failed", "sync.cancelled"]);
  const rows = new Map();     // tenant -> {tr, cells}
  const sockets = new Map();  // sync id -> WebSocket
  let token = sessionStorage.getItem("dsync-token") || "";

  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    token = fromHash;
    sessionStorage.setItem("dsync-token", token);
    history.replaceState(null, "", location.pathname + location.search);
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function showError(text) { document.getElementById("error").textContent = text || ""; }

  async function api(path, options) {
    const init = Object.assign({ headers: {} }, options || {});
    init.headers.Authorization = "Bearer " + token;
    const res = await fetch(path, init);
    if (res.status === 401) { askToken(); throw new Error("the token was refused"); }
    return res;
  }

  function askToken() {
    document.getElementById("login").style.display = "block";
  }

  document.getElementById("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = document.getElementById("token").value.trim();
    sessionStorage.setItem("dsync-token", token);
    document.getElementById("login").style.display = "none";
    refresh();
  });

  function row(tenant) {
    if (rows.has(tenant)) return rows.get(tenant);
    const tr = el("tr");
    tr.dataset.tenant = tenant;
    const cells = {
      tenant: el("td", "tenant", tenant), run: el("td", "run"), state: el("td"),
      progress: el("td", "progress-cell"), counts: el("td", "counts"), time: el("td", "time"),
      report: el("td", "report"), actions: el("td", "actions"),
    };
    cells.stateText = el("span", "state");
    cells.message = el("div", "message");
    cells.state.append(cells.stateText, cells.message);
    cells.bar = el("progress");
    cells.bar.max = 100; cells.bar.value = 0;
    cells.barLabel = el("span", "progress-label");
    cells.progress.append(cells.bar, document.createTextNode(" "), cells.barLabel);
    const dry = el("button", "dry-run", "dry run");
    dry.type = "button";
    dry.addEventListener("click", () => startDryRun(tenant, dry));
    cells.actions.append(dry);
    for (const key of ["tenant", "run", "state", "progress", "counts", "time", "report", "actions"]) {
      tr.append(cells[key]);
    }
    document.querySelector("#fleet tbody").append(tr);
    const entry = { tr, cells, syncId: null };
    rows.set(tenant, entry);
    return entry;
  }

  function countsText(counts) {
    const parts = Object.entries(counts || {}).filter(([, n]) => n).map(([k, n]) => k + " " + n);
    return parts.length ? parts.join(" · ") : "—";
  }

  function setProgress(entry, done, total, percent, stage) {
    entry.cells.bar.value = percent || 0;
    entry.cells.bar.setAttribute("aria-valuenow", String(percent || 0));
    const where = total ? done + "/" + total + " rows (" + Math.round(percent || 0) + " %)" : "";
    entry.cells.barLabel.textContent = [stage, where].filter(Boolean).join(": ");
  }

  function render(item) {
    const entry = row(item.tenant);
    const run = item.last_run;
    const c = entry.cells;
    if (!run) {
      c.run.textContent = "never run"; c.stateText.textContent = "—"; c.stateText.className = "state";
      return;
    }
    entry.syncId = run.sync_id;
    entry.tr.dataset.state = run.state;
    c.run.textContent = run.sync_id + (run.dry_run ? " (dry run)" : "") + " · " + run.kind;
    c.stateText.textContent = run.state;
    c.stateText.className = "state " + run.state;
    c.message.textContent = run.message || "";
    c.counts.textContent = countsText(run.counts);
    c.time.textContent = (run.completed_at || run.started_at || run.created_at || "").replace("T", " ").slice(0, 19);
    const p = run.progress || {};
    if (ACTIVE.has(run.state)) {
      if (!sockets.has(run.sync_id)) setProgress(entry, p.rows_processed, p.total_rows, p.percent_complete, p.current_stage);
      follow(run.sync_id, item.tenant);
    } else {
      setProgress(entry, p.rows_processed, p.total_rows, run.state === "completed" ? 100 : p.percent_complete, "");
    }
    c.report.textContent = "";
    if (run.links && run.links.report) {
      const open = el("button", "open-report", "report");
      open.type = "button";
      open.addEventListener("click", () => openReport(run.links.report));
      c.report.append(open);
    }
  }

  function follow(syncId, tenant) {
    if (sockets.has(syncId)) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(scheme + "//" + location.host + "/ws/syncs/" + encodeURIComponent(syncId));
    sockets.set(syncId, ws);
    ws.addEventListener("open", () => ws.send(JSON.stringify({ token })));
    ws.addEventListener("message", (msg) => {
      const ev = JSON.parse(msg.data);
      const entry = rows.get(tenant);
      if (!entry || entry.syncId !== syncId) return;
      const d = ev.data || {};
      if (ev.event === "sync.progress") setProgress(entry, d.done, d.total, d.percent, d.stage);
      else if (ev.event === "sync.stage_completed") entry.cells.message.textContent = d.stage + " done";
      else if (ev.event === "sync.warning" || ev.event === "sync.error") entry.cells.message.textContent = d.message || "";
      else if (ev.event === "sync.started") { entry.cells.stateText.textContent = "running"; entry.tr.dataset.state = "running"; }
      if (TERMINAL.has(ev.event)) refresh();
    });
    ws.addEventListener("close", () => { sockets.delete(syncId); });
  }

  async function startDryRun(tenant, button) {
    button.disabled = true;
    try {
      const res = await api("/api/tenants/" + encodeURIComponent(tenant) + "/syncs", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ trigger: "manual", options: { dry_run: true } }),
      });
      const body = await res.json();
      showError(res.ok ? "" : (body.error || res.statusText));
      await refresh();
    } catch (err) { showError(String(err.message || err)); }
    finally { button.disabled = false; }
  }

  async function openReport(url) {
    const res = await api(url);
    const blob = new Blob([await res.text()], { type: "text/html" });
    window.open(URL.createObjectURL(blob), "_blank", "noopener");
  }

  let busy = false;
  async function refresh() {
    if (!token) { askToken(); return; }
    if (busy) return;
    busy = true;
    try {
      const res = await api("/api/tenants");
      const body = await res.json();
      if (!res.ok) { showError(body.error || res.statusText); return; }
      showError("");
      for (const item of body.tenants) render(item);
      document.body.dataset.loaded = "true";
    } catch (err) { showError(String(err.message || err)); }
    finally { busy = false; }
  }

  refresh();
  setInterval(refresh, 2000);
})();
