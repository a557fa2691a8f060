// The per-host connection cap: the gate on its own, and the sender that uses
// it against a real receiver that holds its answers.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { createHostGate } from "../src/send/host-gate.ts";
import { createSender } from "../src/send/sender.ts";
import { type Receiver, startReceiver } from "./support/receiver.ts";

const never = new AbortController().signal;

test("gate: at most N open per host, the rest admitted in arrival order as others leave", async () => {
  const gate = createHostGate(2);
  const admitted: string[] = [];
  const enter = (host: string, name: string) => gate.enter(host, never).then((ok) => ok && admitted.push(name));
  const all = [enter("a", "a1"), enter("a", "a2"), enter("a", "a3"), enter("a", "a4"), enter("b", "b1")];
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(admitted.sort(), ["a1", "a2", "b1"], "a3 and a4 wait; host b has a lane of its own");
  gate.leave("a");
  await all[2];
  assert.deepEqual(admitted.filter((n) => n.startsWith("a")), ["a1", "a2", "a3"]);
  gate.leave("a");
  await all[3];
  assert.deepEqual(admitted.filter((n) => n.startsWith("a")), ["a1", "a2", "a3", "a4"]);
});

test("gate: a waiter whose signal aborts leaves the queue and is never admitted", async () => {
  const gate = createHostGate(1);
  assert.equal(await gate.enter("h", never), true);
  const quitter = new AbortController();
  const first = gate.enter("h", quitter.signal);
  const second = gate.enter("h", never);
  quitter.abort();
  assert.equal(await first, false);
  gate.leave("h");
  assert.equal(await second, true, "the next waiter gets the freed place");
});

let receiver: Receiver;
const held: ServerResponse[] = [];
before(async () => (receiver = await startReceiver((_req, res) => void held.push(res))));
after(async () => {
  for (const res of held) res.end("late");
  await receiver.close();
});

test("sender: a request that waits for a connection past the timeout fails as a timeout, and is never sent", async () => {
  const send = createSender({ timeoutMs: 1000, allowPrivateTargets: true, maxPerHost: 1 });
  const request = (n: number) => ({
    url: `${receiver.url}/hook/${n}`,
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  const [open, queued] = await Promise.all([send(request(1), never), send(request(2), never)]);
  const host = new URL(receiver.url).host;
  assert.deepEqual(open.kind === "error" && open.error, "timeout after 1s");
  assert.deepEqual(queued.kind === "error" && queued.error, `timeout after 1s waiting for a connection to ${host}`);
  assert.deepEqual(
    receiver.received.map((r) => r.path),
    ["/hook/1"],
    "only the request that got a connection reached the receiver",
  );
});
