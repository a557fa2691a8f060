// The ceiling without actors: the same claim, signing, sender and batched
// result write the service uses, driven by a plain loop (no XState, no API,
// no metrics). bench/run.ts starts it as a process of its own, with the
// service's environment (DATABASE_URL and the STATEHOOK_* settings), next to
// the service, and times both on the same schema and the same work: what the
// service reaches next to this is what the actor system costs. It prints
// {"ready":true} once it listens, and stops on SIGTERM.
import process from "node:process";
import { judged } from "../machines/delivery.ts";
import { connect } from "../src/db/client.ts";
import { claimDue } from "../src/db/claim.ts";
import { DELIVERY_CHANNEL } from "../src/db/migrations.ts";
import { recordOutcomes } from "../src/db/outcomes.ts";
import { createKeyring } from "../src/send/keyring.ts";
import { createSender } from "../src/send/sender.ts";
import { webhookHeaders } from "../src/send/signing.ts";
import { loadConfig } from "../src/start/config.ts";

const WORKERS = 4;

const config = loadConfig(process.env);
const sql = connect(config.databaseUrl!, { max: 10 });
const keyring = createKeyring();
const send = createSender({
  timeoutMs: config.timeoutMs,
  allowPrivateTargets: config.allowPrivateTargets,
  maxPerHost: config.maxConnectionsPerHost,
});
const never = new AbortController().signal; // as the service's one shared stop signal
const schedule = config.retrySchedule;
const batch = Math.floor(config.claimBatchSize / WORKERS);

let stopping = false;
let waiting: (() => void)[] = [];
const woken = () => new Promise<void>((resolve) => waiting.push(resolve));
const wake = () => {
  for (const resolve of waiting) resolve();
  waiting = [];
};

const worker = async () => {
  while (!stopping) {
    const rows = await claimDue(sql, batch, config.claimTimeoutSecs);
    if (rows.length === 0) {
      await Promise.race([woken(), new Promise((r) => setTimeout(r, config.pollIntervalMs))]);
      continue;
    }
    for (const row of rows) if (row.secret) keyring.remember(row.webhookId, row.secret);
    const outcomes = await Promise.all(rows.map(async (row) => {
      const key = await keyring.key(row.webhookId);
      const headers = await webhookHeaders(key, row.eventId, Math.floor(Date.now() / 1000), row.payload);
      const result = await send({ url: row.url!, headers, body: row.payload }, never);
      return judged({ delivery: row, schedule }, result);
    }));
    await recordOutcomes(sql, { outcomes, released: [] }, config.circuitBreakerThreshold);
  }
};

await sql.listen(DELIVERY_CHANNEL, () => wake());
const workers = Promise.all(Array.from({ length: WORKERS }, worker));
process.on("SIGTERM", () => {
  stopping = true;
  wake();
  workers.then(() => sql.end({ timeout: 5 })).then(() => process.exit(0));
});
console.log(JSON.stringify({ ready: true }));
