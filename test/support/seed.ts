// Bulk set-up for the reliability tests and the benchmark: webhooks and
// thousands of pending deliveries in a few statements, written the way any
// other program would (plain INSERTs; the trigger NOTIFYs the dispatcher).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Sql } from "../../src/db/client.ts";
import { generateSecret } from "../../src/send/signing.ts";

/** Creates one webhook per URL; returns their ids in the same order. */
export async function seedWebhooks(sql: Sql, urls: string[]): Promise<string[]> {
  const rows = urls.map((url) => ({ user_id: crypto.randomUUID(), url, secret: generateSecret() }));
  const created = await sql<{ id: string; url: string }[]>`
    INSERT INTO user_webhooks ${sql(rows, "user_id", "url", "secret")} RETURNING id, url`;
  const byUrl = new Map<string, string[]>();
  for (const r of created) byUrl.set(r.url, [...(byUrl.get(r.url) ?? []), r.id]);
  return urls.map((url) => byUrl.get(url)!.shift()!);
}

/**
 * Inserts `count` pending deliveries spread round-robin over `webhookIds`, in
 * one statement. Each payload carries its sequence number `n` and, as `sent`,
 * the insert time in epoch milliseconds, so a receiver can measure latency.
 */
export async function seedDeliveries(sql: Sql, webhookIds: string[], count: number, from = 0): Promise<void> {
  await sql`
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload)
    SELECT (${webhookIds}::uuid[])[1 + (n % ${webhookIds.length})], gen_random_uuid(), 'reliability.test',
      jsonb_build_object('type', 'reliability.test', 'timestamp', now(),
        'data', jsonb_build_object('n', n, 'sent', (extract(epoch FROM clock_timestamp()) * 1000)::bigint))
    FROM generate_series(${from}::int, ${from + count - 1}::int) AS n`;
}

export async function statusCounts(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`
    SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** A hosts file mapping the given names (plus localhost) and a resolv.conf whose DNS is 127.0.0.1. */
export async function namespaceFiles(
  dir: string,
  names: Record<string, string>,
): Promise<{ hostsFile: string; resolvConfFile: string }> {
  const hostsFile = join(dir, "hosts");
  const resolvConfFile = join(dir, "resolv.conf");
  const lines = ["127.0.0.1 localhost", "::1 localhost", ...Object.entries(names).map(([name, ip]) => `${ip} ${name}`)];
  await writeFile(hostsFile, lines.join("\n") + "\n");
  // Nothing listens on 127.0.0.1:53, so a name not in the hosts file fails
  // at once and no DNS query leaves the machine.
  await writeFile(resolvConfFile, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
  return { hostsFile, resolvConfFile };
}
