// The ceiling without actors: the same claim, signing, sender and batched
// result write the service uses, driven by a plain loop in one process (no
// XState, no API, no metrics), against embedded Postgres and the benchmark's
// receiver process. What the service reaches next to this is what the actor
// system costs; what this reaches is what Postgres, fetch and the machine
// allow. `npm run bench:plain` (Bun) / `npm run bench:plain:deno`.
//
// BENCH_DELIVERIES (20,000), BENCH_CLAIM_BATCH_SIZE (250), BENCH_WORKERS
// (loops claiming side by side, 4).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { judged } from "../machines/delivery.ts";
import { connect } from "../src/db/client.ts";
import { claimDue } from "../src/db/claim.ts";
import { startEmbeddedPostgres } from "../src/db/embedded.ts";
import { migrate } from "../src/db/migrate.ts";
import { recordOutcomes } from "../src/db/outcomes.ts";
import { createKeyring } from "../src/send/keyring.ts";
import { createSender } from "../src/send/sender.ts";
import { webhookHeaders } from "../src/send/signing.ts";
import { seedDeliveries, seedWebhooks } from "../test/support/seed.ts";
import { runtime } from "../test/support/service.ts";
import { startReceiverProcess } from "./receiver-process.ts";

const N = Number(process.env.BENCH_DELIVERIES ?? 20_000);
const BATCH = Number(process.env.BENCH_CLAIM_BATCH_SIZE ?? 250);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const SCHEDULE = [0, 3600];

const dir = await mkdtemp(join(tmpdir(), "statehook-plain-"));
const pg = await startEmbeddedPostgres(dir);
const sql = connect(pg.url, { max: WORKERS * 2 + 2 });
const receiver = await startReceiverProcess();
try {
  const url = receiver.url;
  await migrate(sql);
  const webhooks = await seedWebhooks(sql, Array.from({ length: 50 }, (_, i) => `${url}/ok/${i}`));
  await seedDeliveries(sql, webhooks, N);

  const keyring = createKeyring();
  const send = createSender({ timeoutMs: 30_000, allowPrivateTargets: true });
  const never = new AbortController().signal; // as the service's one shared stop signal
  let done = 0;
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      const rows = await claimDue(sql, BATCH, 300);
      if (rows.length === 0) return;
      for (const row of rows) if (row.secret) keyring.remember(row.webhookId, row.secret);
      const outcomes = await Promise.all(rows.map(async (row) => {
        const key = await keyring.key(row.webhookId);
        const headers = await webhookHeaders(key, row.eventId, Math.floor(Date.now() / 1000), row.payload);
        const result = await send({ url: row.url!, headers, body: row.payload }, never);
        return judged({ delivery: row, schedule: SCHEDULE }, result);
      }));
      await recordOutcomes(sql, { outcomes, released: [] }, 1_000_000);
      done += rows.length;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({
    runtime,
    deliveries: done,
    workers: WORKERS,
    batch: BATCH,
    seconds: Number(seconds.toFixed(2)),
    per_second: Math.round(done / seconds),
  }));
} finally {
  await receiver.stop();
  await sql.end();
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
