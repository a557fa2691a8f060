// The real statehook service as a child process, for the reliability tests
// and the benchmark: the same entry as `npm start` / `npm run start:deno`, run by
// the same runtime as the caller, on a port the OS picks. It learns the URL
// from the "statehook listening" log line and always cleans up.
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeName } from "../../src/start/runtime.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// The tests run under Bun or Deno only.
export const runtime: "bun" | "deno" = runtimeName === "bun" ? "bun" : "deno";

/** How the caller's own runtime starts the service: `bun src/main.ts` or `deno run -A src/main.ts`. */
export function serviceCommand(which: "bun" | "deno" = runtime, flags: string[] = []): string[] {
  const bin = join(ROOT, "node_modules", ".bin", which);
  const main = join(ROOT, "src/main.ts");
  return which === "bun" ? [bin, ...flags, main] : [bin, "run", "-A", ...flags, main];
}

export type ServiceOptions = {
  env: Record<string, string>;
  /**
   * Run this, from the repository root, instead of the runtime's own command:
   * the README's `npm start`, say. `pid` is then that process's, not the service's.
   */
  command?: string[];
  /**
   * Run inside a private mount namespace (`unshare -m`) where these files are
   * bind-mounted over /etc/hosts and /etc/resolv.conf: names the test
   * controls, and DNS that never leaves 127.0.0.1.
   */
  namespace?: { hostsFile: string; resolvConfFile: string };
  /** Runtime flags before the entry, e.g. a profiler's (the benchmark's BENCH_PROFILE). */
  runtimeFlags?: string[];
  /** How long to wait for the listening line. */
  startTimeoutMs?: number;
};

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export type Service = {
  url: string;
  pid: number;
  logs: LogLine[];
  stderr: () => string;
  /** Resolves with the exit code and signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Resident and peak resident memory of the process, in bytes (from /proc). */
  memory(): Promise<{ rss: number; peak: number }>;
  /** SIGSTOP / SIGCONT pause and resume it (the benchmark stages a backlog that way). */
  kill(signal: Signal): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
};

const BASE_ENV = {
  STATEHOOK_HOST: "127.0.0.1",
  STATEHOOK_PORT: "0",
  STATEHOOK_API_TOKEN: "reliability-test-token-0123456789",
  STATEHOOK_POLL_INTERVAL_MS: "200",
  NO_COLOR: "1",
};

type Signal = "SIGTERM" | "SIGKILL" | "SIGINT" | "SIGSTOP" | "SIGCONT";
type Exit = { code: number | null; signal: string | null };
export type Proc = {
  pid: number;
  onStdout(listener: (chunk: string) => void): void;
  onStderr(listener: (chunk: string) => void): void;
  kill(signal: Signal): void;
  done(): boolean;
  exited: Promise<Exit>;
};

declare const Deno: {
  Command: new (cmd: string, options: Record<string, unknown>) => {
    spawn(): {
      pid: number;
      stdout: ReadableStream<Uint8Array>;
      stderr: ReadableStream<Uint8Array>;
      status: Promise<{ code: number; signal: string | null }>;
      kill(signal: string): void;
    };
  };
};

/**
 * Deno's node:child_process reports the signal it sent as the exit signal
 * even when the child handled it and exited 0, so under Deno the child is
 * spawned with Deno.Command, whose status is the real one.
 */
function spawnChild(argv: string[], env: Record<string, string>): Proc {
  let finished = false;
  if (runtime === "deno") {
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: ROOT,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>, listeners: ((chunk: string) => void)[]) => {
      const decoder = new TextDecoder();
      for await (const bytes of stream) {
        const chunk = decoder.decode(bytes, { stream: true });
        for (const l of listeners) l(chunk);
      }
    };
    const out: ((chunk: string) => void)[] = [];
    const err: ((chunk: string) => void)[] = [];
    pump(child.stdout, out).catch(() => {});
    pump(child.stderr, err).catch(() => {});
    return {
      pid: child.pid,
      onStdout: (l) => void out.push(l),
      onStderr: (l) => void err.push(l),
      kill: (signal) => {
        if (!finished) child.kill(signal);
      },
      done: () => finished,
      exited: child.status.then(({ code, signal }) => {
        finished = true;
        return signal ? { code: null, signal } : { code, signal: null };
      }),
    };
  }
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  return {
    pid: child.pid!,
    onStdout: (l) => void child.stdout!.on("data", l),
    onStderr: (l) => void child.stderr!.on("data", l),
    kill: (signal) => void child.kill(signal),
    done: () => finished,
    exited: new Promise((resolve) =>
      child.once("exit", (code, signal) => (finished = true, resolve({ code, signal })))
    ),
  };
}

const live = new Set<Proc>();
// A test runner that dies must not leave services behind.
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Resident and peak resident memory of a process, in bytes (from /proc). */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/**
 * The environment of a child we start: ours without the caller's STATEHOOK_*
 * settings or an outer `npm test`'s npm_* variables, then `env`, so the
 * child sees what it is given.
 */
export function childEnv(env: Record<string, string>): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(STATEHOOK|npm)_/.test(k)) inherited[k] = v;
  }
  return { ...inherited, ...env };
}

/** Spawns a child that is SIGKILLed if this process exits first. */
export function spawnProcess(argv: string[], env: Record<string, string>): Proc {
  const child = spawnChild(argv, env);
  live.add(child);
  child.exited.then(() => live.delete(child));
  return child;
}

export async function startService(options: ServiceOptions): Promise<Service> {
  const command = options.command ?? serviceCommand(runtime, options.runtimeFlags);
  const ns = options.namespace;
  const argv = ns
    ? [
      "unshare",
      "-m",
      "sh",
      "-c",
      'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"',
      "sh",
      ns.hostsFile,
      ns.resolvConfFile,
      ...command,
    ]
    : command;
  const env = childEnv({ ...BASE_ENV, ...options.env });
  // `unshare` and `sh` exec in place, so this pid is the runtime's own.
  const child = spawnProcess(argv, env);
  const exited = child.exited;

  const logs: LogLine[] = [];
  let stderr = "";
  child.onStderr((chunk) => (stderr = (stderr + chunk).slice(-20_000)));
  let buffered = "";
  let onListening: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => (onListening = resolve));
  child.onStdout((chunk) => {
    // Split once per chunk: slicing the rest off after every line copied a
    // whole chunk per line, and a busy service writes thousands a second.
    const lines = (buffered + chunk).split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = { msg: line };
      }
      logs.push(parsed);
      if (parsed.msg === "statehook listening" && typeof parsed.url === "string") onListening(parsed.url);
    }
  });

  const stop = async (graceMs = 15_000) => {
    if (child.done()) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const url = await Promise.race([
    listening,
    exited.then(({ code, signal }) => {
      throw new Error(`service exited before listening (code ${code}, signal ${signal}): ${stderr.trim()}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`service did not listen within ${startTimeoutMs} ms: ${stderr.trim()}`)),
        startTimeoutMs,
      );
    }),
  ]).catch(async (error) => {
    child.kill("SIGKILL");
    await exited;
    throw error;
  }).finally(() => clearTimeout(timer));

  return {
    url,
    pid: child.pid,
    logs,
    stderr: () => stderr,
    exited,
    memory: () => memoryOf(child.pid),
    kill: (signal) => child.kill(signal),
    stop,
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function until<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
