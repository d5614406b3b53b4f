// Shared by every console page: the JSON API with the CSRF token, the live WebSocket,
// and small DOM helpers. Customer text only ever goes in through textContent.
"use strict";

window.Desk = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  let clockOffset = 0; // server time minus local time, from the snapshots' "now"

  async function api(method, path, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf, Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      return { ok: false, status: 0, data: { error: "The console cannot reach the server." } };
    }
    if (response.status === 401) {
      window.location.assign(`/console/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    return { ok: response.ok, status: response.status, data };
  }

  // el("li", {class: "row", dataset: {id: 3}}, "text", otherNode): strings become text nodes.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function replaceChildren(node, children) {
    node.replaceChildren(...children);
  }

  let toastTimer;
  function toast(text, kind = "info") {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = text;
    box.className = `toast ${kind}`;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 7000 : 3500);
  }

  function syncClock(serverNowIso) {
    const server = Date.parse(serverNowIso);
    if (!Number.isNaN(server)) clockOffset = server - Date.now();
  }

  function secondsSince(iso) {
    if (!iso) return 0;
    return Math.max(0, (Date.now() + clockOffset - Date.parse(iso)) / 1000);
  }

  function duration(seconds) {
    const s = Math.floor(seconds);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
    const h = Math.floor(m / 60);
    return h < 48 ? `${h}h ${String(m % 60).padStart(2, "0")}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
  }

  function time(iso) {
    const date = new Date(iso);
    const sameDay = date.toDateString() === new Date().toDateString();
    return sameDay ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
                   : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  // Live updates; reconnects with backoff. onFrame gets every JSON frame.
  function live(query, onFrame, path = "/console/ws") {
    const indicator = document.getElementById("live");
    if (indicator) indicator.hidden = false;
    let attempt = 0;
    function connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${scheme}://${location.host}${path}${query ? `?${query}` : ""}`);
      ws.addEventListener("open", () => {
        attempt = 0;
        if (indicator) { indicator.textContent = "live"; indicator.classList.add("on"); }
      });
      ws.addEventListener("message", (event) => {
        let frame;
        try { frame = JSON.parse(event.data); } catch (error) { return; }
        if (frame.type === "queue") syncClock(frame.now);
        onFrame(frame);
      });
      ws.addEventListener("close", () => {
        if (indicator) { indicator.textContent = "reconnecting"; indicator.classList.remove("on"); }
        attempt += 1;
        setTimeout(connect, Math.min(10000, 500 * 2 ** attempt));
      });
    }
    connect();
  }

  function badge(text, kind) {
    return el("span", { class: `badge ${kind || ""}` }, text);
  }

  // The customer writes in another language than the bot's: which one, by name.
  function languageBadge(code) {
    let name = code;
    try { name = new Intl.DisplayNames(["en"], { type: "language" }).of(code) || code; } catch (_) { /* unknown code */ }
    const element = badge(`writes in ${name}`, "language");
    element.title = `language detected from the customer's messages (${code})`;
    element.dataset.language = code;
    return element;
  }

  function sentimentBadge(label, score) {
    const kind = { "very negative": "bad", negative: "warn", positive: "good" }[label] || "";
    const title = score === null || score === undefined ? "no text scored" : `VADER ${Number(score).toFixed(2)}`;
    const node = badge(label === "unknown" ? "sentiment —" : label, `sentiment ${kind}`);
    node.title = title;
    return node;
  }

  const REASONS = {
    customer_request: "asked for a person", complaint: "complaint", out_of_scope: "out of scope",
    repeated_misunderstanding: "bot did not understand", negative_sentiment: "upset customer",
    public_complaint: "public complaint", late_delivery: "order later than promised",
    order_verification_failed: "order details not confirmed",
    other_language: "writes in another language", actions_unavailable: "custom actions unavailable",
    assistant_handoff: "handed over by the assistant",
  };
  function reason(code) { return REASONS[code] || (code || "").replace(/_/g, " "); }

  return { api, el, replaceChildren, toast, secondsSince, duration, time, live, badge, sentimentBadge, languageBadge, reason };
})();
