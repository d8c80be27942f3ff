// parley chat console: opens the user's WebSocket (docs/realtime.md),
// sends "message" frames, shows every message frame of this conversation
// as it arrives, and beside each message the user sent, the state of its
// delivery to each bot (polled from the dashboard once a second until
// every delivery has succeeded or failed).
"use strict";
(function () {
  var root = document.getElementById("console");
  if (!root) return;
  var appId = root.dataset.app, token = root.dataset.token, me = root.dataset.as;
  var receiver = root.dataset.receiver, rtype = root.dataset.receiverType;
  var deliveriesURL = root.dataset.deliveries;
  var list = document.getElementById("msgs"), form = document.getElementById("composer");
  var input = document.getElementById("text"), live = document.getElementById("live");
  var seen = {}, ws = null, nextId = 1, retry = 500;

  function setLive(text, cls) { live.textContent = text; live.className = "live badge " + cls; }

  // belongs tells whether a message frame is of this conversation.
  function belongs(m) {
    if (rtype === "group") return m.receiverType === "group" && m.receiver === receiver;
    return m.receiverType === "user" &&
      ((m.sender === me && m.receiver === receiver) || (m.sender === receiver && m.receiver === me));
  }

  function textOf(m) {
    if (m.data && typeof m.data.text === "string") return m.data.text;
    return "(" + m.category + "/" + m.type + ")";
  }

  function fmt(sec) { return new Date(sec * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC"; }

  function add(m) {
    var id = String(m.id);
    if (seen[id] || document.querySelector('.msg[data-id="' + id + '"]')) return;
    seen[id] = true;
    var empty = document.getElementById("nomsgs");
    if (empty) empty.remove();
    var mine = m.sender === me;
    var el = document.createElement("div");
    el.className = "msg" + (mine ? " mine" : "");
    el.dataset.id = id;
    var b = document.createElement("div"); b.className = "bubble"; b.textContent = textOf(m);
    var meta = document.createElement("div"); meta.className = "meta"; meta.textContent = m.sender + " · " + fmt(m.sentAt);
    el.appendChild(b); el.appendChild(meta);
    if (mine) { var ds = document.createElement("div"); ds.className = "dstatus"; el.appendChild(ds); poll(el, 0); }
    list.appendChild(el);
    list.scrollTop = list.scrollHeight;
  }

  function badge(d) {
    var a = document.createElement("a");
    a.href = d.url;
    a.dataset.bot = d.bot; a.dataset.state = d.state;
    var cls = d.state === "succeeded" ? "b-ok" : d.state === "failed" ? "b-bad" : "b-warn";
    var t = d.bot + ": ";
    if (d.state === "succeeded") t += "delivered" + (d.latencyMs ? " · " + d.latencyMs + " ms" : "");
    else if (d.state === "failed") t += "failed" + (d.error ? " · " + d.error : d.status ? " · HTTP " + d.status : "");
    else t += d.attempts ? "retrying (attempt " + (d.attempts + 1) + ")" + (d.error ? " · " + d.error : "") : "pending";
    a.className = "badge dbadge " + cls;
    a.textContent = t;
    a.title = "Open this delivery in the bot's log";
    return a;
  }

  // poll asks for the message's deliveries until none is pending. No
  // delivery at all after a few tries means no bot receives the message.
  function poll(el, n) {
    var url = deliveriesURL + "?message=" + encodeURIComponent(el.dataset.id);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (body) {
        var ds = body.deliveries || [], box = el.querySelector(".dstatus");
        box.replaceChildren();
        ds.forEach(function (d) { box.appendChild(badge(d)); });
        var pending = ds.some(function (d) { return d.state === "pending"; });
        if (ds.length === 0 && n >= 2) {
          var s = document.createElement("span"); s.className = "muted small"; s.textContent = "no bot delivery"; box.appendChild(s);
          return;
        }
        if ((pending || ds.length === 0) && n < 600) setTimeout(function () { poll(el, n + 1); }, 1000);
      })
      .catch(function () { if (n < 600) setTimeout(function () { poll(el, n + 1); }, 2000); });
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + "/v3/ws?appId=" + encodeURIComponent(appId) + "&authToken=" + encodeURIComponent(token));
    ws.onopen = function () { retry = 500; };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "connected") setLive("live", "b-ok");
      else if ((f.type === "message" || f.type === "ack") && f.data && belongs(f.data)) add(f.data);
      else if (f.type === "error") setLive("error: " + ((f.error && f.error.message) || "refused"), "b-bad");
    };
    ws.onclose = function () {
      setLive("reconnecting…", "b-warn");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  // History rendered by the server: show the delivery state of own messages.
  document.querySelectorAll(".msg.mine[data-id]").forEach(function (el) { seen[el.dataset.id] = true; poll(el, 0); });
  list.scrollTop = list.scrollHeight;

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || !ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ type: "message", id: "c-" + (nextId++),
      data: { receiver: receiver, receiverType: rtype, category: "message", type: "text", data: { text: text } } }));
    input.value = "";
    input.focus();
  });
  connect();
})();
