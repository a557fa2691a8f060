// The benchmark's report: this run merged into bench/results/<runtime>.json
// and this runtime's block of BENCHMARKS.md rewritten from it as tables.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ROOT, runtime } from "../test/support/service.ts";
import type { backlog } from "./scenarios/backlog.ts";
import type { latency } from "./scenarios/latency.ts";
import type { memory } from "./scenarios/memory.ts";
import type { soak } from "./scenarios/soak.ts";
import type { SideBySide } from "./scenarios/side-by-side.ts";

/** A Markdown table and the blank line after it; the first `left` columns are left-aligned, the rest right. */
function markdownTable(header: string[], rows: string[][], left = 1): string[] {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const align = header.map((_, i) => (i < left ? "---" : "---:"));
  return [line(header), `|${align.join("|")}|`, ...rows.map(line), ""];
}

/** A figure with the range of every round's (older results have none). */
const withRange = (figure: number, rounds?: number[]) =>
  rounds && rounds.length > 1 ? `${figure} (${Math.min(...rounds)}–${Math.max(...rounds)})` : `${figure}`;

function table(results: Record<string, unknown>): string {
  const r = results as {
    runtime: string;
    runtime_version: string;
    date: string;
    settings: Record<string, string>;
    throughput?: SideBySide[];
    latency?: (Awaited<ReturnType<typeof latency>> & { quarter_of?: number })[];
    backlog?: Awaited<ReturnType<typeof backlog>>[];
    memory?: Awaited<ReturnType<typeof memory>>[] | Awaited<ReturnType<typeof memory>>;
    soak?: Awaited<ReturnType<typeof soak>>;
  };
  const lines = [
    `### ${r.runtime} ${r.runtime_version} — ${r.date}`,
    "",
    `Settings: ${Object.entries(r.settings).map(([k, v]) => `\`${k}=${v}\``).join(", ")}.`,
    "",
  ];
  // Rows saved before the plain loop ran beside the service have no side-by-side figures.
  const throughput = r.throughput?.filter((t) => "statehook" in t);
  if (throughput?.length) {
    const n = throughput[0];
    lines.push(...markdownTable(
      [
        `throughput, ${n.deliveries.toLocaleString("en")} deliveries / ${n.webhooks} endpoints` +
        (n.rounds > 1 ? ` (median of ${n.rounds} rounds)` : ""),
        "statehook/s",
        "plain loop/s",
        "ratio",
        "best round of each: ratio",
        "Postgres CPU µs/delivery: statehook (every round's range)",
        "plain loop",
        "process CPU µs/delivery: statehook",
        "plain loop",
        "peak RSS: statehook",
        "plain loop",
      ],
      throughput.map((t) => [
        t.failing_webhooks ? `${t.failing_webhooks} of ${t.webhooks} failing` : "all healthy",
        `${t.statehook.per_second}`,
        `${t.plain.per_second}`,
        `**${t.ratio}×**`,
        t.best_round_ratio === undefined ? "" : `${t.best_round_ratio}×`,
        withRange(t.statehook.postgres_cpu_us_per_delivery, t.postgres_cpu_us_by_round?.statehook),
        withRange(t.plain.postgres_cpu_us_per_delivery, t.postgres_cpu_us_by_round?.plain),
        `${t.statehook.process_cpu_us_per_delivery}`,
        `${t.plain.process_cpu_us_per_delivery}`,
        `${t.statehook.peak_rss_mb} MB`,
        `${t.plain.peak_rss_mb} MB`,
      ]),
    ));
  }
  const byThread = throughput?.filter((t) => t.statehook.process_cpu_us_by_thread);
  if (byThread?.length) {
    const threads = (cpu: Record<string, number>) =>
      Object.entries(cpu).map(([name, us]) => `${name} ${us}`).join(", ");
    lines.push(...markdownTable(
      ["process CPU µs/delivery by thread (median round)", "statehook", "plain loop"],
      byThread.map((t) => [
        t.failing_webhooks ? `${t.failing_webhooks} of ${t.webhooks} failing` : "all healthy",
        threads(t.statehook.process_cpu_us_by_thread),
        threads(t.plain.process_cpu_us_by_thread),
      ]),
      3,
    ));
  }
  if (r.latency) {
    lines.push(...markdownTable(
      ["latency (publish→receipt)", "achieved/s", "received", "p50", "p95", "p99", "max", "API p99"],
      r.latency.map((l) => [
        l.quarter_of ? `${l.target_per_second}/s (a quarter of ${l.quarter_of}/s)` : `${l.target_per_second}/s`,
        `${l.achieved_per_second}`,
        `${l.received}/${l.published}`,
        `${l.p50_ms} ms`,
        `${l.p95_ms} ms`,
        `**${l.p99_ms} ms**`,
        `${l.max_ms} ms`,
        `${l.api_p99_ms} ms`,
      ]),
    ));
  }
  if (r.backlog) {
    lines.push(...markdownTable(
      ["backlog", "claim p50", "claim p99", "deliveries/s", "table", "pending index"],
      r.backlog.map((b) => [
        `${b.historical_delivered_rows.toLocaleString("en")} delivered rows`,
        `${b.claim_p50_ms} ms`,
        `${b.claim_p99_ms} ms`,
        `${b.per_second}`,
        b.table_size,
        b.pending_index_size,
      ]),
    ));
  }
  if (r.memory) {
    // An older results file holds one row, taken with the per-host cap lifted.
    const rows = Array.isArray(r.memory) ? r.memory : [{ ...r.memory, connections_allowed: r.memory.in_flight }];
    lines.push(...markdownTable(
      [
        "memory (held by the receiver)",
        "in flight",
        "idle RSS",
        "loaded RSS",
        "bytes per in-flight delivery",
        "peak RSS",
      ],
      rows.map((m) => [
        `at most ${m.connections_allowed} requests open`,
        `${m.in_flight} (${m.at_receiver} at receiver)`,
        `${m.idle_rss_mb} MB`,
        `${m.loaded_rss_mb} MB`,
        `${m.bytes_per_in_flight_delivery}`,
        `${m.peak_rss_mb} MB`,
      ]),
    ));
  }
  if (r.soak) {
    const s = r.soak;
    lines.push(
      ...markdownTable(
        [
          "soak",
          "finished",
          "seconds",
          "deliveries/s",
          "RSS after warm-up",
          "RSS at end",
          "peak RSS",
          "in flight after drain",
        ],
        [[
          `${s.deliveries} (10% failing)`,
          s.finished ? "yes" : "no (10 min cap)",
          `${s.seconds}`,
          `${s.per_second}`,
          `${s.rss_after_warmup_mb} MB`,
          `${s.rss_at_end_mb} MB`,
          `${s.peak_rss_mb} MB`,
          `${s.in_flight_after_drain}`,
        ]],
        2,
      ),
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
export async function writeReport(results: Record<string, unknown>) {
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
