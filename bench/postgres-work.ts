// What Postgres alone spends per delivery on the dispatcher's two statements:
// the real claim (src/db/claim.ts) and the real batched result write
// (src/db/outcomes.ts), in a loop over a staged backlog, with no HTTP and no
// actors. The CPU is the one backend's (from /proc), split between the two,
// so a change to either statement or to the schema shows up here in seconds
// and with little noise. `bun bench/postgres-work.ts` / `deno run -A
// bench/postgres-work.ts`; an embedded cluster of its own, or a fresh
// database on DATABASE_URL's server. BENCH_DELIVERIES (30,000),
// BENCH_CLAIM_BATCH_SIZE (150, about what the service claims under load),
// BENCH_WRITE_BATCH (50, about what one result write carries under load),
// BENCH_CLAIMS_AHEAD (2: claims run this many ahead of the writes, so about
// 300 rows are in flight when each claim counts them, as under load).
import process from "node:process";
import type { DeliveryOutcome } from "../machines/delivery.ts";
import { claimDue } from "../src/db/claim.ts";
import { recordOutcomes } from "../src/db/outcomes.ts";
import { testDatabase } from "../test/support/database.ts";
import { attemptOutcome } from "../test/support/delivery-fixtures.ts";
import { seedDeliveries, seedWebhooks } from "../test/support/seed.ts";
import { backendCpuMicros } from "./cpu.ts";
import { round } from "./measure.ts";

const env = process.env;
const total = Number(env.BENCH_DELIVERIES ?? 30_000);
const claimBatch = Number(env.BENCH_CLAIM_BATCH_SIZE ?? 150);
const writeBatch = Number(env.BENCH_WRITE_BATCH ?? 50);
const ahead = Number(env.BENCH_CLAIMS_AHEAD ?? 2);

const delivered = (row: Awaited<ReturnType<typeof claimDue>>[number]): DeliveryOutcome =>
  attemptOutcome("delivered", { deliveryId: row.id, webhookId: row.webhookId, attemptsBefore: row.attemptCount });

const db = await testDatabase({ max: 1 });
try {
  const webhooks = await seedWebhooks(db.sql, Array.from({ length: 50 }, (_, i) => `http://127.0.0.1:9/ok/${i}`));
  await seedDeliveries(db.sql, webhooks, total);
  await db.sql`VACUUM ANALYZE`;
  // One connection, so one backend does all the work.
  const [{ pid }] = await db.sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
  let claimUs = 0;
  let writeUs = 0;
  let rows = 0;
  // Claims run `ahead` claims ahead of the writes, so each claim counts the
  // rows still in flight, as under load.
  const unwritten: DeliveryOutcome[][] = [];
  const writeOldest = async () => {
    const outcomes = unwritten.shift()!;
    for (let i = 0; i < outcomes.length; i += writeBatch) {
      const before = await backendCpuMicros(pid);
      await recordOutcomes(db.sql, { outcomes: outcomes.slice(i, i + writeBatch), released: [] }, 1_000_000);
      writeUs += (await backendCpuMicros(pid)) - before;
    }
  };
  for (;;) {
    const before = await backendCpuMicros(pid);
    const claimed = await claimDue(db.sql, claimBatch, 300);
    claimUs += (await backendCpuMicros(pid)) - before;
    if (claimed.length === 0) break;
    rows += claimed.length;
    unwritten.push(claimed.map(delivered));
    if (unwritten.length > ahead) await writeOldest();
  }
  while (unwritten.length > 0) await writeOldest();
  console.log(JSON.stringify({
    deliveries: rows,
    claim_batch: claimBatch,
    write_batch: writeBatch,
    claims_ahead: ahead,
    claim_cpu_us_per_delivery: round(claimUs / rows, 1),
    write_cpu_us_per_delivery: round(writeUs / rows, 1),
    postgres_cpu_us_per_delivery: round((claimUs + writeUs) / rows, 1),
  }));
} finally {
  await db.close();
}
process.exit(0);
