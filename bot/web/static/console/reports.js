// The Reports page: a period and a channel in, the figures of bot/reports.py out, drawn
// with Chart.js (vendored) and a table heatmap. The choice is kept in the address, so a
// reload or a shared link shows the same report.
"use strict";

(() => {
  const { api, el, toast, duration, reason } = window.Desk;
  const $ = (id) => document.getElementById(id);
  const root = $("reports");
  const mayReview = root.dataset.mayReview === "true";
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const BRAND = "#1f5f8b";
  const ORANGE = "#d9822b";
  const charts = {};
  const state = new URLSearchParams(location.search);
  if (!state.get("range") && !state.get("since")) state.set("range", "7d");

  const percent = (share) => (share.rate === null ? "–" : `${(share.rate * 100).toFixed(1)}%`);
  const seconds = (value) => (value === null || value === undefined ? "–" : duration(value));
  const dateLabel = (iso) => new Date(`${iso}T12:00:00Z`).toLocaleDateString([], { day: "numeric", month: "short", timeZone: "UTC" });

  function setFigure(name, value, sub) {
    document.querySelector(`[data-figure="${name}"]`).textContent = value;
    document.querySelector(`[data-sub="${name}"]`).textContent = sub || "";
  }

  function chart(id, config) {
    if (!window.Chart) return;
    if (charts[id]) charts[id].destroy();
    charts[id] = new window.Chart($(id), config);
  }

  const axes = { y: { beginAtZero: true, ticks: { precision: 0 } } };

  function renderKpis(r) {
    setFigure("conversations", r.conversations.toLocaleString(), `${r.customer_messages.toLocaleString()} customer messages`);
    setFigure("containment", percent(r.contained), `${r.contained.count} of ${r.contained.total} by the bot alone`);
    setFigure("escalation", percent(r.handed_over), `${r.handed_over.count} conversations, ${r.handovers} hand-overs`);
    setFigure("fallback", percent(r.fallback),
      `${r.fallback.count} of ${r.fallback.total} read · ${percent(r.low_confidence)} under ${r.low_confidence_threshold}`);
    const first = r.first_response;
    setFigure("first-response", `${seconds(first.business.p50)} / ${seconds(first.business.p90)}`,
      first.business.count ? `p50 / p90 of ${first.business.count} · wall clock ${seconds(first.wall.p50)} / ${seconds(first.wall.p90)}` : "no reply yet");
    setFigure("within-target", percent(first.within_target),
      `within ${duration(first.target_seconds)}: ${first.within_target.count} of ${first.within_target.total}` +
      (first.waiting_past_target ? ` (${first.waiting_past_target} still waiting)` : ""));
    setFigure("resolution", `${seconds(r.resolution_business.p50)} / ${seconds(r.resolution_business.p90)}`,
      r.resolution_business.count ? `p50 / p90 of ${r.resolution_business.count} · wall clock ${seconds(r.resolution_wall.p50)} / ${seconds(r.resolution_wall.p90)}` : "none resolved");
    const csat = r.satisfaction;
    setFigure("csat", csat.mean === null ? "–" : `${csat.mean.toFixed(2)} / 5`,
      csat.asked ? `${csat.ratings} ratings · response rate ${percent({ rate: csat.response_rate })} of ${csat.asked} asked` : "no rating asked");
  }

  function renderCharts(r) {
    chart("chart-days", {
      type: "line",
      data: {
        labels: r.by_day.map((d) => dateLabel(d.day)),
        datasets: [
          { label: "Conversations", data: r.by_day.map((d) => d.conversations), borderColor: BRAND, backgroundColor: "rgba(31,95,139,.12)", fill: true, tension: 0.25, pointRadius: 3 },
          { label: "Handed to a person", data: r.by_day.map((d) => d.handed_over), borderColor: ORANGE, backgroundColor: ORANGE, tension: 0.25, pointRadius: 3 },
        ],
      },
      options: { maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false }, scales: axes, plugins: { legend: { position: "bottom" } } },
    });
    $("reasons-empty").hidden = r.reasons.length > 0;
    chart("chart-reasons", {
      type: "bar",
      data: { labels: r.reasons.map(([, words]) => words), datasets: [{ label: "Hand-overs", data: r.reasons.map(([, , n]) => n), backgroundColor: ORANGE, borderRadius: 4 }] },
      options: { indexAxis: "y", maintainAspectRatio: false, animation: false, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { display: false } } },
    });
    const scores = [1, 2, 3, 4, 5];
    chart("chart-csat", {
      type: "bar",
      data: { labels: scores.map((s) => `${s}★`), datasets: [{ label: "Ratings", data: scores.map((s) => r.satisfaction.distribution[s] || 0), backgroundColor: ["#c0392b", "#e67e22", "#b8a200", "#7cb342", "#1f8a4c"], borderRadius: 4 }] },
      options: { maintainAspectRatio: false, animation: false, scales: axes, plugins: { legend: { display: false } } },
    });
  }

  function renderHeatmap(r) {
    const max = Math.max(1, ...r.by_hour.flat());
    const head = el("tr", {}, el("th", { scope: "col" }, ""), ...Array.from({ length: 24 }, (_, h) => el("th", { scope: "col" }, String(h).padStart(2, "0"))));
    const rows = r.by_hour.map((hours, day) => el("tr", {}, el("th", { scope: "row" }, DAYS[day]), ...hours.map((n, hour) => {
      const cell = el("td", { title: `${DAYS[day]} ${String(hour).padStart(2, "0")}:00–${String(hour).padStart(2, "0")}:59: ${n} conversation${n === 1 ? "" : "s"}`, dataset: { count: n } }, n ? String(n) : "");
      // Set through the CSSOM, which the page's content security policy allows.
      const strength = n / max;
      cell.style.backgroundColor = n ? `rgba(31, 95, 139, ${0.12 + 0.88 * strength})` : "";
      if (strength > 0.55) cell.classList.add("strong");
      return cell;
    })));
    $("heatmap").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  }

  function renderTables(r) {
    $("agent-rows").replaceChildren(...r.agents.map((a) => el("tr", { dataset: { agent: a.name } },
      el("td", {}, a.name), el("td", { class: "num" }, String(a.handled)),
      el("td", { class: "num" }, seconds(a.first_response_p50)), el("td", { class: "num" }, seconds(a.resolution_p50)),
      el("td", { class: "num" }, a.csat === null ? "–" : `${a.csat.toFixed(2)} (${a.ratings})`))));
    $("agents-empty").hidden = r.agents.length > 0;
    const most = Math.max(1, ...r.handover_intents.map(([, n]) => n));
    $("intents").replaceChildren(...(r.handover_intents.length ? r.handover_intents.map(([intent, n]) => rankItem(
      intent ? el("span", { class: "badge intent" }, intent) : el("span", { class: "muted" }, "not read by the model"), n, most))
      : [el("li", { class: "empty" }, "No hand-overs in this period.")]));
    const top = Math.max(1, ...r.top_low_confidence.map(([, n]) => n));
    $("low-confidence").replaceChildren(...(r.top_low_confidence.length ? r.top_low_confidence.map(([text, n]) => rankItem(
      mayReview ? el("a", { href: "/console/review", title: "Teach it on the Review page" }, text) : el("span", {}, text), n, top))
      : [el("li", { class: "empty" }, "The model was sure of every message.")]));
  }

  function rankItem(label, count, most) {
    const bar = el("span", { class: "bar" });
    bar.style.width = `${Math.round((count / most) * 100)}%`;
    return el("li", {}, el("span", { class: "label" }, label), el("span", { class: "track" }, bar), el("span", { class: "n" }, String(count)));
  }

  function renderControls(r) {
    const range = state.get("range") || "custom";
    for (const button of document.querySelectorAll("[data-range]")) {
      button.classList.toggle("primary", button.dataset.range === range);
      button.setAttribute("aria-pressed", String(button.dataset.range === range));
    }
    $("custom-range").hidden = range !== "custom";
    $("since").value = r.period.since;
    $("until").value = r.period.until;
    const select = $("channel");
    const chosen = state.get("channel") || "";
    select.replaceChildren(el("option", { value: "" }, "All channels"), ...r.channels.map((c) => el("option", { value: c }, c)));
    select.value = chosen;
    const days = r.by_day.length;
    $("period-label").textContent = `${dateLabel(r.period.since)} – ${dateLabel(r.period.until)} ${r.period.until.slice(0, 4)}` +
      ` · ${days} day${days === 1 ? "" : "s"} · ${r.channel || "all channels"} · times in ${r.period.timezone}`;
  }

  let latest = 0;
  async function load() {
    history.replaceState(null, "", `${location.pathname}?${state}`);
    root.classList.add("loading");
    const asked = ++latest;
    const result = await api("GET", `/console/api/reports?${state}`);
    // Only the last choice is shown: an earlier report that answers later is dropped.
    if (asked !== latest) return;
    root.classList.remove("loading");
    if (!result.ok) { toast(result.data.error || "Could not make the report.", "error"); return; }
    const r = result.data;
    renderControls(r);
    renderKpis(r);
    renderCharts(r);
    renderHeatmap(r);
    renderTables(r);
    root.dataset.loaded = "true";
  }

  for (const button of document.querySelectorAll("[data-range]")) {
    button.addEventListener("click", () => {
      if (button.dataset.range === "custom") {
        $("custom-range").hidden = false;
        state.set("range", "custom");
        for (const other of document.querySelectorAll("[data-range]")) other.classList.toggle("primary", other === button);
        $("since").focus();
        return;
      }
      state.delete("since"); state.delete("until");
      state.set("range", button.dataset.range);
      load();
    });
  }
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.delete("range");
    state.set("since", $("since").value);
    state.set("until", $("until").value);
    load();
  });
  $("channel").addEventListener("change", () => {
    if ($("channel").value) state.set("channel", $("channel").value); else state.delete("channel");
    load();
  });
  if (state.get("range") === "custom") state.delete("range");
  load();
})();
