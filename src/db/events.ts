// Publishing an event: one statement fans it out to every matching webhook
// (the user's own, and every platform webhook) as delivery rows sharing one
// event id, so a publish is all or nothing. Concurrent publishes share a
// statement (createPublisher). The unique partial index on
// (webhook_id, event_type, resource_id) makes a publish with a resource id
// idempotent: a webhook that already has that delivery gets no second one.
// The insert does not NOTIFY (see migration 4): the caller wakes its own
// dispatcher, which claims within milliseconds; other replicas poll.
// A publish may write at most `maxBytes`: one copy of the payload per
// matching webhook, so payload bytes × matching webhooks (counted before
// duplicates are skipped). One over it writes nothing and says why.
import type { Sql } from "postgres";
import type { DeliveryStatus } from "./delivery-row.ts";
import { QUIET_SETTING } from "./migrations.ts";

export type NewEvent = {
  eventType: string;
  data: unknown;
  /** Whose own webhooks receive it; without one, only platform webhooks do. */
  userId?: string | null;
  resourceId?: string | null;
};

export type QueuedDelivery = {
  id: string;
  webhook_id: string;
  status: DeliveryStatus;
  next_attempt_at: Date;
  created_at: Date;
};

export type PublishedEvent = {
  eventId: string;
  timestamp: Date;
  deliveries: QueuedDelivery[];
  /** Webhooks that matched but already had a delivery for this resource. */
  duplicateWebhookIds: string[];
};

/** A publish that would have written more than the bound: nothing was. */
export type PublishTooLarge = {
  tooLarge: { payloadBytes: number; webhooks: number; maxBytes: number };
};

export type PublishResult = PublishedEvent | PublishTooLarge;

export type Publish = (event: NewEvent) => Promise<PublishResult>;

export type PublishOptions = {
  /** Payload bytes × matching webhooks one event may write; unbounded if unset. */
  maxBytes?: number;
};

type Queued = { event: NewEvent; resolve(published: PublishResult): void; reject(error: unknown): void };

/**
 * Publishes events, many to a statement: while `statements` statements are
 * on their way, the events that arrive queue up and go together in the next
 * one. Under load that is one commit (one fsync) for a whole batch of
 * publishes instead of one each; a lone publish still goes at once. A batch
 * that fails is tried again one event at a time, so a bad event fails only
 * its own publish.
 */
export function createPublisher(
  sql: Sql,
  options: PublishOptions & { statements?: number; maxBatch?: number } = {},
): Publish {
  const statements = options.statements ?? 2;
  const maxBatch = options.maxBatch ?? 500;
  const queue: Queued[] = [];
  let running = 0;
  const write = async (batch: Queued[]) => {
    try {
      const published = await publishEvents(sql, batch.map((q) => q.event), options);
      batch.forEach((q, i) => q.resolve(published[i]));
    } catch (error) {
      if (batch.length === 1) return batch[0].reject(error);
      await Promise.all(
        batch.map((q) => publishEvents(sql, [q.event], options).then(([published]) => q.resolve(published), q.reject)),
      );
    }
  };
  const pump = () => {
    while (running < statements && queue.length > 0) {
      running++;
      write(queue.splice(0, maxBatch)).finally(() => {
        running--;
        pump();
      });
    }
  };
  return (event) =>
    new Promise((resolve, reject) => {
      queue.push({ event, resolve, reject });
      pump();
    });
}

const utf8 = new TextEncoder();

/** Publishes each event as if alone, in one statement; results in the same order. */
export async function publishEvents(
  sql: Sql,
  events: NewEvent[],
  options: PublishOptions = {},
): Promise<PublishResult[]> {
  const timestamp = new Date();
  const maxBytes = options.maxBytes ?? null;
  const input = events.map((event, n) => {
    const payload = { type: event.eventType, timestamp: timestamp.toISOString(), data: event.data };
    return {
      n,
      event_id: crypto.randomUUID(),
      event_type: event.eventType,
      user_id: event.userId ?? null,
      resource_id: event.resourceId ?? null,
      payload,
      // What one copy costs, as the JSON text it is sent as.
      bytes: maxBytes === null ? 0 : utf8.encode(JSON.stringify(payload)).length,
    };
  });
  const rows = await sql<
    { n: number; deliveries: QueuedDelivery[] | null; matched: string[] | null; allowed: boolean }[]
  >`
    WITH quiet AS (SELECT set_config(${QUIET_SETTING}, 'off', true)),
    input AS (
      SELECT * FROM json_to_recordset(${sql.json(input as never)}::json)
        AS e(n int, event_id uuid, event_type text, user_id uuid, resource_id uuid, payload jsonb, bytes bigint)
    ),
    targets AS (
      SELECT e.n, w.id AS webhook_id
      FROM input e, quiet, user_webhooks w
      WHERE w.enabled
        AND ((w.scope = 'own' AND w.user_id = e.user_id) OR w.scope = 'platform')
        AND (w.event_types IS NULL OR w.event_types ? e.event_type)
    ),
    allowed AS (
      SELECT e.n
      FROM input e LEFT JOIN (SELECT n, count(*) AS webhooks FROM targets GROUP BY n) c ON c.n = e.n
      WHERE ${maxBytes}::bigint IS NULL OR e.bytes * coalesce(c.webhooks, 0) <= ${maxBytes}::bigint
    ),
    inserted AS (
      INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, resource_id)
      SELECT t.webhook_id, e.event_id, e.event_type, e.payload, e.resource_id
      FROM targets t JOIN input e ON e.n = t.n JOIN allowed a ON a.n = t.n
      ORDER BY t.n, t.webhook_id
      ON CONFLICT (webhook_id, event_type, resource_id) WHERE resource_id IS NOT NULL DO NOTHING
      RETURNING id, webhook_id, event_id, status, next_attempt_at, created_at
    )
    SELECT e.n,
      (SELECT json_agg(json_build_object('id', i.id, 'webhook_id', i.webhook_id, 'status', i.status,
          'next_attempt_at', i.next_attempt_at, 'created_at', i.created_at) ORDER BY i.webhook_id)
        FROM inserted i WHERE i.event_id = e.event_id) AS deliveries,
      (SELECT array_agg(t.webhook_id::text ORDER BY t.webhook_id) FROM targets t WHERE t.n = e.n) AS matched,
      a.n IS NOT NULL AS allowed
    FROM input e LEFT JOIN allowed a ON a.n = e.n
    ORDER BY e.n`;
  return rows.map((row): PublishResult => {
    if (!row.allowed) {
      const { bytes } = input[row.n];
      return { tooLarge: { payloadBytes: bytes, webhooks: row.matched?.length ?? 0, maxBytes: maxBytes ?? 0 } };
    }
    const deliveries = (row.deliveries ?? []).map((d) => ({
      ...d,
      next_attempt_at: new Date(d.next_attempt_at),
      created_at: new Date(d.created_at),
    }));
    const queued = new Set(deliveries.map((d) => d.webhook_id));
    return {
      eventId: input[row.n].event_id,
      timestamp,
      deliveries,
      duplicateWebhookIds: (row.matched ?? []).filter((id) => !queued.has(id)),
    };
  });
}
