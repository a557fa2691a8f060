// BENCH_PROFILE under Deno, which has no --cpu-prof: the process runs with
// --inspect on a port of 127.0.0.1 and this records a CPU profile over the
// V8 inspector protocol (Profiler.start/stop), the same .cpuprofile format
// Bun's --cpu-prof writes.
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

/** A port the OS has just handed out on 127.0.0.1, for --inspect. */
export async function freeLocalPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Reply = { id: number; result?: Record<string, unknown>; error?: { message: string } };

/** Starts sampling the process that listens for an inspector on `port`; `save` stops and writes the profile. */
export async function profileOverInspector(port: number, samplingIntervalUs = 200) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`no inspector on 127.0.0.1:${port}`));
  });
  const pending = new Map<number, (reply: Reply) => void>();
  socket.onmessage = (message) => {
    const reply = JSON.parse(String(message.data)) as Reply;
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  };
  let nextId = 1;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (reply) => (reply.error ? reject(new Error(reply.error.message)) : resolve(reply.result ?? {})));
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: samplingIntervalUs });
  await call("Profiler.start");
  return {
    async save(dir: string, name: string) {
      const { profile } = await call("Profiler.stop");
      socket.close();
      const path = join(dir, `${name}.cpuprofile`);
      await writeFile(path, JSON.stringify(profile));
      return path;
    },
  };
}
