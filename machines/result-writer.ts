// The result writer: the dispatcher hands it every finished outcome and every
// claim given back unsent, and it records them in batches, in the order they
// finished, one write at a time, retrying a failed write after a pause. It
// also holds the claim barrier: a claim waits until every failed attempt
// collected before it was wanted is written. After each write it reports
// WRITTEN to the dispatcher (what the database now says about each endpoint,
// for the webhook actors). Once the dispatcher's intake has closed it
// finishes when everything is written, or gives up after a few failed tries.
import { and, assign, fromPromise, not, setup, stateIn } from "xstate";
import type { DeliveryOutcome } from "./delivery.ts";
import type { Release } from "./delivery-pool.ts";
import type { EndpointReport } from "./webhook.ts";

export type ResultBatch = { outcomes: DeliveryOutcome[]; released: Release[] };

/** What the database says about a webhook after a batch was recorded. */
export type RecordedWebhook = EndpointReport;

/** What a write returns: each moved webhook's report, and how many rows it exhausted. */
export type Recorded = { webhooks: RecordedWebhook[]; exhausted: number };

export type WriterInput = {
  /** Back-off before a failed write is tried again. */
  writeRetryMs: number;
};

export type WriterEvent =
  /** Attempts that finished, in the order they finished. */
  | { type: "OUTCOMES"; outcomes: DeliveryOutcome[] }
  /** Claims given back unsent. */
  | { type: "RELEASED"; released: Release[] }
  /** A claim wants to start: answer FAILURES.WRITTEN once every failure collected so far is written. */
  | { type: "CLAIM.WANTED" }
  /** No result will come any more: finish once everything is written. */
  | { type: "CLOSE" };

/** After each write: results (outcomes and releases) written so far, and what the write returned. */
export type Written = Recorded & { through: number; outcomes: number; released: number };

/** A write (or a claim) the database refused. */
export type Failure = { error: unknown };

/** What the writer tells the dispatcher (its effects, provided by the dispatcher). */
export type WriterReport =
  | ({ type: "WRITTEN" } & Written)
  | { type: "FAILURES.WRITTEN" }
  | { type: "WRITE.FAILED"; error: unknown };

/**
 * Finished outcomes waiting for the writer, newest first. A list that only
 * grows at its head keeps collecting one outcome O(1) without mutating the
 * previous snapshot's context.
 */
export type OutcomeList = { outcome: DeliveryOutcome; earlier: OutcomeList } | null;

/** The list's outcomes in the order they finished. */
export function inFinishOrder(list: OutcomeList): DeliveryOutcome[] {
  const outcomes: DeliveryOutcome[] = [];
  for (let node = list; node; node = node.earlier) outcomes.push(node.outcome);
  return outcomes.reverse();
}

type Context = {
  writeRetryMs: number;
  /** Outcomes and releases handed over so far, and how many of them are written. */
  collected: number;
  written: number;
  /** How many were collected when the latest failed attempt was: failures must be written first. */
  failedThrough: number;
  /**
   * A waiting claim needs `written` to reach this, so the rows it reads
   * already count our failures: a webhook our own failures just disabled is
   * claimed as disabled, never sent once more. Successes cannot disable a
   * webhook, so a claim never waits on them.
   */
  claimBarrier: number;
  results: OutcomeList;
  released: Release[];
  writing: ResultBatch | null;
  /** Writes that failed after the intake closed: bounds the wait at shutdown. */
  failedWritesAfterClose: number;
};

const MAX_WRITE_RETRIES_AFTER_CLOSE = 3;

const sizeOf = (batch: ResultBatch | null) => (batch?.outcomes.length ?? 0) + (batch?.released.length ?? 0);

