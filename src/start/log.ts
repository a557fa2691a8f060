// Structured logs: one JSON object per line on stdout. Callers pass fields,
// never secrets; values named like secrets are masked as a last line of defence.
export type LogLevel = "debug" | "info" | "warn" | "error";
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

const SECRET_KEYS = /secret|token|password|authorization/i;

export function createLog(write: (line: string) => void = (line) => console.log(line)): Log {
  return (level, message, fields = {}) => {
    const safe: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(fields)) safe[key] = SECRET_KEYS.test(key) ? "[redacted]" : value;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...safe }));
  };
}
