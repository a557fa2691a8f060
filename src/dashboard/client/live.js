// The live feed: GET /admin/api/v1/live is server-sent events, but it needs
// the bearer header, which EventSource cannot send, so it is read with
// fetch() and a stream reader. Each `snapshot` event replaces the last; a
// dropped stream is reopened with a growing pause.
const MAX_PAUSE_MS = 10_000;

/**
 * `const close = openLive(token, { onSnapshot, onStatus, onUnauthorized })`.
 * `onStatus` hears "connecting", "live" and "reconnecting".
 */
export function openLive(token, { onSnapshot, onStatus = () => {}, onUnauthorized = () => {} }) {
  let closed = false;
  let controller;
  let timer;
  let pause = 500;

  const connect = async () => {
    if (closed) return;
    controller = new AbortController();
    onStatus("connecting");
    try {
      const response = await fetch("/admin/api/v1/live", {
        headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
        credentials: "omit",
        cache: "no-store",
        signal: controller.signal,
      });
      if (response.status === 401) {
        closed = true;
        onUnauthorized();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`live stream answered ${response.status}`);
      onStatus("live");
      pause = 500;
      await readEvents(response.body, (event, data) => {
        if (event !== "snapshot") return;
        try {
          onSnapshot(JSON.parse(data));
        } catch {
          // A snapshot that does not parse is skipped; the next replaces it.
        }
      });
    } catch {
      // Aborted on close, or the connection dropped: reconnect below.
    }
    if (closed) return;
    onStatus("reconnecting");
    timer = setTimeout(connect, pause);
    pause = Math.min(pause * 2, MAX_PAUSE_MS);
  };
  connect();

  return () => {
    closed = true;
    clearTimeout(timer);
    controller?.abort();
  };
}

/** Reads a text/event-stream body, calling `onEvent(event, data)` per event, until it ends. */
export async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const text = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) onEvent(event, data.join("\n"));
    }
  }
}
