// Decoding bombs against the real service process: many deliveries at once
// to receivers whose 809-byte brotli or 509 KiB gzip answer decodes to
// 512 MiB. The service's memory stays bounded, the attempt log keeps at most
// 4 KiB of each answer, and the API serves a small delivery.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { testDatabase } from "./support/database.ts";
import { MiB, startHostileReceiver } from "./support/hostile-receiver.ts";
import { seedDeliveries, seedWebhooks } from "./support/seed.ts";
import { startService, until } from "./support/service.ts";

const DELIVERIES = 200;
// The service idles at 60-120 MB resident; without a bound on what it reads,
// one brotli answer alone decodes to 512 MiB.
const PEAK_LIMIT = 320 * MiB;
const TOKEN = "reliability-test-token-0123456789";

// Set up at load time: bun's node:test ignores a hook's timeout option.
const db = await testDatabase();
const receiver = await startHostileReceiver({ bombs: true });
const service = await startService({
  env: {
    DATABASE_URL: db.url,
    STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
    STATEHOOK_RETRY_SCHEDULE: "0,3600",
    STATEHOOK_TIMEOUT_SECS: "20",
    STATEHOOK_MAX_CONCURRENT_SENDS: "50",
    STATEHOOK_CIRCUIT_BREAKER_THRESHOLD: "100000",
  },
});

after(async () => {
  await service.stop();
  await receiver.close();
  await db.close();
});

test("bombs, 50 at a time: resident memory stays bounded, 4 KiB kept per attempt", { timeout: 90_000 }, async () => {
  const paths = ["/bomb/br", "/bomb/gzip"];
  const urls = Array.from({ length: 10 }, (_, i) => `${receiver.url}${paths[i % 2]}`);
  const webhooks = await seedWebhooks(db.sql, urls);
  const idle = await service.memory();

  // Sampled while the attempts run; past the limit the service is killed at
  // once, so a regression fails here instead of exhausting the machine.
  let peak = idle.rss;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rss } = await service.memory().catch(() => ({ rss: 0 }));
      peak = Math.max(peak, rss);
      if (rss > PEAK_LIMIT) {
        service.kill("SIGKILL");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  await seedDeliveries(db.sql, webhooks, DELIVERIES);
  const attempted = until(
    async () => {
      const [{ n }] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM webhook_delivery_attempts`;
      return n >= DELIVERIES;
    },
    60_000,
    `${DELIVERIES} attempts`,
  );
  const killed = service.exited.then(({ signal }) => {
    throw new Error(`the service was killed (${signal}) with ${Math.round(peak / MiB)} MiB resident`);
  });
  // The service exits when the test stops it, after the race: that rejection is no news.
  killed.catch(() => {});
  try {
    await Promise.race([attempted, killed]);
  } finally {
    sampling = false;
    await sampler;
  }
  const { peak: hwm } = await service.memory();
  assert.ok(hwm < PEAK_LIMIT, `VmHWM ${Math.round(hwm / MiB)} MiB`);

  const sizes = await db.sql<{ longest: number; outcome: string; n: number }[]>`
    SELECT max(length(response_body))::int AS longest, outcome, count(*)::int AS n
    FROM webhook_delivery_attempts GROUP BY outcome`;
  assert.deepEqual(sizes.map((s) => [s.outcome, s.n]), [["delivered", DELIVERIES]]);
  assert.ok(sizes[0].longest <= 4096, `longest stored body ${sizes[0].longest} chars`);

  const [{ id }] = await db.sql<{ id: string }[]>`SELECT id FROM webhook_deliveries LIMIT 1`;
  const reply = await fetch(`${service.url}/admin/api/v1/deliveries/${id}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const text = await reply.text();
  assert.equal(reply.status, 200, text.slice(0, 300));
  assert.ok(text.length < 16 * 1024, `the delivery's API answer is ${text.length} chars`);
  console.log(
    `decoding bombs: resident ${Math.round(idle.rss / MiB)} MiB idle, ${Math.round(peak / MiB)} MiB sampled peak, ` +
      `VmHWM ${Math.round(hwm / MiB)} MiB; longest stored body ${sizes[0].longest} chars; ` +
      `one delivery from the API ${text.length} chars`,
  );
});
