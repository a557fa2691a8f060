// A receiver that answers with more than it admits to, on 127.0.0.1, for the
// hostile-receiver tests: compressed bodies that decode to tens or hundreds of
// MiB whatever the request's Accept-Encoding, and a Content-Length that lies
// next to a chunked body. Raw TCP (raw-receiver.ts), so the bytes on the wire
// are exactly these.
import type { Socket } from "node:net";
import { constants, createBrotliCompress, createGzip, createZstdCompress } from "node:zlib";
import { startRawReceiver } from "./raw-receiver.ts";

export const MiB = 1024 * 1024;

/**
 * - `/br`, `/zstd`: 200, that Content-Encoding, 64 MiB of "A" compressed
 *   (about 100 B and 2 KiB on the wire).
 * - `/gzip`: 200, gzip, the most "A" that fits a Content-Length under 4 KiB
 *   (gzip packs about 1,000:1, so 4,000,000 bytes).
 * - `/bomb/br`, `/bomb/gzip`: 200, 512 MiB of "A" compressed (809 B and 509 KiB).
 * - `/chunked-lie`: 200, `Content-Length: 2` and `Transfer-Encoding: chunked`,
 *   then 10 MiB of "A" in 64 KiB chunks, written as fast as the client reads.
 * - `/length-lie`: 200, `Content-Length: 2`, no chunking, then 10 MiB of "A"
 *   all the same.
 * - `/small/<n>`: 200, n bytes of "B", plain.
 */
export type HostileReceiver = {
  url: string;
  /** Wire size and decoded size of each compressed answer, by path. */
  sizes: Record<string, { wire: number; decoded: number }>;
  /** Every request's headers (lower-case names), in arrival order. */
  requests: { path: string; headers: Record<string, string> }[];
  close(): Promise<void>;
};

const DECODED_BYTES = { br: 64 * MiB, zstd: 64 * MiB, gzip: 4_000_000 };
const BOMB_BYTES = 512 * MiB;
const CHUNKED_BYTES = 10 * MiB;

type Encoding = "br" | "gzip" | "zstd";

// Compressed as a stream of 1 MiB pieces, so the test process never holds
// the decoded body. Brotli at quality 5, not 11: as small (512 MiB of "A" is
// 809 bytes) in a twentieth of the time.
async function compressed(encoding: Encoding, total: number): Promise<Buffer> {
  const stream = encoding === "br"
    ? createBrotliCompress({
      params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: total },
    })
    : encoding === "gzip"
    ? createGzip({ level: 9 })
    : createZstdCompress();
  const out: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => out.push(chunk));
  const ended = new Promise((resolve) => stream.on("end", resolve));
  const piece = Buffer.alloc(MiB, 0x41);
  for (let left = total; left > 0; left -= piece.length) {
    const part = left >= piece.length ? piece : piece.subarray(0, left);
    if (!stream.write(part)) await new Promise((resolve) => stream.once("drain", resolve));
  }
  stream.end();
  await ended;
  return Buffer.concat(out);
}

/** Writes `chunk` `count` times as fast as the client reads, then `last`. */
function pump(socket: Socket, chunk: Buffer, count: number, last: string): void {
  let left = count;
  const more = () => {
    while (left > 0 && !socket.destroyed) {
      left--;
      if (!socket.write(chunk)) return void socket.once("drain", more);
    }
    if (left === 0 && !socket.destroyed) socket.end(last);
  };
  more();
}

export async function startHostileReceiver(options: { bombs?: boolean } = {}): Promise<HostileReceiver> {
  const answers: Record<string, { encoding: Encoding; body: Buffer; decoded: number }> = {};
  for (const encoding of ["br", "gzip", "zstd"] as const) {
    const decoded = DECODED_BYTES[encoding];
    answers[`/${encoding}`] = { encoding, body: await compressed(encoding, decoded), decoded };
  }
  if (options.bombs) {
    for (const encoding of ["br", "gzip"] as const) {
      answers[`/bomb/${encoding}`] = { encoding, body: await compressed(encoding, BOMB_BYTES), decoded: BOMB_BYTES };
    }
  }
  const requests: HostileReceiver["requests"] = [];

  const act = (socket: Socket, path: string) => {
    const fixed = answers[path];
    if (fixed) {
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-encoding: ${fixed.encoding}\r\ncontent-length: ${fixed.body.length}\r\n` +
          "content-type: text/plain\r\nconnection: close\r\n\r\n",
      );
      return void socket.end(fixed.body);
    }
    if (path === "/length-lie") {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n");
      return pump(socket, Buffer.alloc(0x10000, 0x41), CHUNKED_BYTES / 0x10000, "");
    }
    if (path === "/chunked-lie") {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n");
      const chunk = Buffer.concat([Buffer.from("10000\r\n"), Buffer.alloc(0x10000, 0x41), Buffer.from("\r\n")]);
      return pump(socket, chunk, CHUNKED_BYTES / 0x10000, "0\r\n\r\n");
    }
    const small = /^\/small\/(\d+)$/.exec(path);
    if (small) {
      const body = "B".repeat(Number(small[1]));
      return void socket.end(
        `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
    socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  };

  const receiver = await startRawReceiver((socket, { path, headers }) => {
    requests.push({ path, headers });
    act(socket, path);
  });
  return {
    url: receiver.url,
    sizes: Object.fromEntries(
      Object.entries(answers).map(([path, a]) => [path, { wire: a.body.length, decoded: a.decoded }]),
    ),
    requests,
    close: receiver.close,
  };
}
