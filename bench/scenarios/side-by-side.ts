// The service next to the plain loop (bench/plain-loop.ts): the same backlog
// on the same schema, one after the other in the same run, the idle one
// paused, so the ratio of their throughputs is what the actor system costs.
import type { Sql } from "../../src/db/client.ts";
import { round } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { type Contender, type Throughput, throughput } from "./throughput.ts";

export type SideBySide = {
  deliveries: number;
  webhooks: number;
  failing_webhooks: number;
  statehook: Throughput;
  plain: Throughput;
  /** statehook's deliveries/s over the plain loop's. */
  ratio: number;
};

async function alone<T>(idle: Contender, body: () => Promise<T>): Promise<T> {
  idle.kill("SIGSTOP");
  try {
    return await body();
  } finally {
    idle.kill("SIGCONT");
  }
}

export async function sideBySide(
  sql: Sql,
  contenders: { statehook: Contender; plain: Contender },
  postgresPid: number,
  receiver: ReceiverProcess,
  count: number,
  failingShare: number,
): Promise<SideBySide> {
  const { statehook: service, plain: loop } = contenders;
  const plain = await alone(service, () => throughput(sql, loop, postgresPid, receiver, count, failingShare));
  const statehook = await alone(loop, () => throughput(sql, service, postgresPid, receiver, count, failingShare));
  return {
    deliveries: count,
    webhooks: statehook.webhooks,
    failing_webhooks: statehook.failing_webhooks,
    statehook,
    plain,
    ratio: round(statehook.per_second / plain.per_second, 2),
  };
}
