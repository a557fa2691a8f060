// The README's start commands, run as a user runs them: from the repository
// root, with no Bun or Deno on PATH but those npm installed. Each delivers one
// signed event and stops cleanly when only the process the user started gets
// SIGTERM or SIGINT: exit 0, port closed, and no process it started (the
// service, an embedded Postgres) left behind. Start-up failures name the
// variable to change, in one line; the port is taken first.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { connect as connectTcp, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { testDatabase } from "./support/database.ts";
import { startReceiver } from "./support/receiver.ts";
import { freePort } from "../src/db/embedded.ts";
import { type Service, serviceCommand, spawnProcess, startService, until } from "./support/service.ts";
import { verify } from "./support/verify.ts";

const db = await testDatabase();
const receiver = await startReceiver();
const dataDirs: string[] = [];
after(async () => {
  await receiver.close();
  await db.close();
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

const TOKEN = "documented-commands-token-0123456789";
const COMMANDS = { bun: ["npm", "start"], deno: ["npm", "run", "start:deno"] } as const;

/** A fresh machine's view: PATH without any node_modules/.bin (an outer `npm test` adds one). */
const freshPath = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin")
  .split(delimiter)
  .filter((dir) => !dir.includes("node_modules"))
  .join(delimiter);
const baseEnv = {
  PATH: freshPath,
  STATEHOOK_API_TOKEN: TOKEN,
  STATEHOOK_ALLOW_PRIVATE_TARGETS: "true",
  // No registry look-up from npm itself.
  npm_config_update_notifier: "false",
};

type ProcessEntry = { pid: number; ppid: number; started: string; state: string };

async function processTable(): Promise<Map<number, ProcessEntry>> {
  const table = new Map<number, ProcessEntry>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => undefined);
    if (!stat) continue;
    // After the parenthesised command name: state, ppid, …, start time (field 22).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    table.set(Number(name), { pid: Number(name), ppid: Number(fields[1]), started: fields[19], state: fields[0] });
  }
  return table;
}

/** Every process below `root`, with its command line. */
async function descendants(root: number): Promise<(ProcessEntry & { cmdline: string })[]> {
  const table = await processTable();
  const found: (ProcessEntry & { cmdline: string })[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const entry of table.values()) {
      if (parents.has(entry.ppid) && !parents.has(entry.pid)) {
        parents.add(entry.pid);
        const cmdline = await readFile(`/proc/${entry.pid}/cmdline`, "utf8").catch(() => "");
        found.push({ ...entry, cmdline: cmdline.replaceAll("\0", " ") });
        grew = true;
      }
    }
  }
  return found;
}

