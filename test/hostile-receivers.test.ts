// The sender against receivers that answer with more than they admit to:
// whatever the headers say (a tiny Content-Length, a Content-Encoding the
// request did not ask for), at most 4 KiB of the answer is kept.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import pkg from "../package.json" with { type: "json" };
import { readBodyPrefix } from "../src/send/body-prefix.ts";
import { createSender } from "../src/send/sender.ts";
import { startHostileReceiver } from "./support/hostile-receiver.ts";
import { until } from "./support/service.ts";

const never = new AbortController().signal;
const receiver = await startHostileReceiver();
after(() => receiver.close());

const send = createSender({ timeoutMs: 10_000, allowPrivateTargets: true });
const post = (path: string) =>
  send({ url: `${receiver.url}${path}`, headers: { "content-type": "application/json" }, body: "{}" }, never);

for (const path of ["/br", "/zstd", "/gzip"]) {
  const { wire, decoded } = receiver.sizes[path];
  test(`a ${path.slice(1)} answer of ${wire} bytes that decodes to ${decoded} bytes: at most 4 KiB kept`, async () => {
    const result = await post(path);
    assert.equal(result.kind, "response", JSON.stringify(result).slice(0, 300));
    assert.equal(result.kind === "response" && result.statusCode, 200);
    const body = result.kind === "response" ? result.responseBody : "";
    assert.ok(body.length <= 4096, `kept ${body.length} chars`);
  });
}

test("Content-Length: 2 next to a chunked 10 MiB body: at most 4 KiB kept", async () => {
  const result = await post("/chunked-lie");
  assert.equal(result.kind, "response", JSON.stringify(result).slice(0, 300));
  const body = result.kind === "response" ? result.responseBody : "";
  assert.ok(body.length <= 4096, `kept ${body.length} chars`);
});

test("Content-Length: 2 and then 10 MiB: at most 4 KiB kept", async () => {
  const result = await post("/length-lie");
  assert.equal(result.kind, "response", JSON.stringify(result).slice(0, 300));
  const body = result.kind === "response" ? result.responseBody : "";
  assert.ok(body.length <= 4096, `kept ${body.length} chars`);
});

test("a plain answer is kept whole up to 4 KiB and cut there", async () => {
  const short = await post("/small/10");
  assert.deepEqual(short.kind === "response" && short.responseBody, "B".repeat(10));
  const exact = await post("/small/4096");
  assert.deepEqual(exact.kind === "response" && exact.responseBody, "B".repeat(4096));
  const long = await post("/small/5000");
  assert.deepEqual(long.kind === "response" && long.responseBody, "B".repeat(4096));
});

test("requests ask for no encoding and name statehook and its version", async () => {
  const before = receiver.requests.length;
  await post("/small/2");
  const [request] = receiver.requests.slice(before);
  assert.equal(request.headers["accept-encoding"], "identity");
  assert.equal(request.headers["user-agent"], `statehook/${pkg.version}`);
});

test("a body that never ends, as a runtime that decodes would hand it over: 4 KiB kept, then cancelled", async () => {
  let pulls = 0;
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(new Uint8Array(1000).fill(0x41));
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  const body = await readBodyPrefix(new Response(endless, { headers: { "content-encoding": "br" } }), 4096);
  assert.equal(body, "A".repeat(4096));
  await until(() => cancelled, 1000, "the stream to be cancelled");
  assert.ok(pulls <= 6, `pulled ${pulls} chunks of 1000 bytes`);
});