export const resultWriterMachine = setup({
  types: {
    context: {} as Context,
    input: {} as WriterInput,
    events: {} as WriterEvent,
  },
  actors: {
    recordOutcomes: fromPromise<Recorded, ResultBatch>(() => Promise.resolve({ webhooks: [], exhausted: 0 })),
  },
  actions: {
    // Effects the dispatcher provides: what it hears from the writer.
    reportWritten: (_, _written: Written) => {},
    reportFailuresWritten: () => {},
    reportWriteFailed: (_, _failure: Failure) => {},
    collectOutcomes: assign(({ context, event }) => {
      if (event.type !== "OUTCOMES") return {};
      let results = context.results;
      let failedThrough = context.failedThrough;
      for (const [i, outcome] of event.outcomes.entries()) {
        results = { outcome, earlier: results };
        if (outcome.attempted && outcome.status !== "delivered") failedThrough = context.collected + i + 1;
      }
      return { results, failedThrough, collected: context.collected + event.outcomes.length };
    }),
    collectReleased: assign(({ context, event }) => {
      if (event.type !== "RELEASED") return {};
      return {
        released: [...context.released, ...event.released],
        collected: context.collected + event.released.length,
      };
    }),
    setClaimBarrier: assign({ claimBarrier: ({ context }) => context.failedThrough }),
    takeBatch: assign(({ context }) => ({
      writing: { outcomes: inFinishOrder(context.results), released: context.released },
      results: null,
      released: [],
    })),
    countWritten: assign(({ context }) => ({ written: context.written + sizeOf(context.writing), writing: null })),
    requeueBatch: assign(({ context }) => ({
      results: [...(context.writing?.outcomes ?? []), ...inFinishOrder(context.results)].reduce<OutcomeList>(
        (earlier, outcome) => ({ outcome, earlier }),
        null,
      ),
      released: [...(context.writing?.released ?? []), ...context.released],
      writing: null,
    })),
    countFailedWriteAfterClose: assign({
      failedWritesAfterClose: ({ context }) => context.failedWritesAfterClose + 1,
    }),
  },
  guards: {
    hasResults: ({ context }) => context.results !== null || context.released.length > 0,
    earlierFailuresWritten: ({ context }) => context.written >= context.claimBarrier,
    intakeClosed: stateIn("#resultWriter.intake.closed"),
    retriedEnoughAfterClose: ({ context }) => context.failedWritesAfterClose >= MAX_WRITE_RETRIES_AFTER_CLOSE,
  },
  delays: {
    writeRetry: ({ context }) => context.writeRetryMs,
  },
}).createMachine({
  id: "resultWriter",
  context: ({ input }) => ({
    writeRetryMs: input.writeRetryMs,
    collected: 0,
    written: 0,
    failedThrough: 0,
    claimBarrier: 0,
    results: null,
    released: [],
    writing: null,
    failedWritesAfterClose: 0,
  }),
  type: "parallel",
  on: {
    OUTCOMES: { actions: "collectOutcomes" },
    RELEASED: { actions: "collectReleased" },
  },
  states: {
    // What the dispatcher's intake asks of the writer: a claim waiting on
    // earlier failures, or, once closed, nothing more.
    intake: {
      initial: "open",
      states: {
        open: {
          initial: "noClaimWaiting",
          on: { CLOSE: "closed" },
          states: {
            noClaimWaiting: { on: { "CLAIM.WANTED": "claimWaiting" } },
            claimWaiting: {
              entry: "setClaimBarrier",
              always: { guard: "earlierFailuresWritten", target: "noClaimWaiting", actions: "reportFailuresWritten" },
            },
          },
        },
        closed: { type: "final" },
      },
    },
    writing: {
      initial: "idle",
      states: {
        idle: {
          always: [
            { guard: "hasResults", target: "flushing" },
            { guard: and(["intakeClosed", not("hasResults")]), target: "done" },
          ],
        },
        flushing: {
          entry: "takeBatch",
          invoke: {
            id: "record",
            src: "recordOutcomes",
            input: ({ context }) => context.writing!,
            onDone: {
              target: "idle",
              actions: [
                {
                  type: "reportWritten",
                  params: ({ context, event }) => ({
                    through: context.written + sizeOf(context.writing),
                    webhooks: event.output.webhooks,
                    exhausted: event.output.exhausted,
                    outcomes: context.writing?.outcomes.length ?? 0,
                    released: context.writing?.released.length ?? 0,
                  }),
                },
                "countWritten",
              ],
            },
            onError: [
              {
                // Closed, and the database still away after a few tries:
                // give up rather than hang. The claims run out and the rows
                // are sent again later.
                guard: and(["intakeClosed", "retriedEnoughAfterClose"]),
                target: "done",
                actions: { type: "reportWriteFailed", params: ({ event }) => ({ error: event.error }) },
              },
              {
                guard: "intakeClosed",
                target: "backingOff",
                actions: [
                  "requeueBatch",
                  "countFailedWriteAfterClose",
                  { type: "reportWriteFailed", params: ({ event }) => ({ error: event.error }) },
                ],
              },
              {
                target: "backingOff",
                actions: ["requeueBatch", {
                  type: "reportWriteFailed",
                  params: ({ event }) => ({ error: event.error }),
                }],
              },
            ],
          },
        },
        backingOff: { after: { writeRetry: "idle" } },
        done: { type: "final" },
      },
    },
  },
});
