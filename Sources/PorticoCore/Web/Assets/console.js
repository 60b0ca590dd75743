// The live try-out console of the developer portal: connects from the browser through the real
// gateway with a short-lived token (?access_token=, since a browser cannot set headers), sends text
// or binary messages and shows what comes back, with timestamps, the close code and reason, and,
// when the gateway refuses the handshake, its HTTP status and reason (a browser's WebSocket cannot
// read them, so the portal asks the gateway the same question and reports the answer).
const form = document.getElementById("console");
if (form) {
  const log = document.getElementById("console-log");
  const state = document.getElementById("console-state");
  const message = document.getElementById("console-message");
  const binary = document.getElementById("console-binary");
  const connectButton = document.getElementById("console-connect");
  const sendButton = document.getElementById("console-send");
  const closeButton = document.getElementById("console-close");
  const csrf = form.dataset.csrf;
  let socket = null;

  const now = () => new Date().toISOString().slice(11, 23);
  function line(kind, text) {
    const entry = document.createElement("div");
    entry.className = kind;
    entry.textContent = `${now()} ${text}`;
    log.append(entry);
    log.scrollTop = log.scrollHeight;
  }
  function setState(text, open) {
    state.textContent = text;
    sendButton.disabled = !open;
    closeButton.disabled = !open;
    connectButton.disabled = socket !== null;
  }
  async function post(url, fields) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
      body: new URLSearchParams(fields),
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, body };
  }

  connectButton.addEventListener("click", async () => {
    if (socket !== null || connectButton.disabled) return;
    connectButton.disabled = true;
    const application = document.getElementById("console-application").value;
    const keyType = document.getElementById("console-key-type").value;
    line("sys", "getting a short-lived token…");
    const token = await post(form.dataset.tokenUrl, { application, keyType });
    if (!token.ok) {
      line("sys", `no token: ${token.status} ${token.body.message ?? ""}: ${token.body.description ?? ""}`);
      connectButton.disabled = false;
      return;
    }
    // A page served over https may only open wss.
    const base = location.protocol === "https:" ? token.body.secureURL : token.body.url;
    const url = `${base}?access_token=${encodeURIComponent(token.body.accessToken)}`;
    line("sys", `connecting to ${base} (token valid ${token.body.validityTime} s)`);
    let opened = false;
    socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    setState("connecting", false);
    socket.addEventListener("open", () => {
      opened = true;
      setState("open", true);
      line("sys", "connected");
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") {
        line("in", `← ${event.data}`);
      } else {
        const bytes = new Uint8Array(event.data);
        const hex = Array.from(bytes.slice(0, 64), (b) => b.toString(16).padStart(2, "0")).join(" ");
        line("in", `← binary, ${bytes.length} bytes: ${hex}${bytes.length > 64 ? " …" : ""}`);
      }
    });
    socket.addEventListener("close", async (event) => {
      socket = null;
      setState("closed", false);
      if (opened) {
        line("sys", `closed: code ${event.code}${event.reason ? `, reason "${event.reason}"` : ""}`);
        return;
      }
      const refusal = await post(form.dataset.diagnosisUrl, { accessToken: token.body.accessToken });
      if (refusal.ok && refusal.body.status) {
        line("sys", `refused: HTTP ${refusal.body.status}${refusal.body.reason ? ` — ${refusal.body.reason}` : ""}`);
      } else {
        line("sys", `the handshake failed (code ${event.code}); the gateway could not be asked why`);
      }
    });
  });

  sendButton.addEventListener("click", () => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const text = message.value;
    if (binary.checked) {
      const bytes = new TextEncoder().encode(text);
      socket.send(bytes);
      line("out", `→ binary, ${bytes.length} bytes`);
    } else {
      socket.send(text);
      line("out", `→ ${text}`);
    }
  });
  // The form is never sent: its buttons act here.
  form.addEventListener("submit", (event) => event.preventDefault());
  closeButton.addEventListener("click", () => socket?.close(1000, "closed from the console"));
  setState("not connected", false);
}
