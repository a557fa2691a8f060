// statehook's benchmark (`npm run bench` under Bun, `npm run bench:deno`
// under Deno): embedded Postgres, a receiver process (bench/receiver.ts) and
// the real service process (src/main.ts) on one machine. Measures throughput,
// publish→receipt latency, backlog scaling, memory and a 200,000-delivery
// soak; prints JSON and writes this runtime's table into BENCHMARKS.md.
//
// Tuning, from the environment: BENCH_MAX_CONCURRENT_SENDS, BENCH_CLAIM_BATCH_SIZE
// (passed to the service as STATEHOOK_*), BENCH_SOAK (deliveries; 0 skips),
// BENCH_SKIP (comma list of: throughput,latency,backlog,memory,soak),
// BENCH_DELIVERIES (the throughput and backlog runs; 20,000 by default),
// BENCH_RATES (the latency runs as rate:seconds pairs; 100:10,1000:10,5000:4),
// BENCH_PROFILE (a directory: the service writes a CPU profile there on exit;
// a .cpuprofile; Bun only, Deno 2.9 has no such flag).
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { connect, type Sql } from "../src/db/client.ts";
import { claimDue } from "../src/db/claim.ts";
import { startEmbeddedPostgres } from "../src/db/embedded.ts";
import { migrate } from "../src/db/migrate.ts";
import { seedDeliveries, seedWebhooks } from "../test/support/seed.ts";
import { ROOT, runtime, type Service, startService, until } from "../test/support/service.ts";
import { type ReceiverProcess, startReceiverProcess } from "./receiver-process.ts";

const env = process.env;
const MAX_SENDS = env.BENCH_MAX_CONCURRENT_SENDS ?? "250";
const CLAIM_BATCH = env.BENCH_CLAIM_BATCH_SIZE ?? "250";
const SOAK = Number(env.BENCH_SOAK ?? 200_000);
const PROFILE = env.BENCH_PROFILE;
if (PROFILE && runtime === "deno") {
  console.error("BENCH_PROFILE works under Bun only: Deno 2.9 has no flag that writes a CPU profile");
  process.exit(2);
}
const SKIP = new Set((env.BENCH_SKIP ?? "").split(",").filter(Boolean));
const TOKEN = "benchmark-token-0123456789abcdef";
const THROUGHPUT_N = Number(env.BENCH_DELIVERIES ?? 20_000);
// Open-loop publishing rates (events/s) and how long each runs (s).
const LATENCY_RATES = (env.BENCH_RATES ?? "100:10,1000:10,5000:4").split(",").map((r) => r.split(":").map(Number));
const WEBHOOKS = 50;

const log = (message: string) => console.error(`[bench ${runtime}] ${message}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 0) => Number(n.toFixed(digits));
const mb = (bytes: number) => round(bytes / 1048576, 1);

// ---------------------------------------------------------------------------
// Processes

function serviceEnv(databaseUrl: string, extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: databaseUrl,
    STATEHOOK_API_TOKEN: TOKEN,
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
    STATEHOOK_MAX_CONCURRENT_SENDS: MAX_SENDS,
    // The send slots, not the per-endpoint cap (default 20), bound the bench's few endpoints.
    STATEHOOK_MAX_IN_FLIGHT_PER_WEBHOOK: "100000",
    STATEHOOK_CLAIM_BATCH_SIZE: CLAIM_BATCH,
    // One attempt per benchmark run: a failure's retry is an hour away.
    STATEHOOK_RETRY_SCHEDULE: "0,3600",
    // Failing endpoints keep being tried, so every row costs one attempt.
    STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: "1000000",
    STATEHOOK_POLL_INTERVAL_MS: "1000",
    STATEHOOK_TIMEOUT_SECS: "30",
    ...extra,
  };
}

/** Samples the service's resident set every 100 ms while `body` runs. */
async function sampled<T>(service: Service, body: () => Promise<T>): Promise<{ result: T; peakRss: number }> {
  let peak = 0;
  const timer = setInterval(() => void service.memory().then((m) => (peak = Math.max(peak, m.rss)), () => {}), 100);
  try {
    const result = await body();
    peak = Math.max(peak, (await service.memory()).rss);
    return { result, peakRss: peak };
  } finally {
    clearInterval(timer);
  }
}

// ---------------------------------------------------------------------------
// Scenarios

const settledRows = async (sql: Sql, webhookIds: string[]) => {
  const [r] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM webhook_deliveries
    WHERE webhook_id = ANY(${webhookIds}::uuid[]) AND status <> 'pending'
      AND NOT (status = 'failed' AND attempt_count = 0)`;
  return r.n;
};

