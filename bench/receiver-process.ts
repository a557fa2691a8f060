// The benchmark's receiver (bench/receiver.ts) in a process of its own, under
// the runtime running the benchmark: its URL once it listens, and calls to
// read and drive it.
import { join } from "node:path";
import process from "node:process";
import { ROOT, runtime, spawnProcess } from "../test/support/service.ts";

export type ReceiverStats = {
  received: number;
  failed: number;
  held: number;
  duplicates: number;
  firstAt: number;
  lastAt: number;
  latency: { n: number; p50: number | null; p95: number | null; p99: number | null; max: number | null };
};

export async function startReceiverProcess() {
  const bin = join(ROOT, "node_modules", ".bin", runtime);
  const script = join(ROOT, "bench", "receiver.ts");
  const argv = runtime === "bun" ? [bin, script] : [bin, "run", "-A", script];
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) childEnv[k] = v;
  const child = spawnProcess(argv, childEnv);
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.onStdout((chunk) => {
      out += chunk;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line).url);
    });
    child.exited.then(() => reject(new Error("receiver exited")));
  });
  const call = async (path: string) =>
    await (await fetch(`${url}${path}`, { method: "POST" })).json().catch(() => ({}));
  return {
    url,
    stats: async () => (await (await fetch(`${url}/_stats`)).json()) as ReceiverStats,
    reset: (latency = false) => call(`/_reset?latency=${latency ? 1 : 0}`),
    release: () => call("/_release"),
    stop: async () => {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}

export type ReceiverProcess = Awaited<ReturnType<typeof startReceiverProcess>>;
