// CPU time from /proc: of one process (the service, the plain loop), of one
// Postgres backend (to the microsecond, for bench:postgres), and of the
// Postgres process tree (the postmaster, every backend and background
// worker alive now, and those it has already reaped). Taken before and after
// a run and divided by the deliveries, it is the figure a busy, shared
// machine disturbs least: other programs take CPU away, but they do not add
// to ours.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

// USER_HZ: the unit of /proc/<pid>/stat's times; 100 on every Linux this runs on.
const TICKS_PER_SECOND = 100;

type Stat = { name: string; ppid: number; own: number; reaped: number };

/**
 * A process's (`/proc/<pid>/stat`) or a thread's (`/proc/<pid>/task/<tid>/stat`)
 * name, parent, utime+stime (own) and cutime+cstime (reaped children), in ticks.
 */
async function stat(path: string): Promise<Stat | null> {
  const text = await readFile(path, "utf8").catch(() => null);
  if (text === null) return null;
  // The command name is in parentheses and may hold spaces: fields count from after it.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const n = (i: number) => Number(fields[i - 3]);
  const name = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
  return { name, ppid: n(4), own: n(14) + n(15), reaped: n(16) + n(17) };
}

/** CPU seconds one process has used so far (its threads included, its children not). */
export async function processCpu(pid: number): Promise<number> {
  const s = await stat(`/proc/${pid}/stat`);
  if (!s) throw new Error(`no process ${pid}`);
  return s.own / TICKS_PER_SECOND;
}

/**
 * CPU microseconds one single-threaded process (a Postgres backend) has used
 * so far, from the scheduler's nanosecond count (/proc/<pid>/schedstat: its
 * main thread only): /proc/<pid>/stat counts in 10 ms ticks, coarser than one
 * statement.
 */
export async function backendCpuMicros(pid: number): Promise<number> {
  const [onCpuNs] = (await readFile(`/proc/${pid}/schedstat`, "utf8")).split(" ");
  return Number(onCpuNs) / 1000;
}

/**
 * CPU seconds the tree under `root` has used so far. A backend that exits
 * between two readings moves from the live sum to its parent's reaped time,
 * so differences between readings stay whole.
 */
export async function treeCpu(root: number): Promise<number> {
  const stats = new Map<number, Stat>();
  for (const entry of await readdir("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const s = await stat(`/proc/${pid}/stat`);
    if (s) stats.set(pid, s);
  }
  const rootStat = stats.get(root);
  if (!rootStat) throw new Error(`no process ${root}`);
  let ticks = rootStat.own + rootStat.reaped;
  const inTree = new Set([root]);
  // /proc lists parents before their children only by accident: iterate to a fixed point.
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, s] of stats) {
      if (!inTree.has(pid) && inTree.has(s.ppid)) {
        inTree.add(pid);
        ticks += s.own + s.reaped;
        grew = true;
      }
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/**
 * CPU seconds of each of a process's live threads so far, summed by thread
 * name with trailing digits dropped ("Bun Pool 3" counts as "Bun Pool"):
 * the JavaScript thread (named after the runtime), the JIT compiler's and
 * the garbage collector's helpers, the runtime's I/O threads. A thread that
 * exits takes its time out of this list (the process's total keeps it).
 */
export async function threadCpu(pid: number): Promise<Record<string, number>> {
  const byName: Record<string, number> = {};
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const s = await stat(`/proc/${pid}/task/${tid}/stat`);
    if (!s) continue;
    const name = s.name.replace(/[\s#-]*\d+$/, "");
    byName[name] = (byName[name] ?? 0) + s.own / TICKS_PER_SECOND;
  }
  return byName;
}

/** The postmaster's pid, from the first line of postmaster.pid in the cluster's directory. */
export async function postmasterPid(databaseDir: string): Promise<number> {
  const text = await readFile(join(databaseDir, "postmaster.pid"), "utf8");
  return Number(text.split("\n")[0]);
}
