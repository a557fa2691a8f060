// Receivers that misbehave, on 127.0.0.1, for the reliability tests: one raw
// TCP server whose request path picks the fault, so each fault is exactly
// what goes over the wire (no HTTP library smoothing a reset or a trickle).
import type { Socket } from "node:net";
import { startRawReceiver } from "./raw-receiver.ts";

/**
 * - `/hang`: reads the request, never answers.
 * - `/reset`: reads the request, then resets the connection.
 * - `/status/<code>`: answers with that status.
 * - `/redirect`: 302 to `/redirect-target` on the same receiver.
 * - `/redirect-target`: 200 (a follower of redirects would land here).
 * - `/trickle`: 200 headers at once, then 8 bytes every 100 ms, forever.
 * - `/huge/<code>`: that status with a 50 MB body, written as fast as the
 *   client reads it.
 */
export type FaultReceiver = {
  url: string;
  /** Requests seen per path. */
  hits(path: string): number;
  /** Body bytes the `/huge` route managed to hand to the socket. */
  hugeBytesWritten(): number;
  close(): Promise<void>;
};

export const HUGE_BODY_BYTES = 50 * 1024 * 1024;
const CHUNK = new Uint8Array(64 * 1024).fill(0x61);

function answer(socket: Socket, status: number, headers: Record<string, string | number> = {}, body = "") {
  const head = [`HTTP/1.1 ${status} X`, `content-length: ${Buffer.byteLength(body)}`, "connection: close"];
  for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
}

export async function startFaultReceiver(): Promise<FaultReceiver> {
  const hits = new Map<string, number>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  let hugeWritten = 0;
  let url = "";

  const act = (socket: Socket, path: string) => {
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === "/hang") return;
    if (path === "/reset") return void socket.resetAndDestroy();
    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) return answer(socket, Number(status[1]), {}, "fault receiver");
    if (path === "/redirect") return answer(socket, 302, { location: `${url}/redirect-target` });
    if (path === "/redirect-target") return answer(socket, 200, {}, "followed");
    if (path === "/trickle") {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\nconnection: close\r\n\r\n");
      const timer = setInterval(() => {
        if (socket.destroyed) return (clearInterval(timer), timers.delete(timer));
        socket.write("trickle ");
      }, 100);
      timers.add(timer);
      return;
    }
    const huge = /^\/huge\/(\d{3})$/.exec(path);
    if (huge) {
      socket.write(`HTTP/1.1 ${huge[1]} X\r\ncontent-length: ${HUGE_BODY_BYTES}\r\nconnection: close\r\n\r\n`);
      let left = HUGE_BODY_BYTES;
      const pump = () => {
        while (left > 0 && !socket.destroyed) {
          const n = Math.min(left, CHUNK.length);
          left -= n;
          hugeWritten += n;
          if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void socket.once("drain", pump);
        }
        if (left === 0) socket.end();
      };
      return pump();
    }
    answer(socket, 404);
  };

  const receiver = await startRawReceiver((socket, { path }) => act(socket, path));
  url = receiver.url;
  return {
    url,
    hits: (path) => hits.get(path) ?? 0,
    hugeBytesWritten: () => hugeWritten,
    close: () => {
      for (const timer of timers) clearInterval(timer);
      return receiver.close();
    },
  };
}
