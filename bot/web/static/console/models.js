// Models: train from the console and watch it live, read each version's gate report,
// measure a version the gate never measured (the first model), activate a version or roll
// back. Snapshots arrive over the training WebSocket.
"use strict";

(() => {
  const { api, el, toast, time, live, badge } = window.Desk;
  const $ = (name) => document.getElementById(name);
  const isAdmin = document.body.dataset.role === "admin";
  const STATUS = { running: "training…", passed: "passed", refused: "refused by the gate", measured: "measured", failed: "failed", lost: "lost" };
  const VERSION_STATUS = { active: "good", candidate: "", refused: "bad", retired: "closed" };
  const openReports = new Set();
  let last = null;

  const isRunning = (run) => Boolean(run && run.status === "running");

  function renderRun(run) {
    $("run").hidden = !run;
    $("train").disabled = isRunning(run);
    if (!run) return;
    const running = isRunning(run);
    const measuring = run.kind === "measure";
    const status = $("run-status");
    status.textContent = running && measuring ? "measuring…" : STATUS[run.status] || run.status;
    status.className = `badge run-${run.status}`;
    $("run-title").textContent = `${measuring ? "Measurement" : "Run"} ${run.id}, started by ${run.started_by} at ${time(run.started_at)}` +
      (run.version ? ` · ${run.version}` : "");
    $("run-log-box").querySelector("summary").textContent = measuring ? "Measurement output" : "Training output";
    $("run-steps").replaceChildren(...run.steps.map((step, index) => {
      const current = running && index === run.steps.length - 1;
      return el("li", { class: current ? "current" : "done" }, el("span", { class: "step-mark", "aria-hidden": "true" }, current ? "" : "✓"), step.text);
    }));
    const progress = running ? run.progress : null;
    $("run-progress").hidden = !progress;
    if (progress) {
      $("run-progress-label").textContent = progress.label;
      $("run-progress-bar").max = progress.total;
      $("run-progress-bar").value = progress.done;
      $("run-progress-count").textContent = `${progress.done}/${progress.total}`;
    }
    const log = $("run-log");
    const follow = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.textContent = run.output.join("\n");
    if (follow) log.scrollTop = log.scrollHeight;
    $("run-report").hidden = !run.report;
    $("run-report").textContent = run.report || "";
    $("run-error").hidden = !run.error;
    $("run-error").textContent = run.error || "";
  }

  // The gate's held-out figures: the F1 it compares, and what customers would see of it.
  function f1(version) {
    const nlu = version.gate && version.gate.nlu;
    return nlu ? nlu.macro_f1.toFixed(3) : "—";
  }

  function share(version, figure) {
    const nlu = version.gate && version.gate.nlu;
    const value = nlu ? nlu[figure] : null;
    return typeof value === "number" ? `${(100 * value).toFixed(1)}%` : "—";
  }

  function versionRows(snapshot) {
    return snapshot.versions.flatMap((v) => {
      const decision = v.gate && v.gate.decision;
      const gate = decision ? el("span", { class: decision.passed ? "gate-pass" : "gate-fail" }, decision.passed ? "passed" : "refused")
        : el("span", { class: "muted" }, v.status === "active" && !snapshot.versions.some((o) => o !== v && o.gate) ? "first model" : "—");
      const actions = el("td", { class: "row" });
      // Overruling the gate is an admin's call, with a reason kept on the version.
      if (v.status !== "active" && (v.status !== "refused" || isAdmin)) {
        const activate = el("button", { class: `btn small${v.status === "refused" ? " ghost danger" : ""}`, type: "button" },
          v.status === "refused" ? "Activate anyway" : "Activate");
        activate.addEventListener("click", async () => {
          const force = v.status === "refused";
          let reason;
          if (force) {
            reason = window.prompt(`The gate refused ${v.version}. Why answer customers with it anyway?`);
            if (!reason || !reason.trim()) return;
          }
          const result = await api("POST", `/console/api/training/models/${v.version}/activate`, force ? { force, reason } : {});
          if (result.ok) toast(`${v.version} is active; the service switches to it within ${snapshot.poll_interval}s.`);
          else toast(result.data.error || "Could not activate it.", "error");
        });
        actions.append(activate);
      }
      // No figures (the first model: no gate measured it): the gate's evaluation, run on its own.
      if (!(v.gate && v.gate.nlu)) actions.append(measureButton(v, snapshot));
      if (v.report) {
        const toggle = el("button", { class: "btn ghost small", type: "button", "aria-expanded": String(openReports.has(v.version)) }, "Report");
        toggle.addEventListener("click", () => {
          if (openReports.has(v.version)) openReports.delete(v.version); else openReports.add(v.version);
          render(last);
        });
        actions.append(toggle);
      }
      const row = el("tr", { dataset: { version: v.version }, class: v.status === "active" ? "active-version" : "" },
        el("td", {}, el("code", {}, v.version), snapshot.serving === v.file ? el("span", { class: "serving" }, " answering now") : null),
        el("td", {}, badge(v.status, `version ${VERSION_STATUS[v.status] || ""}`)),
        el("td", {}, time(v.created_at)), el("td", { dataset: { figure: "macro_f1" } }, f1(v)),
        ...["in_scope_accuracy", "wrong_answer_rate", "oos_recall"].map((figure) => el("td", { dataset: { figure } }, share(v, figure))),
        el("td", {}, gate), actions);
      const rows = [row];
      if (v.forced) {
        rows.push(el("tr", { class: "forced-row" }, el("td", { colspan: 9, class: "forced" },
          `Activated against the gate by ${v.forced.by || "someone"}, ${time(v.forced.at)}: ${v.forced.reason || "no reason given"}`)));
      }
      if (v.report && openReports.has(v.version)) {
        rows.push(el("tr", { class: "report-row" }, el("td", { colspan: 9 }, el("pre", { class: "report" }, v.report))));
      }
      return rows;
    });
  }

  function measureButton(version, snapshot) {
    const button = el("button", { class: "btn small measure", type: "button",
      title: "The gate's held-out evaluation on the data this version was trained from" }, "Measure");
    button.disabled = isRunning(snapshot.run);
    button.addEventListener("click", async () => {
      button.disabled = true;
      const result = await api("POST", `/console/api/training/models/${version.version}/measure`);
      if (result.ok) toast(`Measuring ${version.version} (run ${result.data.run_id}).`);
      else { toast(result.data.error || "Could not start the measurement.", "error"); button.disabled = false; }
    });
    return button;
  }

  function render(snapshot) {
    last = snapshot;
    renderRun(snapshot.run);
    $("version-rows").replaceChildren(...versionRows(snapshot));
    $("versions-empty").hidden = snapshot.versions.length > 0;
    const rollback = $("rollback");
    rollback.disabled = !snapshot.rollback_to;
    rollback.textContent = snapshot.rollback_to ? `Roll back to ${snapshot.rollback_to}` : "Roll back";
    const serving = snapshot.versions.find((v) => v.file === snapshot.serving);
    $("serving-hint").textContent = serving
      ? `Answering customers with ${serving.version}. The service follows the active version within ${snapshot.poll_interval}s, without a restart.`
      : `The service follows the active version within ${snapshot.poll_interval}s, without a restart.`;
  }

  $("train").addEventListener("click", async () => {
    $("train").disabled = true;
    const result = await api("POST", "/console/api/training/runs", { activate: $("activate").checked });
    if (!result.ok) { toast(result.data.error || "Could not start the training.", "error"); $("train").disabled = false; return; }
    toast(`Training started (run ${result.data.run_id}).`);
  });
  $("rollback").addEventListener("click", async () => {
    if (!last || !last.rollback_to || !window.confirm(`Roll back to ${last.rollback_to}?`)) return;
    const result = await api("POST", "/console/api/training/models/rollback");
    if (result.ok) toast(`Rolled back: ${result.data.active} is active again.`);
    else toast(result.data.error || "Could not roll back.", "error");
  });

  live("", (frame) => { if (frame.type === "models") render(frame); }, "/console/training/ws");
})();
