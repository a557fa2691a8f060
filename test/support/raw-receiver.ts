// A receiver on 127.0.0.1 that answers over raw TCP, for the receivers that
// misbehave on purpose (fault-receiver.ts, hostile-receiver.ts): it reads one
// request per connection, head and body, and hands the socket to `answer`,
// which writes exactly the bytes it wants on the wire.
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

/** One request as read off the socket: its path and headers (lower-case names). */
export type RawRequest = { path: string; headers: Record<string, string> };

export type RawReceiver = {
  url: string;
  /** Destroys every open connection and stops listening. */
  close(): Promise<void>;
};

export async function startRawReceiver(answer: (socket: Socket, request: RawRequest) => void): Promise<RawReceiver> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = Buffer.alloc(0);
    let done = false;
    socket.on("data", (chunk: Buffer) => {
      if (done) return;
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end === -1) return;
      const head = buffered.subarray(0, end).toString("latin1");
      const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      done = true;
      const [requestLine, ...lines] = head.split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      answer(socket, { path: requestLine.split(" ")[1] ?? "/", headers });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