/**
 * `count` deliveries over `WEBHOOKS` endpoints, `failingShare` of them
 * answering 500. The backlog is staged with the service paused (SIGSTOP), so
 * the clock runs from SIGCONT to the last row recorded, not over the INSERT.
 */
async function throughput(sql: Sql, service: Service, receiver: ReceiverProcess, count: number, failingShare: number) {
  const failing = Math.round(WEBHOOKS * failingShare);
  const urls = Array.from({ length: WEBHOOKS }, (_, i) => `${receiver.url}/${i < failing ? "fail" : "ok"}/${i}`);
  const webhooks = await seedWebhooks(sql, urls);
  await receiver.reset();
  service.kill("SIGSTOP");
  try {
    for (let from = 0; from < count; from += 50_000) {
      await seedDeliveries(sql, webhooks, Math.min(50_000, count - from), from);
    }
  } finally {
    service.kill("SIGCONT");
  }
  const started = performance.now();
  const { peakRss } = await sampled(
    service,
    () => until(async () => (await receiver.stats()).received >= count, 600_000, `${count} deliveries received`),
  );
  await until(async () => (await settledRows(sql, webhooks)) >= count, 60_000, `${count} rows recorded`);
  const seconds = (performance.now() - started) / 1000;
  const stats = await receiver.stats();
  const [statuses] = await sql<{ delivered: number; failed: number }[]>`
    SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered, count(*) FILTER (WHERE status = 'failed')::int AS failed
    FROM webhook_deliveries WHERE webhook_id = ANY(${webhooks}::uuid[])`;
  return {
    deliveries: count,
    webhooks: WEBHOOKS,
    failing_webhooks: failing,
    seconds: round(seconds, 2),
    per_second: round(count / seconds),
    delivered: statuses.delivered,
    failed: statuses.failed,
    duplicates_at_receiver: stats.duplicates,
    peak_rss_mb: mb(peakRss),
  };
}

