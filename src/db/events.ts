// Publishing an event: one statement fans it out to every matching webhook
// (the user's own, and every platform webhook) as delivery rows sharing one
// event id, so a publish is all or nothing. The unique partial index on
// (webhook_id, event_type, resource_id) makes a publish with a resource id
// idempotent: a webhook that already has that delivery gets no second one.
// The insert does not NOTIFY (see migration 4): the caller wakes its own
// dispatcher, which claims within milliseconds; other replicas poll.
import type { Sql } from "postgres";
import type { DeliveryStatus } from "./deliveries.ts";
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

export async function publishEvent(sql: Sql, event: NewEvent): Promise<PublishedEvent> {
  const eventId = crypto.randomUUID();
  const timestamp = new Date();
  const payload = { type: event.eventType, timestamp: timestamp.toISOString(), data: event.data };
  const [row] = await sql<{ deliveries: QueuedDelivery[] | null; matched: string[] | null }[]>`
    WITH quiet AS (SELECT set_config(${QUIET_SETTING}, 'off', true)),
    targets AS (
      SELECT id FROM user_webhooks, quiet
      WHERE enabled
        AND ((scope = 'own' AND user_id = ${event.userId ?? null}::uuid) OR scope = 'platform')
        AND (event_types IS NULL OR event_types ? ${event.eventType})
    ),
    inserted AS (
      INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, resource_id)
      SELECT id, ${eventId}, ${event.eventType}, ${sql.json(payload as never)}, ${event.resourceId ?? null}::uuid
      FROM targets
      ON CONFLICT (webhook_id, event_type, resource_id) WHERE resource_id IS NOT NULL DO NOTHING
      RETURNING id, webhook_id, status, next_attempt_at, created_at
    )
    SELECT
      (SELECT json_agg(inserted ORDER BY webhook_id) FROM inserted) AS deliveries,
      (SELECT array_agg(id::text ORDER BY id) FROM targets) AS matched`;
  const deliveries = (row.deliveries ?? []).map((d) => ({
    ...d,
    next_attempt_at: new Date(d.next_attempt_at),
    created_at: new Date(d.created_at),
  }));
  const queued = new Set(deliveries.map((d) => d.webhook_id));
  return {
    eventId,
    timestamp,
    deliveries,
    duplicateWebhookIds: (row.matched ?? []).filter((id) => !queued.has(id)),
  };
}
