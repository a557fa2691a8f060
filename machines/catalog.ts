// The machines statehook runs, by name, with a line on what each is for:
// the list the README diagrams and the dashboard both walk.
import type { AnyStateMachine } from "xstate";
import { deliveryMachine } from "./delivery.ts";
import { dispatcherMachine } from "./dispatcher.ts";
import { resultWriterMachine } from "./result-writer.ts";
import { webhookMachine } from "./webhook.ts";

export const MACHINES: { name: string; summary: string; machine: AnyStateMachine }[] = [
  {
    name: "dispatcher",
    summary:
      "claims due rows into free send slots, hands them to its delivery pool (a delivery actor per row), keeps a webhook actor per endpoint while it is being claimed, hands results to the result writer, drains on stop",
    machine: dispatcherMachine,
  },
  {
    name: "delivery",
    summary: "one actor per claimed delivery: sign, send, judge the result",
    machine: deliveryMachine,
  },
  {
    name: "webhook",
    summary:
      "one actor per endpoint: its delivery policy, the circuit breaker (closed, open, half-open probe) and Retry-After pauses, kept in step with the database",
    machine: webhookMachine,
  },
  {
    name: "result-writer",
    summary:
      "records outcomes and released claims in batches, in finish order, retrying a failed write; a claim waits until the failures before it are written",
    machine: resultWriterMachine,
  },
];
