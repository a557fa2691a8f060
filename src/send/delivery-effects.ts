// The delivery machine with its two effects provided: each action starts its
// work and answers the actor once the work settles. A sign that throws
// answers SIGN.FAILED with the message; a send that throws answers SENT with
// an error result (the real sender turns every failure into a value, so a
// throw there is a bug the edge absorbs). The dispatcher provides the real
// signer and sender through it; the machine tests provide fakes.
import type { AnyActorRef } from "xstate";
import { type ClaimedDelivery, deliveryMachine, type SendResult, type SignedRequest } from "../../machines/delivery.ts";

export type DeliveryEffects = {
  sign(row: ClaimedDelivery, actor: AnyActorRef): Promise<SignedRequest>;
  send(request: SignedRequest, actor: AnyActorRef): Promise<SendResult>;
};

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function withEffects(effects: DeliveryEffects): typeof deliveryMachine {
  return deliveryMachine.provide({
    actions: {
      // Each effect starts in the action, as the real ones do, and answers on a later turn.
      sign: ({ self }, row: ClaimedDelivery) => {
        started(() => effects.sign(row, self)).then(
          (request) => self.send({ type: "SIGNED", request }),
          (error) => self.send({ type: "SIGN.FAILED", error: messageOf(error) }),
        );
      },
      send: ({ self }, request: SignedRequest) => {
        started(() => effects.send(request, self))
          .catch((error): SendResult => ({ kind: "error", error: messageOf(error), durationMs: 0 }))
          .then((result) => self.send({ type: "SENT", result }));
      },
    },
  });
}

/** The effect's promise, a synchronous throw included as a rejection. */
function started<T>(effect: () => Promise<T>): Promise<T> {
  try {
    return effect();
  } catch (error) {
    return Promise.reject(error);
  }
}
