// The service next to the plain loop (bench/plain-loop.ts): the same backlog
// on the same schema, one after the other in the same run, the idle one
// paused, so the ratio of their throughputs is what the actor system costs.
// Other programs on the machine come and go within seconds, so each row is
// several rounds, alternating which contender goes first, and reports each
// contender's median round.
import type { Sql } from "../../src/db/client.ts";
import { round } from "../measure.ts";
import type { ReceiverProcess } from "../receiver-process.ts";
import { type Contender, type Throughput, throughput } from "./throughput.ts";

export type SideBySide = {
  deliveries: number;
  webhooks: number;
  failing_webhooks: number;
  rounds: number;
  /** The median round of each, by deliveries/s. */
  statehook: Throughput;
  plain: Throughput;
  /** Every round's deliveries/s, in order. */
  per_second_by_round: { statehook: number[]; plain: number[] };
  /**
   * Every round's Postgres CPU per delivery, in order: it moves by more than
   * the throughput does (autovacuum and checkpoints land in some rounds), so
   * the range is reported beside the median round's figure.
   */
  postgres_cpu_us_by_round: { statehook: number[]; plain: number[] };
  /** statehook's median deliveries/s over the plain loop's. */
  ratio: number;
  /**
   * statehook's fastest round over the plain loop's fastest. Another program
   * on the machine only ever slows a round down, so the best rounds are the
   * two contenders least disturbed: a second view of the same ratio.
   */
  best_round_ratio: number;
};

async function alone<T>(idle: Contender, body: () => Promise<T>): Promise<T> {
  idle.kill("SIGSTOP");
  try {
    return await body();
  } finally {
    idle.kill("SIGCONT");
  }
}

const best = (runs: Throughput[]) => Math.max(...runs.map((t) => t.per_second));
const median = (runs: Throughput[]) => runs.toSorted((a, b) => a.per_second - b.per_second)[runs.length >> 1];

export async function sideBySide(
  sql: Sql,
  contenders: { statehook: Contender; plain: Contender },
  postgresPid: number,
  receiver: ReceiverProcess,
  count: number,
  failingShare: number,
  rounds = 1,
): Promise<SideBySide> {
  const { statehook: service, plain: loop } = contenders;
  const runs = { statehook: [] as Throughput[], plain: [] as Throughput[] };
  const plainRound = async () =>
    runs.plain.push(await alone(service, () => throughput(sql, loop, postgresPid, receiver, count, failingShare)));
  const statehookRound = async () =>
    runs.statehook.push(await alone(loop, () => throughput(sql, service, postgresPid, receiver, count, failingShare)));
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      await plainRound();
      await statehookRound();
    } else {
      await statehookRound();
      await plainRound();
    }
  }
  const statehook = median(runs.statehook);
  const plain = median(runs.plain);
  return {
    deliveries: count,
    webhooks: statehook.webhooks,
    failing_webhooks: statehook.failing_webhooks,
    rounds,
    statehook,
    plain,
    per_second_by_round: {
      statehook: runs.statehook.map((t) => t.per_second),
      plain: runs.plain.map((t) => t.per_second),
    },
    postgres_cpu_us_by_round: {
      statehook: runs.statehook.map((t) => t.postgres_cpu_us_per_delivery),
      plain: runs.plain.map((t) => t.postgres_cpu_us_per_delivery),
    },
    ratio: round(statehook.per_second / plain.per_second, 2),
    best_round_ratio: round(best(runs.statehook) / best(runs.plain), 2),
  };
}
