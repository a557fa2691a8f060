// The benchmark's webhook receiver, in a process of its own, on the runtime's
// native server (src/start/runtime.ts): it answers 200 (or 500 under /fail/, or
// holds the request under /hold/), counts, and in latency mode reads the
// `sent` timestamp in each payload to record publish→receipt latency.
// Prints {"url": ...} on its first line; /_stats, /_reset and /_release
// (answer every held request, hold no more) drive it.
import { serve } from "../src/start/runtime.ts";

let received = 0;
let failed = 0;
let latencyMode = false;
let latencies: number[] = [];
let firstAt = 0;
let lastAt = 0;
let held: (() => void)[] = [];
// After /_release nothing more is held (until /_reset): a client that caps its
// connections sends the rest of its queue only once the first ones are answered.
let holding = true;
const ids = new Set<string>();
let duplicates = 0;

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/_stats") {
    const sorted = latencies.slice().sort((a, b) => a - b);
    return Response.json({
      received,
      failed,
      held: held.length,
      duplicates,
      firstAt,
      lastAt,
      latency: {
        n: sorted.length,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        max: sorted.at(-1) ?? null,
      },
    });
  }
  if (url.pathname === "/_reset") {
    received =
      failed =
      duplicates =
      firstAt =
      lastAt =
        0;
    latencies = [];
    ids.clear();
    latencyMode = url.searchParams.get("latency") === "1";
    holding = true;
    return new Response("ok");
  }
  if (url.pathname === "/_release") {
    const n = held.length;
    holding = false;
    for (const release of held) release();
    held = [];
    return Response.json({ released: n });
  }

  const now = Date.now();
  const body = await request.text();
  received++;
  if (firstAt === 0) firstAt = now;
  lastAt = now;
  const id = request.headers.get("webhook-id") ?? "";
  if (ids.has(id)) duplicates++;
  else ids.add(id);
  if (latencyMode) {
    const sent = (JSON.parse(body) as { data?: { sent?: number } }).data?.sent;
    if (typeof sent === "number") latencies.push(now - sent);
  }
  if (url.pathname.startsWith("/fail/")) {
    failed++;
    return new Response("failing on purpose", { status: 500 });
  }
  if (url.pathname.startsWith("/hold/") && holding) {
    await new Promise<void>((resolve) => held.push(resolve));
  }
  return new Response("ok");
}

const server = serve(handle, { hostname: "127.0.0.1", port: 0 });
console.log(JSON.stringify({ url: `http://127.0.0.1:${server.port}` }));
