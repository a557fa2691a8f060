// A claimed row and the outcome of its attempt, as the machines hand them to
// each other, for the machine tests: one plain value each, and a test names
// only the fields its case is about.
import type { ClaimedDelivery, DeliveryOutcome } from "../../machines/delivery.ts";

/** Row d1 of webhook w1, never tried, enabled, with no failures on record; `fields` change it. */
export const claimedDelivery = (fields: Partial<ClaimedDelivery> = {}): ClaimedDelivery => ({
  id: "d1",
  webhookId: "w1",
  eventId: "e1",
  eventType: "batch.completed",
  payload: "{}",
  attemptCount: 0,
  url: "https://receiver.example/hook",
  webhookEnabled: true,
  consecutiveFailures: 0,
  probe: false,
  ...fields,
});

/**
 * The first attempt at d1 of webhook w1, ending in `status`: a 200 when
 * delivered, else an HTTP 500 (retried in 5 s when failed); `fields` change it.
 */
export const attemptOutcome = (
  status: DeliveryOutcome["status"],
  fields: Partial<DeliveryOutcome> = {},
): DeliveryOutcome => ({
  deliveryId: "d1",
  webhookId: "w1",
  attemptsBefore: 0,
  status,
  attempted: true,
  retryDelaySecs: status === "failed" ? 5 : null,
  statusCode: status === "delivered" ? 200 : 500,
  error: status === "delivered" ? null : "HTTP 500",
  durationMs: 1,
  responseBody: "",
  ...fields,
});
