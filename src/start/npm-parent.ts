// When npm runs statehook (`npm start`), npm passes SIGTERM and SIGINT on and
// waits for the service. If npm itself dies (SIGKILL, a crash), nothing would
// ever signal the orphaned service, which would keep its port and its embedded
// Postgres: so it watches for its parent to change and then stops as on
// SIGTERM. Only under npm (npm_lifecycle_event is set): started any other way,
// a parent that exits early (`nohup`, a shell's `&`) is normal.
import process from "node:process";

const CHECK_EVERY_MS = 1000;

/** Calls `onGone` once if the npm process that started this one goes away. */
export function watchNpmParent(env: Record<string, string | undefined>, onGone: (parentPid: number) => void): void {
  if (!env.npm_lifecycle_event) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, CHECK_EVERY_MS);
}
