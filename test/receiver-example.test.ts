// The README's receiver (examples/receiver.mjs) verifies what statehook signs,
// under each runtime the README names: a signed request gets 204, a tampered
// body, a foreign secret or a stale timestamp gets 400.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { generateSecret, webhookHeaders } from "../src/send/signing.ts";
import { ROOT } from "./support/service.ts";

const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);
const RUNTIMES: Record<string, string[]> = {
  node: ["node"],
  bun: [bin("bun")],
  deno: [bin("deno"), "run", "--allow-net", "--allow-env", "--allow-read"],
};

async function startExample(command: string[], secret: string) {
  const child = spawn(command[0], [...command.slice(1), join(ROOT, "examples/receiver.mjs")], {
    cwd: ROOT,
    env: { ...process.env, WEBHOOK_SECRET: secret, PORT: "0", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${output}`)), 20_000);
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.stderr!.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/hook`,
    stop: () => new Promise<void>((resolve) => (child.once("exit", () => resolve()), child.kill("SIGTERM"))),
  };
}

for (const [name, command] of Object.entries(RUNTIMES)) {
  test(`the README's receiver verifies statehook's signature under ${name}`, async () => {
    const secret = generateSecret();
    const receiver = await startExample(command, secret);
    try {
      const body = JSON.stringify({ type: "batch.completed", timestamp: new Date().toISOString(), data: { n: 1 } });
      const now = Math.floor(Date.now() / 1000);
      const post = async (headers: Record<string, string>, text = body) =>
        (await fetch(receiver.url, { method: "POST", headers, body: text })).status;

      assert.equal(await post(await webhookHeaders(secret, "msg_1", now, body)), 204);
      assert.equal(await post(await webhookHeaders(secret, "msg_2", now, body), body.replace("1", "2")), 400);
      assert.equal(await post(await webhookHeaders(generateSecret(), "msg_3", now, body)), 400);
      assert.equal(await post(await webhookHeaders(secret, "msg_4", now - 3600, body)), 400);
    } finally {
      await receiver.stop();
    }
  });
}