/** Open-loop publishing through POST /admin/api/v1/events at `rate` per second for `seconds`. */
async function latency(sql: Sql, service: Service, receiver: ReceiverProcess, rate: number, seconds: number) {
  const [webhookId] = await seedWebhooks(sql, [`${receiver.url}/ok/latency`]);
  const [{ user_id: userId }] = await sql<
    { user_id: string }[]
  >`SELECT user_id FROM user_webhooks WHERE id = ${webhookId}`;
  await receiver.reset(true);
  const total = rate * seconds;
  let sent = 0;
  let accepted = 0;
  let rejected = 0;
  const rejectedBy: Record<string, number> = {};
  const reject = (reason: string) => {
    rejected++;
    rejectedBy[reason] = (rejectedBy[reason] ?? 0) + 1;
  };
  const apiTimes: number[] = [];
  const inflight = new Set<Promise<void>>();
  const publish = (n: number) => {
    const at = Date.now();
    const p = fetch(`${service.url}/admin/api/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ event_type: "bench.latency", user_id: userId, data: { n, sent: at } }),
    }).then(async (r) => {
      await r.arrayBuffer();
      apiTimes.push(Date.now() - at);
      if (r.status === 202) accepted++;
      else reject(`HTTP ${r.status}`);
    }, (error) => reject(`fetch: ${error instanceof Error ? error.message : String(error)}`));
    const tracked = p.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
  };
  // The schedule is fixed in advance: publishing does not wait for answers.
  const start = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (sent < due) publish(sent++);
    await sleep(1);
  }
  const publishSeconds = (performance.now() - start) / 1000;
  await Promise.all(inflight);
  await until(async () => (await receiver.stats()).received >= accepted, 120_000, "every published event received")
    .catch(() => {});
  const stats = await receiver.stats();
  apiTimes.sort((a, b) => a - b);
  const pct = (p: number) =>
    apiTimes[Math.min(apiTimes.length - 1, Math.ceil((p / 100) * apiTimes.length) - 1)] ?? null;
  return {
    target_per_second: rate,
    achieved_per_second: round(total / publishSeconds),
    published: total,
    accepted,
    rejected,
    ...(rejected > 0 ? { rejected_by: rejectedBy } : {}),
    received: stats.received,
    p50_ms: stats.latency.p50,
    p95_ms: stats.latency.p95,
    p99_ms: stats.latency.p99,
    max_ms: stats.latency.max,
    api_p50_ms: pct(50),
    api_p99_ms: pct(99),
  };
}

/** Adds delivered rows of a "history" webhook until the table holds `target` of them; then VACUUM ANALYZE. */
async function growHistory(sql: Sql, historyWebhook: string, target: number) {
  const [{ n }] = await sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = ${historyWebhook}`;
  for (let have = n; have < target; have += 200_000) {
    await sql`
      INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, status, attempt_count, last_status_code, created_at, next_attempt_at)
      SELECT ${historyWebhook}, gen_random_uuid(), 'bench.history',
        jsonb_build_object('type', 'bench.history', 'timestamp', now(), 'data', jsonb_build_object('n', i)),
        'delivered', 1, 200, now() - interval '1 day', now() - interval '1 day'
      FROM generate_series(1, ${Math.min(200_000, target - have)}) AS i`;
  }
  await sql`VACUUM ANALYZE webhook_deliveries`;
}

/** The claim statement's latency: `limit` rows out of a due backlog, each in a rolled-back transaction. */
async function claimLatency(sql: Sql, limit: number, rounds = 200) {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await sql
      .begin(async (tx) => {
        const t = performance.now();
        const rows = await claimDue(tx as unknown as Sql, limit, 300);
        times.push(performance.now() - t);
        if (rows.length !== limit) throw new Error(`claimed ${rows.length} of ${limit}`);
        throw new Rollback();
      })
      .catch((e) => {
        if (!(e instanceof Rollback)) throw e;
      });
  }
  times.sort((a, b) => a - b);
  return {
    limit,
    p50_ms: round(times[Math.floor(rounds * 0.5)], 2),
    p99_ms: round(times[Math.floor(rounds * 0.99)], 2),
  };
}
class Rollback extends Error {}

async function backlog(sql: Sql, service: Service, receiver: ReceiverProcess, historyWebhook: string, history: number) {
  await growHistory(sql, historyWebhook, history);
  // A due backlog to claim from, with the service paused so it stays due.
  const urls = Array.from({ length: WEBHOOKS }, (_, i) => `${receiver.url}/ok/backlog/${i}`);
  const webhooks = await seedWebhooks(sql, urls);
  await receiver.reset();
  service.kill("SIGSTOP");
  let claim;
  try {
    await seedDeliveries(sql, webhooks, THROUGHPUT_N);
    claim = await claimLatency(sql, Number(CLAIM_BATCH));
  } finally {
    service.kill("SIGCONT");
  }
  const started = performance.now();
  await until(async () => (await receiver.stats()).received >= THROUGHPUT_N, 600_000, "backlog received");
  await until(async () => (await settledRows(sql, webhooks)) >= THROUGHPUT_N, 60_000, "backlog recorded");
  const seconds = (performance.now() - started) / 1000;
  const [size] = await sql<{ table: string; index: string }[]>`
    SELECT pg_size_pretty(pg_total_relation_size('webhook_deliveries')) AS table,
           pg_size_pretty(pg_relation_size('idx_webhook_deliveries_pending')) AS index`;
  return {
    historical_delivered_rows: history,
    claim_p50_ms: claim.p50_ms,
    claim_p99_ms: claim.p99_ms,
    claim_rows: claim.limit,
    deliveries: THROUGHPUT_N,
    per_second: round(THROUGHPUT_N / seconds),
    table_size: size.table,
    pending_index_size: size.index,
  };
}

/** Resident set with `held` delivery actors in flight (the receiver holds every request) over the idle set. */
async function memory(databaseUrl: string, sql: Sql, receiver: ReceiverProcess, held: number) {
  const service = await startService({
    env: serviceEnv(databaseUrl, {
      STATEHOOK_MAX_CONCURRENT_SENDS: String(held),
      // Every delivery with its request open, as far as the runtime's fetch goes.
      STATEHOOK_MAX_CONNECTIONS_PER_HOST: String(held),
      STATEHOOK_CLAIM_BATCH_SIZE: "1000",
      STATEHOOK_TIMEOUT_SECS: "300",
    }),
  });
  try {
    const urls = Array.from({ length: WEBHOOKS }, (_, i) => `${receiver.url}/hold/${i}`);
    const webhooks = await seedWebhooks(sql, urls);
    await receiver.reset();
    await sleep(2000);
    const idle = (await service.memory()).rss;
    await seedDeliveries(sql, webhooks, held);
    await until(
      async () => {
        const [r] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM webhook_deliveries
        WHERE webhook_id = ANY(${webhooks}::uuid[]) AND status = 'pending' AND next_attempt_at > now()`;
        return r.n === held;
      },
      60_000,
      "all claimed",
    );
    // Bun's fetch opens at most 256 connections at once and queues the rest.
    await until(
      async () => (await receiver.stats()).held >= Math.min(held, runtime === "bun" ? 256 : held),
      60_000,
      "requests held",
    );
    await sleep(1000);
    const loaded = (await service.memory()).rss;
    const stats = await receiver.stats();
    await receiver.release();
    await until(async () => (await settledRows(sql, webhooks)) >= held, 120_000, "held deliveries recorded");
    return {
      in_flight: held,
      at_receiver: stats.held,
      idle_rss_mb: mb(idle),
      loaded_rss_mb: mb(loaded),
      bytes_per_in_flight_delivery: round((loaded - idle) / held),
      peak_rss_mb: mb((await service.memory()).peak),
    };
  } finally {
    await service.stop();
  }
}

async function soak(sql: Sql, service: Service, receiver: ReceiverProcess, total: number) {
  const urls = Array.from(
    { length: WEBHOOKS },
    (_, i) => `${receiver.url}/${i < WEBHOOKS / 10 ? "fail" : "ok"}/soak/${i}`,
  );
  const webhooks = await seedWebhooks(sql, urls);
  await receiver.reset();
  const samples: { t: number; rss_mb: number; received: number }[] = [];
  const started = performance.now();
  for (let from = 0; from < total; from += 50_000) {
    await seedDeliveries(sql, webhooks, Math.min(50_000, total - from), from);
  }
  const deadline = 600_000;
  let finished = true;
  for (;;) {
    const stats = await receiver.stats();
    samples.push({
      t: round((performance.now() - started) / 1000, 1),
      rss_mb: mb((await service.memory()).rss),
      received: stats.received,
    });
    if (stats.received >= total) break;
    if (performance.now() - started > deadline) {
      finished = false;
      break;
    }
    await sleep(1000);
  }
  if (finished) await until(async () => (await settledRows(sql, webhooks)) >= total, 60_000, "soak recorded");
  const seconds = (performance.now() - started) / 1000;
  const metrics = await (await fetch(`${service.url}/metrics`)).text();
  const inFlight = Number(/^dwctl_webhook_deliveries_in_flight (\d+)/m.exec(metrics)?.[1] ?? NaN);
  const warm = samples[Math.min(samples.length - 1, Math.max(2, Math.floor(samples.length / 5)))];
  const last = samples.at(-1)!;
  return {
    deliveries: total,
    failing_share: 0.1,
    finished,
    seconds: round(seconds, 1),
    per_second: round(samples.at(-1)!.received / seconds),
    rss_after_warmup_mb: warm.rss_mb,
    rss_at_end_mb: last.rss_mb,
    peak_rss_mb: mb((await service.memory()).peak),
    in_flight_after_drain: inFlight,
    rss_samples_mb: samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 20)) === 0).map((s) =>
      s.rss_mb
    ),
  };
}

// ---------------------------------------------------------------------------
// Report

function table(results: Record<string, unknown>): string {
  const r = results as {
    runtime: string;
    runtime_version: string;
    date: string;
    settings: Record<string, string>;
    throughput?: Awaited<ReturnType<typeof throughput>>[];
    latency?: Awaited<ReturnType<typeof latency>>[];
    backlog?: Awaited<ReturnType<typeof backlog>>[];
    memory?: Awaited<ReturnType<typeof memory>>;
    soak?: Awaited<ReturnType<typeof soak>>;
  };
  const lines = [
    `### ${r.runtime} ${r.runtime_version} — ${r.date}`,
    "",
    `Settings: ${Object.entries(r.settings).map(([k, v]) => `\`${k}=${v}\``).join(", ")}.`,
    "",
  ];
  if (r.throughput) {
    lines.push(
      "| throughput | deliveries | failing endpoints | seconds | deliveries/s | peak RSS |",
      "|---|---:|---:|---:|---:|---:|",
    );
    for (const t of r.throughput) {
      lines.push(
        `| ${
          t.failing_webhooks ? "10% failing" : "all healthy"
        } | ${t.deliveries} | ${t.failing_webhooks}/${t.webhooks} | ${t.seconds} | **${t.per_second}** | ${t.peak_rss_mb} MB |`,
      );
    }
    lines.push("");
  }
  if (r.latency) {
    lines.push(
      "| latency (publish→receipt) | achieved/s | received | p50 | p95 | p99 | max | API p99 |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const l of r.latency) {
      lines.push(
        `| ${l.target_per_second}/s | ${l.achieved_per_second} | ${l.received}/${l.published} | ${l.p50_ms} ms | ${l.p95_ms} ms | **${l.p99_ms} ms** | ${l.max_ms} ms | ${l.api_p99_ms} ms |`,
      );
    }
    lines.push("");
  }
  if (r.backlog) {
    lines.push(
      "| backlog | claim p50 | claim p99 | deliveries/s | table | pending index |",
      "|---|---:|---:|---:|---:|---:|",
    );
    for (const b of r.backlog) {
      lines.push(
        `| ${
          b.historical_delivered_rows.toLocaleString("en")
        } delivered rows | ${b.claim_p50_ms} ms | ${b.claim_p99_ms} ms | ${b.per_second} | ${b.table_size} | ${b.pending_index_size} |`,
      );
    }
    lines.push("");
  }
  if (r.memory) {
    const m = r.memory;
    lines.push(
      "| memory | in flight | idle RSS | loaded RSS | bytes per in-flight delivery | peak RSS |",
      "|---|---:|---:|---:|---:|---:|",
      `| held by receiver | ${m.in_flight} (${m.at_receiver} at receiver) | ${m.idle_rss_mb} MB | ${m.loaded_rss_mb} MB | ${m.bytes_per_in_flight_delivery} | ${m.peak_rss_mb} MB |`,
      "",
    );
  }
  if (r.soak) {
    const s = r.soak;
    lines.push(
      "| soak | finished | seconds | deliveries/s | RSS after warm-up | RSS at end | peak RSS | in flight after drain |",
      "|---|---|---:|---:|---:|---:|---:|---:|",
      `| ${s.deliveries} (10% failing) | ${
        s.finished ? "yes" : "no (10 min cap)"
      } | ${s.seconds} | ${s.per_second} | ${s.rss_after_warmup_mb} MB | ${s.rss_at_end_mb} MB | ${s.peak_rss_mb} MB | ${s.in_flight_after_drain} |`,
      "",
      `RSS samples (MB): ${s.rss_samples_mb.join(", ")}`,
      "",
    );
  }
  return lines.join("\n");
}

/**
 * Merges this run into bench/results/<runtime>.json (a section skipped now
 * keeps its last measurement, marked with its own date) and rewrites this
 * runtime's block of BENCHMARKS.md from it.
 */
async function writeReport(results: Record<string, unknown>) {
  const saved = join(ROOT, "bench", "results", `${runtime}.json`);
  const previous = JSON.parse(await readFile(saved, "utf8").catch(() => "{}")) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...previous, ...results };
  await mkdir(dirname(saved), { recursive: true });
  await writeFile(saved, JSON.stringify(merged, null, 2) + "\n");

  const file = join(ROOT, "BENCHMARKS.md");
  const text = await readFile(file, "utf8").catch(() => "# Benchmarks\n");
  const start = `<!-- bench:${runtime}:start -->`;
  const end = `<!-- bench:${runtime}:end -->`;
  const block = `${start}\n${table(merged)}\n${end}`;
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`);
  await writeFile(file, pattern.test(text) ? text.replace(pattern, block) : `${text.trimEnd()}\n\n${block}\n`);
}

// ---------------------------------------------------------------------------

declare const Bun: { version: string } | undefined;
declare const Deno: { version: { deno: string } } | undefined;

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "statehook-bench-"));
  const pg = await startEmbeddedPostgres(dir);
  const sql = connect(pg.url, { max: 4 });
  let receiver: ReceiverProcess | undefined;
  let service: Service | undefined;
  const results: Record<string, unknown> = {
    runtime,
    runtime_version: typeof Bun !== "undefined" ? Bun.version : Deno!.version.deno,
    date: new Date().toISOString().slice(0, 10),
    machine: { cores: cpus().length, memory_gb: round(totalmem() / 2 ** 30) },
    settings: { STATEHOOK_MAX_CONCURRENT_SENDS: MAX_SENDS, STATEHOOK_CLAIM_BATCH_SIZE: CLAIM_BATCH },
  };
  try {
    await migrate(sql);
    receiver = await startReceiverProcess();
    const runtimeFlags = PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`] : [];
    service = await startService({ env: serviceEnv(pg.url), runtimeFlags });
    const [historyWebhook] = await seedWebhooks(sql, [`${receiver.url}/ok/history`]);
    await growHistory(sql, historyWebhook, 10_000);

    if (!SKIP.has("throughput")) {
      log("throughput");
      results.throughput = [
        await throughput(sql, service, receiver, THROUGHPUT_N, 0),
        await throughput(sql, service, receiver, THROUGHPUT_N, 0.1),
      ];
      log(JSON.stringify(results.throughput));
    }
    if (!SKIP.has("latency")) {
      results.latency = [];
      for (const [rate, seconds] of LATENCY_RATES) {
        log(`latency ${rate}/s`);
        (results.latency as unknown[]).push(await latency(sql, service, receiver, rate, seconds));
        log(JSON.stringify((results.latency as unknown[]).at(-1)));
      }
    }
    if (!SKIP.has("backlog")) {
      results.backlog = [];
      for (const history of [10_000, 1_000_000]) {
        log(`backlog ${history}`);
        (results.backlog as unknown[]).push(await backlog(sql, service, receiver, historyWebhook, history));
        log(JSON.stringify((results.backlog as unknown[]).at(-1)));
      }
    }
    if (!SKIP.has("soak") && SOAK > 0) {
      log(`soak ${SOAK}`);
      results.soak = await soak(sql, service, receiver, SOAK);
      log(JSON.stringify(results.soak));
    }
    await service.stop();
    service = undefined;
    if (!SKIP.has("memory")) {
      log("memory");
      results.memory = await memory(pg.url, sql, receiver, 5000);
      log(JSON.stringify(results.memory));
    }
    console.log(JSON.stringify(results, null, 2));
    await writeReport(results);
  } finally {
    await service?.stop();
    await receiver?.stop();
    await sql.end({ timeout: 5 });
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
