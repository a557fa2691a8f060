// Prometheus metrics (prom-client). dwctl's two series keep their names; the
// rest share the prefix. Labels carry no secret, URL or payload.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  const registers = [registry];
  const deliveries = new Counter({
    name: "dwctl_webhook_deliveries_total",
    help: "Delivery attempts by outcome.",
    labelNames: ["outcome"] as const,
    registers,
  });
  // Both series exist from the start, so rate() and alerts see a 0, not a gap.
  deliveries.inc({ outcome: "success" }, 0);
  deliveries.inc({ outcome: "failure" }, 0);
  let countInFlight = () => 0;
  new Gauge({
    name: "dwctl_webhook_deliveries_in_flight",
    help: "Delivery actors currently signing or sending.",
    registers,
    collect() {
      this.set(countInFlight());
    },
  });
  return {
    registry,
    claimed: new Counter({
      name: "dwctl_webhook_deliveries_claimed_total",
      help: "Deliveries claimed from the database for sending.",
      registers,
    }),
    deliveries,
    exhausted: new Counter({
      name: "dwctl_webhook_deliveries_exhausted_total",
      help: "Deliveries written as exhausted (schedule used up, endpoint gone, or webhook disabled).",
      registers,
    }),
    attemptDuration: new Histogram({
      name: "dwctl_webhook_attempt_duration_seconds",
      help: "Duration of one delivery attempt (POST and response prefix).",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    /**
     * The in-flight gauge is read at scrape time from its source (the
     * dispatcher's own count), so nothing has to keep a second tally in step.
     */
    countInFlightWith(read: () => number) {
      countInFlight = read;
    },
    breakerTrips: new Counter({
      name: "dwctl_webhook_circuit_breaker_trips_total",
      help: "Webhooks disabled by the circuit breaker.",
      registers,
    }),
    backlog: new Gauge({
      name: "dwctl_webhook_deliveries_due",
      help: "Deliveries due now and not yet claimed (sampled at scrape).",
      registers,
    }),
    writeBatch: new Histogram({
      name: "dwctl_webhook_result_batch_size",
      help: "Outcomes recorded per batched result write.",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    }),
  };
}
