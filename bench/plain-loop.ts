// The ceiling without actors: the same claim, signing, sender (with its
// per-host cap) and batched result write the service uses, driven by the
// best plain loop we could write (no XState, no API, no metrics). bench/run.ts
// starts it as a process of its own, with the service's environment
// (DATABASE_URL and the STATEHOOK_* settings), and times it beside the
// service on the same schema and work: what the service reaches next to this
// is what the actor system costs. It prints {"ready":true} once it listens,
// and stops on SIGTERM.
//
// Pipelined as the dispatcher is: at most STATEHOOK_MAX_CONCURRENT_SENDS in
// flight; the next claim goes out while a quarter of a batch is still to
// free, so the queue is refilled before it runs dry; one result write in
// flight while the next batch of outcomes collects; and, as the dispatcher,
// a claim waits for the failures collected before it to be written (a
// webhook they disable is then claimed as disabled).
import process from "node:process";
import { type ClaimedDelivery, type DeliveryOutcome, judged, unsent } from "../machines/delivery.ts";
import { connect } from "../src/db/client.ts";
import { claimDue } from "../src/db/claim.ts";
import { DELIVERY_CHANNEL } from "../src/db/migrations.ts";
import { recordOutcomes } from "../src/db/outcomes.ts";
import { createKeyring } from "../src/send/keyring.ts";
import { createSender } from "../src/send/sender.ts";
import { webhookHeaders } from "../src/send/signing.ts";
import { loadConfig } from "../src/start/config.ts";
import { deliveryPolicyFrom } from "../src/start/dispatcher-actor.ts";

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
const policy = deliveryPolicyFrom(config);
const max = config.maxConcurrentSends;
const batch = Math.min(config.claimBatchSize, max);
// Claim again once this many slots are free (and never for fewer rows).
const refillAt = Math.max(1, Math.floor(batch * Number(process.env.BENCH_PLAIN_REFILL ?? 0.25)));

let inFlight = 0;
let claiming = false;
let moreDue = true;
let stopping = false;
let outcomes: DeliveryOutcome[] = [];
let writing = false;
let collected = 0;
let written = 0;
let failedThrough = 0;
/** Set when a claim is wanted: the failures collected by then must be written first. */
let barrier: number | null = null;

async function deliver(row: ClaimedDelivery): Promise<DeliveryOutcome> {
  if (row.url === null || !row.webhookEnabled) return unsent(row);
  try {
    const keys = await keyring.keys(row.webhookId);
    const headers = await webhookHeaders(keys, row.eventId, Math.floor(Date.now() / 1000), row.payload);
    return judged({ delivery: row, schedule, policy }, await send({ url: row.url, headers, body: row.payload }, never));
  } catch (error) {
    return judged({ delivery: row, schedule, policy }, { kind: "error", error: String(error), durationMs: 0 });
  }
}

function finished(outcome: DeliveryOutcome) {
  inFlight--;
  outcomes.push(outcome);
  collected++;
  if (outcome.attempted && outcome.status !== "delivered") failedThrough = collected;
  pump();
}

function pump() {
  if (!writing && outcomes.length > 0) {
    writing = true;
    const taken = outcomes;
    outcomes = [];
    recordOutcomes(sql, { outcomes: taken, released: [] }, config.circuitBreakerThreshold, config.policy).then(
      () => {
        written += taken.length;
        writing = false;
        pump();
      },
      (error) => {
        console.error(`plain loop: result write failed: ${error}`);
        outcomes = [...taken, ...outcomes];
        setTimeout(() => (writing = false, pump()), 1000);
      },
    );
  }
  const free = max - inFlight;
  if (claiming || stopping || !moreDue || free < refillAt) return;
  barrier ??= failedThrough;
  if (written < barrier) return;
  barrier = null;
  claiming = true;
  const limit = Math.min(batch, free);
  claimDue(sql, limit, config.claimTimeoutSecs, config.policy).then(
    (rows) => {
      claiming = false;
      moreDue = rows.length >= limit;
      inFlight += rows.length;
      for (const row of rows) {
        if (row.secret !== null) keyring.remember(row.webhookId, row.secret, row.previousSecret);
        deliver(row).then(finished);
      }
      pump();
    },
    (error) => {
      console.error(`plain loop: claim failed: ${error}`);
      claiming = false;
      moreDue = false;
    },
  );
}

const wake = () => {
  moreDue = true;
  pump();
};
await sql.listen(DELIVERY_CHANNEL, wake, wake);
setInterval(wake, config.pollIntervalMs);
process.on("SIGTERM", () => {
  stopping = true;
  const done = setInterval(() => {
    if (inFlight > 0 || writing || outcomes.length > 0) return;
    clearInterval(done);
    sql.end({ timeout: 5 }).then(() => process.exit(0));
  }, 50);
});
console.log(JSON.stringify({ ready: true }));
