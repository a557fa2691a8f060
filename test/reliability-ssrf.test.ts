// SSRF at send time, against the real service process with private targets
// off. The service runs in a mount namespace of the test's own whose
// /etc/hosts maps names the test controls to loopback addresses: a webhook
// stored while its name looked public (DNS rebinding) is checked again on
// every attempt, and the address it resolves to now is never contacted.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testDatabase } from "./support/database.ts";
import { namespaceFiles, seedDeliveries, seedWebhooks } from "./support/seed.ts";
import { startService, until } from "./support/service.ts";

// Counts TCP connections, not HTTP requests: even a TLS hello would show.
let connections = 0;

// Set up at load time: bun's node:test ignores a hook's timeout option.
const db = await testDatabase();
const dir = await mkdtemp(join(tmpdir(), "statehook-ssrf-"));
const listener = createServer((socket) => {
  connections++;
  socket.destroy();
});
await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
const port = (listener.address() as AddressInfo).port;
const service = await startService({
  env: {
    DATABASE_URL: db.url,
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "false",
    STATEHOOK_RETRY_SCHEDULE: "0,3600",
    STATEHOOK_TIMEOUT_SECS: "2",
  },
  namespace: await namespaceFiles(dir, {
    "rebind.statehook.test": "127.0.0.1",
    "loopback-v6.statehook.test": "::1",
  }),
});

after(async () => {
  await service.stop();
  await new Promise((resolve) => listener.close(resolve));
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

async function firstAttempt(url: string) {
  const [webhookId] = await seedWebhooks(db.sql, [url]);
  await seedDeliveries(db.sql, [webhookId], 1);
  return await until(
    async () => {
      const [r] = await db.sql<
        { status: string; attempt_count: number; last_status_code: number | null; last_error: string | null }[]
      >`
      SELECT status, attempt_count, last_status_code, last_error FROM webhook_deliveries WHERE webhook_id = ${webhookId}`;
      return r && r.attempt_count > 0 ? r : undefined;
    },
    10_000,
    `the attempt at ${url}`,
  );
}

test("a name that resolves to 127.0.0.1 at send time is not contacted", { timeout: 30_000 }, async () => {
  const row = await firstAttempt(`https://rebind.statehook.test:${port}/hook`);
  assert.deepEqual([row.status, row.attempt_count, row.last_status_code], ["failed", 1, null]);
  assert.match(row.last_error!, /rebind\.statehook\.test resolves to private address 127\.0\.0\.1/);
  assert.equal(connections, 0);
});

test("a name that resolves to ::1 at send time is not contacted", { timeout: 30_000 }, async () => {
  const row = await firstAttempt(`https://loopback-v6.statehook.test:${port}/hook`);
  assert.equal(row.status, "failed");
  assert.match(row.last_error!, /resolves to private address ::1/);
  assert.equal(connections, 0);
});

test("a loopback literal stored directly in the table is refused at send time too", { timeout: 30_000 }, async () => {
  const row = await firstAttempt(`http://127.0.0.1:${port}/hook`);
  assert.equal(row.status, "failed");
  assert.match(row.last_error!, /127\.0\.0\.1 is a private address/);
  assert.equal(connections, 0);
});

test("a name that does not resolve at send time fails with a clear error", { timeout: 30_000 }, async () => {
  const row = await firstAttempt(`https://gone.statehook.test:${port}/hook`);
  assert.equal(row.status, "failed");
  assert.equal(row.last_error, "could not resolve host gone.statehook.test");
  assert.equal(connections, 0);
});
