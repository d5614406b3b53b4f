// The queue page: waiting conversations (live), mine, and colleagues'; wait times tick.
"use strict";

(() => {
  const { api, el, toast, secondsSince, duration, live, badge, sentimentBadge, languageBadge, reason } = window.Desk;
  const me = document.body.dataset.agent;

  function waitClock(row) {
    return el("span", { class: "wait", dataset: { since: row.queued_at || "" }, title: "waiting" },
              duration(secondsSince(row.queued_at)));
  }

  function summary(row) {
    return el("div", { class: "summary" },
      el("div", { class: "line1" },
        el("span", { class: "customer" }, row.customer),
        badge(row.channel, "channel"),
        badge(row.public ? "public" : "private", row.public ? "public" : "private"),
        sentimentBadge(row.sentiment_label, row.sentiment),
        ...(row.language ? [languageBadge(row.language)] : [])),
      el("div", { class: "line2" },
        el("span", { class: "reason" }, reason(row.reason)),
        el("span", { class: "last" }, row.last_message || "")));
  }

  async function claim(row, button) {
    button.disabled = true;
    const result = await api("POST", `/console/api/conversations/${row.id}/claim`);
    if (result.ok) {
      window.location.assign(`/console/conversations/${row.id}`);
      return;
    }
    button.disabled = false;
    toast(result.data.error || "Could not claim the conversation.", "error");
  }

  function waitingRow(row) {
    const button = el("button", { class: "btn primary small claim", type: "button", dataset: { id: row.id } }, "Claim");
    button.addEventListener("click", () => claim(row, button));
    return el("li", { class: "row", dataset: { id: row.id } },
      el("span", { class: "prio", title: `Priority ${row.priority}: ${row.base_priority} on arrival (public +100, very upset +50, `
        + `complaint +30, asked for a person +25, returning +5 each), +1 a minute waiting` }, String(row.priority)),
      summary(row), waitClock(row), button);
  }

  function ownedRow(row) {
    const open = el("a", { class: "btn small", href: `/console/conversations/${row.id}` }, "Open");
    return el("li", { class: "row", dataset: { id: row.id } },
      el("span", { class: "prio", title: "priority" }, String(row.priority)),
      summary(row),
      el("span", { class: "agent" }, row.agent === me ? "you" : row.agent),
      open);
  }

  // A snapshot holds a page of each list; the totals say how many there are in all.
  function fill(listId, rows, make, total = rows.length) {
    const list = document.getElementById(listId);
    list.replaceChildren(...rows.map(make));
    document.getElementById(`${listId}-count`).textContent = String(total);
    document.getElementById(`${listId}-empty`).hidden = total > 0;
    const more = document.getElementById(`${listId}-more`);
    if (more) {
      const hidden = Math.max(total - rows.length, 0);
      more.hidden = hidden === 0;
      more.textContent = hidden ? `${hidden} more not shown (the most urgent are listed first)` : "";
    }
  }

  function render(snapshot) {
    const waiting = snapshot.waiting_total ?? snapshot.waiting.length;
    fill("waiting", snapshot.waiting, waitingRow, waiting);
    fill("mine", snapshot.mine, ownedRow);
    fill("others", snapshot.others, ownedRow, snapshot.others_total ?? snapshot.others.length);
    document.title = `${waiting ? `(${waiting}) ` : ""}Queue · console`;
  }

  setInterval(() => {
    for (const clock of document.querySelectorAll(".wait[data-since]")) {
      clock.textContent = duration(secondsSince(clock.dataset.since));
    }
  }, 1000);

  live("", (frame) => { if (frame.type === "queue") render(frame); });
})();
