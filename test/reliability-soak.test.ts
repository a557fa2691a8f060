// A bounded soak against the real service process: 20,000 deliveries in four
// equal waves, 10% of the endpoints failing (each of their deliveries is tried
// twice, then exhausted), memory sampled throughout. After the warm-up wave the
// resident set stays flat: the last wave ends no higher than the second, give
// or take the garbage collector's slack (a leaked actor per delivery
// costs ~25 KB, over 100 MB a wave), and no delivery actor outlives its
// delivery. The 200,000-delivery run is in bench/ (BENCHMARKS.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { serviceHarness } from "./support/harness.ts";
import { seedDeliveries, seedWebhooks, statusCounts } from "./support/seed.ts";
import { type Service, until } from "./support/service.ts";

const WAVE = 5_000;
const WAVES = 4;
const ENDPOINTS = 20;
const FAILING = 2;

const { db, receiver, start } = await serviceHarness({
  stopMs: 5000,
  handler: (req, res) => {
    res.statusCode = req.path.startsWith("/fail") ? 500 : 200;
    res.end();
  },
});

const scrape = async (s: Service) => {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const value = (series: string) => {
    const escaped = series.replace(/[{}"]/g, (c) => `\\${c}`);
    return Number(new RegExp(`^${escaped} (\\d+)`, "m").exec(text)?.[1] ?? NaN);
  };
  return {
    inFlight: value("dwctl_webhook_deliveries_in_flight"),
    success: value('dwctl_webhook_deliveries_total{outcome="success"}'),
    failure: value('dwctl_webhook_deliveries_total{outcome="failure"}'),
  };
};

test("soak: 20,000 deliveries, 10% failing endpoints, memory flat after warm-up, no leftover actors", {
  timeout: 120_000,
}, async () => {
  const urls = Array.from({ length: ENDPOINTS }, (_, i) => `${receiver.url}/${i < FAILING ? "fail" : "ok"}/${i}`);
  const webhooks = await seedWebhooks(db.sql, urls);
  const s = await start({
    env: {
      DATABASE_URL: db.url,
      STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
      STATEHOOK_MAX_CONCURRENT_SENDS: "200",
      STATEHOOK_CLAIM_BATCH_SIZE: "100",
      STATEHOOK_RETRY_SCHEDULE: "0,1",
      STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: "1000000",
    },
  });
  let peak = 0;
  const sampler = setInterval(() => void s.memory().then((m) => (peak = Math.max(peak, m.rss)), () => {}), 100);

  const settled = async (wave: number) => {
    const expected = wave * WAVE;
    await until(
      async () => {
        const c = await statusCounts(db.sql);
        return (c.delivered ?? 0) + (c.exhausted ?? 0) === expected;
      },
      60_000,
      `wave ${wave} to settle`,
    );
    await until(async () => (await scrape(s)).inFlight === 0, 5000, "no delivery in flight");
    // The lowest of the samples over two idle seconds: the collector may
    // not have run yet when the last row is recorded.
    let rss = Infinity;
    for (let i = 0; i < 20; i++) {
      rss = Math.min(rss, (await s.memory()).rss);
      await new Promise((r) => setTimeout(r, 100));
    }
    return rss;
  };

  try {
    const rss: number[] = [];
    for (let wave = 1; wave <= WAVES; wave++) {
      await seedDeliveries(db.sql, webhooks, WAVE, (wave - 1) * WAVE);
      rss.push(await settled(wave));
    }
    clearInterval(sampler);

    const total = WAVES * WAVE;
    const counts = await statusCounts(db.sql);
    const failingRows = (total * FAILING) / ENDPOINTS;
    assert.deepEqual(counts, { delivered: total - failingRows, exhausted: failingRows });
    const metrics = await scrape(s);
    assert.deepEqual(metrics, { inFlight: 0, success: total - failingRows, failure: 2 * failingRows });

    const mb = (n: number) => (n / 1048576).toFixed(1);
    const note = `rss after each wave ${rss.map(mb).join(", ")} MB, peak ${mb(peak)} MB`;
    // Wave 1 is the warm-up; from wave 2 on the set stays put, within the
    // collector's slack (Bun's RSS swings by up to ~50 MB between idle
    // samples). A leaked actor per delivery is far over it, as was XState's
    // per-event-type transition cache when each delivery's done event had a
    // type of its own.
    assert.ok(rss.at(-1)! <= rss[1] + 64 * 1048576, `resident set grew: ${note}`);
    assert.ok(peak < 512 * 1048576, note);
    console.log(`soak: ${note}`);
  } finally {
    clearInterval(sampler);
  }
});
