// The simulator's phone: speaks an aggregator's USSD protocol to the gateway's own endpoint.
// Africa's Talking (the default): one sessionId per call; `text` is everything typed so far
// joined by "*" ("" on the dial hop). The protocol picker switches to Hubtel, Nalo, Arkesel or
// the configured CON/END aggregator, each in its own wire format (README "Aggregators").
"use strict";

(function () {
  const root = document.querySelector("main.sim");
  const cfg = root.dataset;
  const screen = document.getElementById("screen");
  const screenText = document.getElementById("screen-text");
  const sessionState = document.getElementById("session-state");
  const reply = document.getElementById("reply");
  const counter = document.getElementById("counter");
  const phoneInput = document.getElementById("phone-number");
  const language = document.getElementById("language");
  const protocol = document.getElementById("protocol");
  const settingsStatus = document.getElementById("settings-status");
  const outboxList = document.getElementById("outbox");
  const log = document.getElementById("log");

  // idle: nothing dialled; open: a CON screen waits for an answer; ended: an END is shown.
  const call = { state: "idle", sessionId: null, text: "", busy: false, sequence: 0 };
  const generic = JSON.parse(cfg.genericFields || "{}");

  function newSessionId() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return "SIM_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function setState(state) {
    call.state = state;
    screen.dataset.state = state;
    sessionState.textContent = state === "open" ? "session " + call.sessionId.slice(-6) : state;
    reply.placeholder = state === "open" ? "" : cfg.serviceCode;
  }

  function show(body, kind) {
    screenText.textContent = body; // textContent: the screen exactly as sent, never as HTML
    screen.dataset.reply = kind;
    measure(body);
  }

  function addLog(direction, text) {
    const item = document.createElement("li");
    item.className = direction;
    item.textContent = (direction === "out" ? "→ " : "← ") + text;
    log.appendChild(item);
    while (log.children.length > 40) log.removeChild(log.firstChild);
    item.scrollIntoView({ block: "nearest" });
  }

  async function measure(body) {
    try {
      const answer = await fetch(cfg.costUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: body }),
      });
      const cost = await answer.json();
      counter.textContent = `${cost.encoding} · ${cost.units}/${cost.limit}` +
        (cost.non_gsm.length ? ` · forced by ${cost.non_gsm.join(" ")}` : "");
      counter.dataset.fits = cost.fits ? "yes" : "no";
    } catch (err) {
      counter.textContent = "—";
    }
  }

  // One hop in the chosen protocol: `text` is AT's cumulative text, `latest` the last answer
  // (the dial string on the first hop). Returns the fetch arguments and a one-line log.
  function request(text, latest, first) {
    const number = phoneInput.value.trim();
    const bare = number.replace(/^\+/, ""); // the Ghanaian aggregators send numbers without +
    const url = cfg.ussdBase + protocol.value;
    const json = (body) => ({
      url,
      init: { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) },
      line: JSON.stringify(body),
    });
    call.sequence = first ? 1 : call.sequence + 1;
    switch (protocol.value) {
      case "hubtel":
        return json({
          Type: first ? "Initiation" : "Response", SessionId: call.sessionId, Mobile: bare,
          ServiceCode: cfg.serviceCode, Message: latest, Sequence: call.sequence,
          Operator: "simulator", ClientState: "", Platform: "USSD",
        });
      case "nalo":
        return json({ USERID: "SIMULATOR", MSISDN: bare, USERDATA: latest, MSGTYPE: first, NETWORK: "SIM" });
      case "arkesel":
        return json({
          sessionID: call.sessionId, userID: "SIMULATOR", newSession: first, msisdn: bare,
          userData: latest, network: "SIM",
        });
      case "generic": {
        const query = new URLSearchParams({
          [generic.session]: call.sessionId, [generic.msisdn]: bare, [generic.service]: cfg.serviceCode,
          [generic.input]: generic.cumulative ? text : (first ? cfg.serviceCode : latest),
        });
        return { url: url + "?" + query, init: { method: "GET" }, line: "GET ?" + query };
      }
      default: {
        const form = new URLSearchParams({
          sessionId: call.sessionId, serviceCode: cfg.serviceCode, phoneNumber: number,
          networkCode: cfg.networkCode, text: text,
        });
        return { url, init: { method: "POST", body: form }, line: `sessionId=${call.sessionId} text="${text}"` };
      }
    }
  }

  // The reply as a handset reads it: {kind: CON|END, body}, or null when it is not one.
  async function screenOf(answer) {
    if (protocol.value === "africastalking" || protocol.value === "generic") {
      const raw = await answer.text();
      return { raw, screen: /^(CON|END) /.test(raw) ? { kind: raw.slice(0, 3), body: raw.slice(4) } : null };
    }
    const raw = await answer.text();
    let reply = null;
    try { reply = JSON.parse(raw); } catch (err) { return { raw, screen: null }; }
    const open = { hubtel: reply.Type === "Response", nalo: reply.MSGTYPE === true, arkesel: reply.continueSession === true };
    const body = { hubtel: reply.Message, nalo: reply.MSG, arkesel: reply.message }[protocol.value];
    if (typeof body !== "string") return { raw, screen: null };
    return { raw, screen: { kind: open[protocol.value] ? "CON" : "END", body } };
  }

  async function hop(text, latest) {
    const first = latest === null;
    const { url, init, line } = request(text, first ? cfg.serviceCode : latest, first);
    addLog("out", line);
    call.busy = true;
    screen.dataset.busy = "yes";
    try {
      const answer = await fetch(url, init);
      const { raw, screen: shown } = await screenOf(answer);
      addLog("in", `${answer.status} ${raw}`);
      if (!answer.ok || shown === null) {
        // A real handset shows this for any malformed answer, and the session is gone.
        show("Connection problem or invalid MMI code.", "error");
        setState("ended");
        return;
      }
      call.text = text;
      show(shown.body, shown.kind);
      setState(shown.kind === "CON" ? "open" : "ended");
    } catch (err) {
      addLog("in", "network error: " + err);
      show("Connection problem or invalid MMI code.", "error");
      setState("ended");
    } finally {
      call.busy = false;
      screen.dataset.busy = "no";
    }
  }

  function dial() {
    const dialled = reply.value.trim();
    if (dialled && dialled !== cfg.serviceCode) {
      show(`Unknown service code ${dialled}. Dial ${cfg.serviceCode}.`, "error");
      reply.value = "";
      return;
    }
    reply.value = "";
    call.sessionId = newSessionId();
    log.replaceChildren();
    return hop("", null);
  }

  function send() {
    if (call.busy) return;
    if (call.state === "open") {
      const input = reply.value;
      reply.value = "";
      return hop(call.text === "" ? input : call.text + "*" + input, input);
    }
    if (call.state === "ended") hangUp();
    return dial();
  }

  function hangUp() {
    call.sessionId = null;
    call.text = "";
    reply.value = "";
    setState("idle");
    show(`Dial ${cfg.serviceCode} then press call.`, "idle");
    counter.textContent = "—";
  }

  function press(key) {
    if (key === "call") return send();
    if (key === "hangup") return hangUp();
    if (key === "clear") {
      reply.value = reply.value.slice(0, -1);
      return;
    }
    if (call.state === "ended") hangUp();
    reply.value += key;
  }

  document.querySelectorAll(".key").forEach((button) => {
    button.addEventListener("click", () => {
      press(button.dataset.key);
      reply.focus();
    });
  });
  document.getElementById("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  document.addEventListener("keydown", (event) => {
    if (event.target === phoneInput || event.target === language || event.target === protocol) return;
    if (event.key === "Escape") {
      event.preventDefault();
      hangUp();
    } else if (event.target !== reply && /^[0-9*#]$/.test(event.key)) {
      event.preventDefault();
      press(event.key);
    } else if (event.target !== reply && event.key === "Enter") {
      event.preventDefault();
      send();
    }
  });

  // --- settings: phone number and language --------------------------------------------
  protocol.addEventListener("change", hangUp); // a new protocol starts a new call
  phoneInput.addEventListener("change", () => {
    hangUp();
    outboxList.replaceChildren();
    pollOutbox();
  });
  language.addEventListener("change", async () => {
    settingsStatus.textContent = "…";
    const answer = await fetch(cfg.languageUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ phone: phoneInput.value.trim(), lang: language.value }),
    });
    const result = await answer.json();
    settingsStatus.textContent = answer.ok ? `language ${result.lang} saved` : result.error;
  });

  // --- the outbox: SMS this phone received, polled every second -------------------------
  let lastOutbox = "";
  async function pollOutbox() {
    try {
      const url = cfg.outboxUrl + "?phone=" + encodeURIComponent(phoneInput.value.trim());
      const answer = await fetch(url);
      const result = await answer.json();
      if (!answer.ok) {
        settingsStatus.textContent = result.error;
        return;
      }
      const fingerprint = JSON.stringify(result.messages);
      if (fingerprint === lastOutbox) return;
      lastOutbox = fingerprint;
      renderOutbox(result.messages);
    } catch (err) {
      // The server restarting is not the tester's problem: try again on the next tick.
    }
  }

  function renderOutbox(messages) {
    if (!messages.length) {
      const empty = document.createElement("li");
      empty.className = "muted empty";
      empty.textContent = "No SMS yet.";
      outboxList.replaceChildren(empty);
      return;
    }
    outboxList.replaceChildren(...messages.map((m) => {
      const item = document.createElement("li");
      item.className = "sms";
      item.dataset.template = m.template || "";
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = [m.sent_at, m.template, m.status, m.encoding, m.segments && `${m.segments} segment(s)`]
        .filter(Boolean).join(" · ");
      const body = document.createElement("pre");
      body.textContent = m.text;
      item.append(meta, body);
      return item;
    }));
  }

  setState("idle");
  pollOutbox();
  setInterval(pollOutbox, 1000);
  reply.focus();
})();
