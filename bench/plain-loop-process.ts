// The plain loop (bench/plain-loop.ts) in a process of its own, under the
// runtime running the benchmark, with the environment the service gets: its
// pid for CPU and memory readings, and signals to pause, resume and stop it.
import { join } from "node:path";
import { childEnv, ROOT, runtime, spawnProcess } from "../test/support/service.ts";

/** `runtimeFlags` go before the script (the benchmark's BENCH_PROFILE flags). */
export async function startPlainLoop(env: Record<string, string>, runtimeFlags: string[] = []) {
  const bin = join(ROOT, "node_modules", ".bin", runtime);
  const script = join(ROOT, "bench", "plain-loop.ts");
  const argv = runtime === "bun" ? [bin, ...runtimeFlags, script] : [bin, "run", "-A", ...runtimeFlags, script];
  const child = spawnProcess(argv, childEnv(env));
  let out = "";
  let err = "";
  child.onStderr((chunk) => (err = (err + chunk).slice(-5000)));
  await new Promise<void>((resolve, reject) => {
    child.onStdout((chunk) => {
      out += chunk;
      if (out.includes('{"ready":true}')) resolve();
    });
    child.exited.then(() => reject(new Error(`plain loop exited: ${err.trim()}`)));
  });
  return {
    pid: child.pid,
    kill: (signal: "SIGSTOP" | "SIGCONT") => child.kill(signal),
    stop: async () => {
      child.kill("SIGCONT");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await child.exited;
      clearTimeout(timer);
    },
  };
}

export type PlainLoop = Awaited<ReturnType<typeof startPlainLoop>>;
