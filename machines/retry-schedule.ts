// The retry rule shared by the delivery machine and the repository: after a
// failed attempt, either wait schedule[next attempt] seconds or give up.
// The schedule's length is the maximum number of attempts.

export type AfterFailure =
  | { status: "failed"; retryDelaySecs: number }
  | { status: "exhausted" };

/** `attemptsBefore` is the attempt count stored before the attempt that failed. */
export function afterFailure(attemptsBefore: number, schedule: readonly number[]): AfterFailure {
  const attemptsMade = attemptsBefore + 1;
  if (attemptsMade >= schedule.length) return { status: "exhausted" };
  return { status: "failed", retryDelaySecs: schedule[attemptsMade] };
}
