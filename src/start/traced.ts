// The dispatcher's three effects, each timed into a span when traces are on:
// claim, send (one attempt) and record (one result batch). Without traces the
// effects are returned as they are, so nothing is wrapped or measured.
import type { AnyActorRef } from "xstate";
import type { ClaimedDelivery, SendResult, SignedRequest } from "../../machines/delivery.ts";
import type { Recorded, ResultBatch } from "../../machines/result-writer.ts";
import type { Traces } from "./traces.ts";

export type Effects = {
  claim(limit: number): Promise<ClaimedDelivery[]>;
  send(request: SignedRequest, actor: AnyActorRef): Promise<SendResult>;
  record(batch: ResultBatch): Promise<Recorded>;
};

export function traced(traces: Traces | undefined, effects: Effects): Effects {
  if (!traces) return effects;
  return {
    async claim(limit) {
      const start = Date.now();
      try {
        const rows = await effects.claim(limit);
        traces.claim(start, Date.now(), limit, { count: rows.length });
        return rows;
      } catch (error) {
        traces.claim(start, Date.now(), limit, { error });
        throw error;
      }
    },
    async send(request, actor) {
      const start = Date.now();
      const result = await effects.send(request, actor);
      // The delivery actor's own row: ids, event type and attempt count, no payload.
      const delivery = (actor.getSnapshot().context as { delivery: ClaimedDelivery }).delivery;
      traces.attempt(start, Date.now(), delivery, result);
      return result;
    },
    async record(batch) {
      const start = Date.now();
      try {
        const recorded = await effects.record(batch);
        traces.resultBatch(start, Date.now(), batch, recorded);
        return recorded;
      } catch (error) {
        traces.resultBatch(start, Date.now(), batch, { error });
        throw error;
      }
    },
  };
}
