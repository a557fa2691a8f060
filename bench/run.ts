// statehook's benchmark (`npm run bench` under Bun, `npm run bench:deno`
// under Deno): embedded Postgres, a receiver process (bench/receiver.ts) and
// the real service process (src/main.ts) on one machine. Measures throughput,
// publish→receipt latency, backlog scaling, memory and a 200,000-delivery
// soak; prints JSON and writes this runtime's table into BENCHMARKS.md. Each
// scenario is a file in bench/scenarios/; this one picks and runs them. The
// throughput rows run the plain loop (bench/plain-loop.ts, no actors) on the
// same schema and backlog beside the service, for the ratio of the two, and
// read the CPU each of them and the Postgres process tree spent per delivery.
//
// Tuning, from the environment: BENCH_MAX_CONCURRENT_SENDS, BENCH_CLAIM_BATCH_SIZE
// (passed to the service as STATEHOOK_*), BENCH_SOAK (deliveries; 0 skips),
// BENCH_SKIP (comma list of: throughput,live,latency,backlog,memory,soak),
// BENCH_DELIVERIES (the throughput and backlog runs; 20,000 by default),
// BENCH_ROUNDS (rounds of each contender per throughput row, alternating
// which goes first; the median round is reported; 5),
// BENCH_RATES (the latency runs as rate:seconds pairs; 100:10,quarter:10, where
// "quarter" is a quarter of the service's all-healthy throughput in this run),
// BENCH_PROFILE (a directory: the service and the plain loop each write a CPU
// profile there, a .cpuprofile: Bun's --cpu-prof on exit; under Deno, which has
// no such flag, recorded over --inspect, see bench/inspector-profile.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { connect } from "../src/db/client.ts";
import { startEmbeddedPostgres } from "../src/db/embedded.ts";
import { migrate } from "../src/db/migrate.ts";
import { seedWebhooks } from "../test/support/seed.ts";
import { runtime, type Service, startService } from "../test/support/service.ts";
import { postmasterPid } from "./cpu.ts";
import { round } from "./measure.ts";
import { freeLocalPort, profileOverInspector } from "./inspector-profile.ts";
import { type PlainLoop, startPlainLoop } from "./plain-loop-process.ts";
import { type ReceiverProcess, startReceiverProcess } from "./receiver-process.ts";
import { writeReport } from "./report.ts";
import { backlog, growHistory } from "./scenarios/backlog.ts";
import { latency } from "./scenarios/latency.ts";
import { liveViewer } from "./scenarios/live-viewer.ts";
import { memory } from "./scenarios/memory.ts";
import { soak } from "./scenarios/soak.ts";
import { sideBySide } from "./scenarios/side-by-side.ts";
import {
  CLAIM_BATCH,
  LATENCY_RATES,
  MAX_SENDS,
  PROFILE,
  serviceEnv,
  SKIP,
  SOAK,
  THROUGHPUT_N,
  THROUGHPUT_ROUNDS,
} from "./settings.ts";

const log = (message: string) => console.error(`[bench ${runtime}] ${message}`);

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "statehook-bench-"));
  const pg = await startEmbeddedPostgres(dir);
  const sql = connect(pg.url, { max: 4 });
  let receiver: ReceiverProcess | undefined;
  let service: Service | undefined;
  let plain: PlainLoop | undefined;
  const results: Record<string, unknown> = {
    runtime,
    runtime_version: process.versions[runtime],
    date: new Date().toISOString().slice(0, 10),
    machine: { cores: cpus().length, memory_gb: round(totalmem() / 2 ** 30) },
    settings: { STATEHOOK_MAX_CONCURRENT_SENDS: MAX_SENDS, STATEHOOK_CLAIM_BATCH_SIZE: CLAIM_BATCH },
  };
  try {
    await migrate(sql);
    receiver = await startReceiverProcess();
    const inspectorPorts = PROFILE && runtime === "deno" ? [await freeLocalPort(), await freeLocalPort()] : [];
    const profiled = (i: number) =>
      !PROFILE
        ? []
        : runtime === "bun"
        ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`]
        : [`--inspect=127.0.0.1:${inspectorPorts[i]}`];
    service = await startService({ env: serviceEnv(pg.url), runtimeFlags: profiled(0) });
    const serviceProfile = inspectorPorts.length ? await profileOverInspector(inspectorPorts[0]) : undefined;
    const postgres = await postmasterPid(join(dir, "postgres"));
    const [historyWebhook] = await seedWebhooks(sql, [`${receiver.url}/ok/history`]);
    await growHistory(sql, historyWebhook, 10_000);

    let saturation: number | undefined;
    if (!SKIP.has("throughput")) {
      plain = await startPlainLoop(serviceEnv(pg.url), profiled(1));
      const plainProfile = inspectorPorts.length ? await profileOverInspector(inspectorPorts[1]) : undefined;
      const contenders = { statehook: service, plain };
      log("throughput warm-up");
      // Half a row each, unmeasured: both runtimes compile the hot paths in
      // tiers, the service (more code) later than the plain loop.
      const warmUp = Math.max(2000, Math.round(THROUGHPUT_N / 2));
      await sideBySide(sql, contenders, postgres, receiver, warmUp, 0);
      log("throughput");
      const rows = [
        await sideBySide(sql, contenders, postgres, receiver, THROUGHPUT_N, 0, THROUGHPUT_ROUNDS),
        await sideBySide(sql, contenders, postgres, receiver, THROUGHPUT_N, 0.1, THROUGHPUT_ROUNDS),
      ];
      results.throughput = rows;
      saturation = rows[0].statehook.per_second;
      await plainProfile?.save(PROFILE!, "plain-loop");
      await plain.stop();
      plain = undefined;
      log(JSON.stringify(results.throughput));
    }
    if (!SKIP.has("live")) {
      log("live viewer");
      results.live_viewer = await liveViewer(sql, service, postgres, receiver, THROUGHPUT_N);
      log(JSON.stringify(results.live_viewer));
    }
    if (!SKIP.has("latency")) {
      results.latency = [];
      for (const { rate: asked, seconds } of LATENCY_RATES) {
        if (asked === "quarter" && saturation === undefined) continue;
        const rate = asked === "quarter" ? Math.round(saturation! / 4) : asked;
        log(`latency ${rate}/s`);
        const measured = await latency(sql, service, receiver, rate, seconds);
        (results.latency as unknown[]).push(asked === "quarter" ? { ...measured, quarter_of: saturation } : measured);
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
    await serviceProfile?.save(PROFILE!, "service");
    await service.stop();
    service = undefined;
    if (!SKIP.has("memory")) {
      log("memory");
      results.memory = [
        await memory(pg.url, sql, receiver, 5000, 256),
        await memory(pg.url, sql, receiver, 5000, 5000),
      ];
      log(JSON.stringify(results.memory));
    }
    console.log(JSON.stringify(results, null, 2));
    await writeReport(results);
  } finally {
    await plain?.stop();
    await service?.stop();
    await receiver?.stop();
    await sql.end({ timeout: 5 });
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
