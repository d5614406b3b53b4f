// The alert banner on every console page of supervisors and admins: the active reputation
// and queue alerts, live from /console/alerts/ws. Customer text only goes in as textContent.
"use strict";

(() => {
  const { el } = window.Desk;
  const banner = document.getElementById("alert-banner");
  if (!banner) return;

  function post(p) {
    const score = p.sentiment === null || p.sentiment === undefined ? "" : ` (${Number(p.sentiment).toFixed(2)})`;
    return el("li", {}, el("strong", {}, p.author), ` on ${p.channel}${score}: `, el("span", { class: "post-text" }, p.text),
      " ", el("a", { href: `/console/conversations/${p.conversation_id}` }, "Open"));
  }

  function render(frame) {
    if (frame.type !== "alerts") return;
    banner.replaceChildren(...frame.active.map((alert) => el("div", { class: "alert-item", dataset: { id: alert.id, kind: alert.kind } },
      el("p", {}, el("strong", {}, `${alert.title}: `), alert.summary, " ",
        el("a", { href: "/console/reputation" }, "Reputation")),
      alert.posts.length ? el("ul", { class: "alert-posts" }, alert.posts.map(post)) : null,
      alert.post_count > alert.posts.length ? el("p", { class: "hint" }, `and ${alert.post_count - alert.posts.length} more on the Reputation page`) : null)));
    banner.hidden = frame.active.length === 0;
  }

  let attempt = 0;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/console/alerts/ws`);
    ws.addEventListener("open", () => { attempt = 0; });
    ws.addEventListener("message", (event) => {
      try { render(JSON.parse(event.data)); } catch (error) { /* a frame we do not know */ }
    });
    ws.addEventListener("close", () => {
      attempt += 1;
      setTimeout(connect, Math.min(10000, 500 * 2 ** attempt));
    });
  }
  connect();
})();
