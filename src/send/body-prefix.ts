// The part of a receiver's answer the attempt log keeps: its first few KiB,
// read without ever holding more, whatever the receiver's headers claim. A
// receiver is anyone with a URL, so its answer is hostile input: a 106-byte
// brotli body decodes to 64 MiB, and a chunked body can follow a
// Content-Length of 2.

const decoder = new TextDecoder();

/**
 * Plain Content-Length framing: the runtime reads that many bytes and no more
 * (over HTTP/1.1 the rest is never parsed; over HTTP/2 a longer body is an
 * error), and nothing decodes the body. Such a body is read whole, natively:
 * a stream reader costs several promise round trips per answer, half of
 * Deno's fetch throughput.
 */
function fitsAsFramed(headers: Headers, maxBytes: number): boolean {
  if (headers.has("transfer-encoding") || headers.has("content-encoding")) return false;
  const length = headers.get("content-length");
  return length !== null && /^\d+$/.test(length) && Number(length) <= maxBytes;
}

/**
 * The first `maxBytes` bytes of the body as text; the rest is cancelled
 * unread. The sender asks for no encoding and tells the runtime not to decode
 * (see undecodedFetchInit), so a compressed answer is kept as its first
 * compressed bytes; should a runtime decode anyway, this still stops after
 * `maxBytes` of what it hands over, holding at most one of its chunks.
 */
export async function readBodyPrefix(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return "";
  if (fitsAsFramed(response.headers, maxBytes)) return await response.text();
  const reader = response.body.getReader();
  const kept = new Uint8Array(maxBytes);
  let size = 0;
  let finished = false;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      const part = value.subarray(0, maxBytes - size);
      kept.set(part, size);
      size += part.length;
    }
  } finally {
    if (!finished) reader.cancel().catch(() => {});
  }
  return decoder.decode(kept.subarray(0, size));
}
