// HTTP/1.1 by hand over node:net, for what fetch will not send: a body that
// stops short of its Content-Length, a chunked body that stalls, a method
// such as FOO or lowercase get. It reports the first response (if one came),
// whether the server closed the connection, and gives up after `waitMs`.
import net from "node:net";

export type RawResult = {
  /** The first response, if a whole one arrived. */
  response?: { status: number; headers: Record<string, string>; body: string };
  /** The server closed the connection (with or without answering). */
  closed: boolean;
  /** Neither a response nor a close within waitMs. */
  gaveUp: boolean;
  /** Everything received, for failure messages. */
  received: string;
};

function parse(text: string): RawResult["response"] | undefined {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers["content-length"] ?? 0);
  const body = text.slice(end + 4);
  if (new TextEncoder().encode(body).length < length) return undefined;
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

/** Sends `request` as is on a fresh connection to 127.0.0.1:port and waits for an answer or a close. */
export function rawRequest(port: number, request: string, waitMs: number): Promise<RawResult> {
  return new Promise((resolve) => {
    let received = "";
    let settled = false;
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    const finish = (result: Omit<RawResult, "received">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...result, received });
    };
    const timer = setTimeout(() => finish({ closed: false, gaveUp: true, response: parse(received) }), waitMs);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
      const response = parse(received);
      if (response) finish({ response, closed: false, gaveUp: false });
    });
    socket.on("error", () => {});
    socket.on("close", () => finish({ response: parse(received), closed: true, gaveUp: false }));
  });
}
