// How values read on the page: times in the viewer's zone, rates with one
// decimal, and the conversions between RFC 3339 and <input type=datetime-local>.
const pad = (n) => String(n).padStart(2, "0");

/** "2026-01-02 13:04:05" in local time, or "—". */
export function formatTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${
    pad(d.getSeconds())
  }`;
}

/** The value a datetime-local input shows for an RFC 3339 time ("" for none). */
export function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${
    pad(d.getSeconds())
  }`;
}

/** RFC 3339 (UTC) of a datetime-local input's value, or undefined when empty or invalid. */
export function fromLocalInput(value) {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function formatRate(perSecond) {
  if (perSecond === undefined || perSecond === null) return "—";
  return perSecond >= 10 ? String(Math.round(perSecond)) : perSecond.toFixed(1);
}

/** When a delivery is tried next: only a pending or failed one will be ("—" otherwise). */
export const nextAttempt = (
  d,
) => (d.status === "pending" || d.status === "failed" ? formatTime(d.next_attempt_at) : "—");

export const orDash = (value) => (value === undefined || value === null || value === "" ? "—" : String(value));

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function prettyJson(value) {
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}
