// The customer web chat. Protocol: channels/webchat.py (history, ack, message, status, error).
// Customer text is only ever set with textContent: nothing a person types becomes markup.
"use strict";

(function () {
  const root = document.getElementById("chat");
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const presence = document.getElementById("presence");
  const banner = document.getElementById("banner");
  const quickReplies = document.getElementById("quick-replies");

  const sender = senderId();
  const rendered = new Set();        // history ids already on the page
  const pending = new Map();         // client_id -> {frame, element}, until the server acks
  let socket = null;
  let retryDelay = 500;
  let status = "bot";
  let agent = null;
  let connected = false;
  let typingTimer = null;

  function senderId() {
    const key = "brand-assistant-sender";
    let id = null;
    try { id = window.localStorage.getItem(key); } catch (_) { /* private mode */ }
    if (!id) {
      id = "web-" + randomId();
      try { window.localStorage.setItem(key, id); } catch (_) { /* the id lives for this page only */ }
    }
    return id;
  }

  function randomId() {
    const bytes = new Uint8Array(9);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${window.location.host}${root.dataset.wsPath}?sender=${encodeURIComponent(sender)}`;
    setPresence("Connecting…", "");
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      retryDelay = 500;
      connected = true;
      setPresence(presenceText(), "online");
      // Whatever was typed while offline goes now; the server drops repeats by client_id.
      for (const { frame } of pending.values()) socket.send(JSON.stringify(frame));
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (_) { return; }
      const handler = handlers[frame.type];
      if (handler) handler(frame);
    });
    socket.addEventListener("close", () => {
      connected = false;
      setPresence("Reconnecting…", "offline");
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  const handlers = {
    history(frame) {
      for (const element of list.querySelectorAll(".message")) element.remove();
      rendered.clear();
      for (const message of frame.messages) showMessage(message);
      for (const { element } of pending.values()) list.appendChild(element);
      setStatus(frame.status, frame.agent_name);
      scrollDown();
    },
    ack(frame) {
      const item = pending.get(frame.client_id);
      if (!item) return;
      pending.delete(frame.client_id);
      item.element.classList.remove("pending");
      if (status === "bot") showTyping();
    },
    message(frame) {
      if (frame.client_id && pending.has(frame.client_id)) handlers.ack(frame);
      showMessage(frame);
      if (frame.author !== "customer") hideTyping();
      scrollDown();
    },
    status(frame) {
      setStatus(frame.status, frame.agent_name);
      if (frame.status !== "bot") hideTyping();
      // With a person now (claimed, or a resolved chat reopened): the bot's buttons, such as
      // a rating question, would only be read by that person as a number.
      if (frame.status === "assigned") quickReplies.replaceChildren();
    },
    error(frame) {
      const item = frame.client_id && pending.get(frame.client_id);
      if (item) {
        pending.delete(frame.client_id);
        item.element.classList.remove("pending");
        item.element.classList.add("failed");
      }
      hideTyping();
      showNotice(frame.reason || "Something went wrong. Please try again.");
    },
  };

  function showMessage(message) {
    if (message.id && rendered.has(message.id)) return;
    if (message.id) rendered.add(message.id);
    if (message.author === "customer" && message.client_id) {
      const existing = list.querySelector(`[data-client-id="${CSS.escape(message.client_id)}"]`);
      if (existing) return;
    }
    const element = bubble(message.author, message.text, message.author === "agent" ? message.agent_name : null);
    if (message.client_id) element.dataset.clientId = message.client_id;
    if (message.image) {
      const image = document.createElement("img");
      image.src = message.image;
      image.alt = "Image from " + (message.author === "agent" ? "our team" : root.dataset.brand);
      element.querySelector(".bubble").appendChild(image);
    }
    list.appendChild(element);
    if (message.author !== "customer") offer(message.buttons || []);
  }

  function bubble(author, text, name) {
    const item = document.createElement("li");
    item.className = `message ${author}`;
    if (name) {
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = name;
      item.appendChild(meta);
    }
    const body = document.createElement("div");
    body.className = "bubble";
    body.textContent = text || "";
    item.appendChild(body);
    return item;
  }

  function offer(buttons) {
    quickReplies.replaceChildren();
    for (const button of buttons) {
      const element = document.createElement("button");
      element.type = "button";
      element.textContent = button.title;
      element.addEventListener("click", () => send({ type: "postback", payload: button.payload, title: button.title }));
      quickReplies.appendChild(element);
    }
  }

  function send(fields) {
    const clientId = randomId();
    const frame = { ...fields, client_id: clientId };
    const element = bubble("customer", fields.type === "postback" ? fields.title : fields.text, null);
    element.classList.add("pending");
    element.dataset.clientId = clientId;
    list.appendChild(element);
    pending.set(clientId, { frame, element });
    quickReplies.replaceChildren();
    scrollDown();
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  // What the customer can expect now: the assistant at once, or a person, who takes longer.
  function presenceText() {
    if (status === "queued") return "Online — waiting for a member of our team";
    if (status === "assigned") return agent ? `Online — ${agent} from our team` : "Online — with our team";
    return "Online — the assistant answers at once";
  }

  function setStatus(next, agentName) {
    status = next || "bot";
    agent = agentName || null;
    if (connected) setPresence(presenceText(), "online");
    banner.classList.remove("with-agent");
    if (status === "queued") {
      banner.textContent = "You're in the queue for a member of our team. Keep writing here: they will see everything.";
      banner.hidden = false;
    } else if (status === "assigned") {
      banner.textContent = agentName ? `You're chatting with ${agentName} from our team.` : "You're chatting with our team.";
      banner.classList.add("with-agent");
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  }

  function showTyping() {
    hideTyping();
    // Styled like the bot, but not a message: it never counts as an answer.
    const element = bubble("typing", "…", null);
    element.id = "typing";
    element.setAttribute("aria-label", "The assistant is typing");
    list.appendChild(element);
    scrollDown();
    typingTimer = window.setTimeout(hideTyping, 20000);
  }

  function hideTyping() {
    window.clearTimeout(typingTimer);
    const element = document.getElementById("typing");
    if (element) element.remove();
  }

  function showNotice(text) {
    list.appendChild(bubble("system", text, null));
    scrollDown();
  }

  function setPresence(text, state) {
    presence.textContent = text;
    presence.className = `presence ${state}`;
  }

  function scrollDown() {
    list.scrollTop = list.scrollHeight;
  }

  function resize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send({ type: "message", text });
    input.value = "";
    resize();
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit(sendButton);
    }
  });
  input.addEventListener("input", resize);

  connect();
})();