/** Those of `processes` still running (the same pid and start time, not a zombie). */
async function stillRunning(processes: ProcessEntry[]): Promise<ProcessEntry[]> {
  const table = await processTable();
  return processes.filter((p) => {
    const now = table.get(p.pid);
    return now !== undefined && now.started === p.started && now.state !== "Z";
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** Creates a webhook through the API, publishes an event, and checks the signature of what arrives. */
async function deliverOneSignedEvent(service: Service) {
  const userId = crypto.randomUUID();
  const api = `${service.url}/admin/api/v1`;
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  const path = `/${crypto.randomUUID()}`;
  const created = await fetch(`${api}/users/${userId}/webhooks`, {
    method: "POST",
    headers,
    body: JSON.stringify({ url: receiver.url + path, event_types: ["batch.completed"] }),
  });
  const webhook = await created.json();
  assert.equal(created.status, 201, JSON.stringify(webhook));
  const published = await fetch(`${api}/events`, {
    method: "POST",
    headers,
    body: JSON.stringify({ event_type: "batch.completed", user_id: userId, data: { batch_id: "b_42" } }),
  });
  assert.equal(published.status, 202, await published.text());
  const request = await until(() => receiver.received.find((r) => r.path === path), 15_000, "the event delivered");
  assert.deepEqual(await verify(webhook.secret, request.headers, request.body), { ok: true });
  assert.equal(JSON.parse(request.body).data.batch_id, "b_42");
}

/** The exit of a process that was told to stop, or a failure naming what it was told. */
async function exitAfter(service: Service, what: string, timeoutMs = 30_000) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${timeoutMs} ms after ${what}`)), timeoutMs);
  });
  return await Promise.race([service.exited, timedOut]).finally(() => clearTimeout(timer));
}

/** Kills whatever a failed test left running, so one failure does not leak processes into the next. */
async function killLeftovers(processes: ProcessEntry[]) {
  for (const p of await stillRunning(processes)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

const cases = [
  { runtime: "bun", database: "external", signal: "SIGTERM" },
  { runtime: "bun", database: "embedded", signal: "SIGINT" },
  { runtime: "deno", database: "external", signal: "SIGINT" },
  { runtime: "deno", database: "embedded", signal: "SIGTERM" },
] as const;

for (const { runtime, database, signal } of cases) {
  const command = COMMANDS[runtime].join(" ");
  test(`\`${command}\` on ${database} Postgres delivers a signed event and stops on ${signal}`, {
    timeout: 90_000,
  }, async () => {
    const env: Record<string, string> = { ...baseEnv, DATABASE_URL: db.url };
    if (database === "embedded") {
      const dir = await mkdtemp(join(tmpdir(), "statehook-documented-"));
      dataDirs.push(dir);
      Object.assign(env, { DATABASE_URL: "", STATEHOOK_DATA_DIR: dir });
    }
    const service = await startService({ command: [...COMMANDS[runtime]], env, startTimeoutMs: 60_000 });
    let tree: (ProcessEntry & { cmdline: string })[] = [];
    try {
      await deliverOneSignedEvent(service);
      tree = await descendants(service.pid);
      assert.ok(
        tree.some((p) => p.cmdline.includes("src/main.ts")),
        `the service runs under npm: ${JSON.stringify(tree)}`,
      );
      if (database === "embedded") {
        assert.ok(tree.some((p) => p.cmdline.includes(env.STATEHOOK_DATA_DIR)), "the embedded Postgres runs");
      }
      const port = Number(new URL(service.url).port);

      service.kill(signal);
      assert.deepEqual(await exitAfter(service, signal), { code: 0, signal: null }, service.stderr());
      // npm waits for the service, and the service for its Postgres: all are gone by now.
      assert.deepEqual(await stillRunning(tree), [], "no process left behind");
      assert.equal(await portOpen(port), false, "the port is closed");
      // The exit can be seen before the last lines are read from the pipe.
      await until(() => service.logs.some((l) => l.msg === "stopped"), 5000, "the stopped line");
      assert.equal(service.logs.find((l) => l.msg === "shutting down")?.signal, signal);
    } finally {
      await service.stop(2000);
      await killLeftovers(tree);
    }
  });
}

test("`npm start` whose npm is killed outright: the service notices and stops by itself", {
  timeout: 60_000,
}, async () => {
  const service = await startService({ command: [...COMMANDS.bun], env: { ...baseEnv, DATABASE_URL: db.url } });
  let tree: ProcessEntry[] = [];
  try {
    tree = await descendants(service.pid);
    assert.equal(tree.length, 1, "npm runs the service in place of a shell");
    const port = Number(new URL(service.url).port);
    service.kill("SIGKILL");
    await service.exited;
    // Nothing signals the orphan: it has to see for itself that its parent is gone.
    await until(() => service.logs.some((l) => l.msg === "stopped"), 20_000, "the orphaned service to stop");
    assert.equal(service.logs.find((l) => l.msg === "shutting down")?.parent_exited, service.pid);
    await until(async () => (await stillRunning(tree)).length === 0, 5000, "the orphaned service to exit");
    assert.equal(await portOpen(port), false, "the port is closed");
  } finally {
    await killLeftovers(tree);
  }
});

/** Runs a command that should fail to start; resolves with its exit and what it wrote. */
async function failedStart(command: string[], env: Record<string, string>) {
  const child = spawnProcess(command, { HOME: process.env.HOME ?? "/root", ...baseEnv, ...env });
  let stderr = "";
  child.onStderr((chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const exit = await child.exited;
  clearTimeout(timer);
  // The exit can be seen before the pipe is read to its end. Give the line time to
  // arrive; if it never does, the caller's assertions show what came instead.
  await until(() => /^statehook: .*\n/m.test(stderr), 5000, "the start-up error").catch(() => {});
  return { exit, stderr: stderr.trim() };
}

const starts = [
  ...Object.values(COMMANDS).map((command) => [...command]),
  // Deno's own task runner: not the documented command, but the one a Deno user tries first.
  ["node_modules/.bin/deno", "task", "start"],
];

for (const command of starts) {
  test(`\`${command.join(" ")}\` with an unreachable DATABASE_URL fails with one line naming it`, {
    timeout: 60_000,
  }, async () => {
    const { exit, stderr } = await failedStart(command, {
      DATABASE_URL: "postgres://nobody:hunter2@127.0.0.1:1/none",
      STATEHOOK_PORT: "0",
      NO_COLOR: "1",
    });
    assert.deepEqual(exit, { code: 1, signal: null }, stderr);
    // deno task announces the task on stderr first.
    const lines = stderr.split("\n").filter((line) => !line.startsWith("Task start "));
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], /^statehook: DATABASE_URL: .*nobody@127\.0\.0\.1:1\/none: .*ECONNREFUSED/);
    assert.ok(!stderr.includes("hunter2"), "the password stays out");
  });
}

for (const [runtime, command] of Object.entries(COMMANDS)) {
  test(`\`${command.join(" ")}\` (${runtime}) on a port in use fails with one line naming it`, {
    timeout: 60_000,
  }, async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const { exit, stderr } = await failedStart([...command], { DATABASE_URL: db.url, STATEHOOK_PORT: String(port) });
      assert.deepEqual(exit, { code: 1, signal: null }, stderr);
      assert.equal(stderr, `statehook: STATEHOOK_PORT: 127.0.0.1:${port} is already in use`);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
}

test("a start-up still waiting for its database already holds the port and answers 503", {
  timeout: 60_000,
}, async () => {
  // A "database" that accepts connections and never answers: start-up waits on it.
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const dbPort = (silent.address() as { port: number }).port;
  const port = await freePort();
  const child = spawnProcess(serviceCommand(), {
    HOME: process.env.HOME ?? "/root",
    ...baseEnv,
    DATABASE_URL: `postgres://nobody@127.0.0.1:${dbPort}/none`,
    STATEHOOK_PORT: String(port),
  });
  try {
    const reply = await until(
      () => fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined),
      20_000,
      "the port to answer",
    );
    assert.equal(reply.status, 503);
    assert.equal((await reply.json()).error.code, "starting");
  } finally {
    child.kill("SIGKILL");
    await child.exited;
    silent.close();
  }
});
