// How a failed attempt is judged under the per-endpoint policy: Retry-After
// (seconds or an HTTP date, capped), 410 Gone, jitter within [1 − j, 1 + j]
// with the randomness provided, and a probe that waits instead of exhausting.
// Pure functions and the delivery machine on their own; the end-to-end
// tests with real receivers are in reliability-policy.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ClaimedDelivery,
  type DeliveryPolicy,
  DWCTL_POLICY,
  judged,
  type SendResult,
} from "../machines/delivery.ts";
import { retryAfterSeconds } from "../src/send/retry-after.ts";
import { claimedDelivery } from "./support/delivery-fixtures.ts";

const NOW = Date.parse("2025-01-01T12:00:00Z");

test("Retry-After: delay-seconds or an HTTP date, anything else is no answer", () => {
  assert.equal(retryAfterSeconds("120", NOW), 120);
  assert.equal(retryAfterSeconds(" 0 ", NOW), 0);
  assert.equal(retryAfterSeconds("Wed, 01 Jan 2025 12:01:30 GMT", NOW), 90);
  assert.equal(retryAfterSeconds("Wed, 01 Jan 2025 11:00:00 GMT", NOW), 0, "a date in the past: no wait");
  for (const bad of [null, "", "-5", "1.5", "soon", "2025-01-01T12:01:00Z", "12:01"]) {
    assert.equal(retryAfterSeconds(bad, NOW), undefined, String(bad));
  }
});

const ROW: ClaimedDelivery = claimedDelivery({ eventType: "a.b", attemptCount: 1 });
const SCHEDULE = [0, 100, 1000];
const POLICY: DeliveryPolicy = {
  jitter: 0.2,
  random: () => 0.5,
  retryAfterMaxSecs: 3600,
  disableOnGone: true,
  probesWait: true,
};
const answer = (statusCode: number, retryAfter?: number): SendResult => ({
  kind: "response",
  statusCode,
  responseBody: "",
  durationMs: 1,
  ...(retryAfter !== undefined && { retryAfter }),
});

test("Retry-After on 429/503 pauses the endpoint (capped) and the retry is no earlier than the pause or the schedule", () => {
  const policy = { ...POLICY, jitter: 0 };
  const judge = (result: SendResult, attemptCount = 1) =>
    judged({ delivery: { ...ROW, attemptCount }, schedule: SCHEDULE, policy }, result);
  assert.deepEqual([judge(answer(429, 300)).pauseSecs, judge(answer(429, 300)).retryDelaySecs], [300, 1000]);
  assert.deepEqual([judge(answer(503, 5000)).pauseSecs, judge(answer(503, 5000)).retryDelaySecs], [3600, 3600]);
  assert.deepEqual([judge(answer(429, 30), 0).pauseSecs, judge(answer(429, 30), 0).retryDelaySecs], [30, 100]);
  assert.equal(judge(answer(500, 300)).pauseSecs, undefined, "only 429 and 503 pause");
  assert.equal(judge(answer(429)).pauseSecs, undefined, "no header, no pause");
  const last = judge(answer(429, 60), 2);
  assert.deepEqual([last.status, last.pauseSecs], ["exhausted", 60], "the last attempt still pauses the endpoint");
  assert.equal(
    judged({ delivery: ROW, schedule: SCHEDULE }, answer(429, 60)).pauseSecs,
    undefined,
    "dwctl's policy ignores it",
  );
});

test("410 Gone exhausts at once under disable-on-gone, and is an ordinary failure without it", () => {
  const gone = judged({ delivery: { ...ROW, attemptCount: 0 }, schedule: SCHEDULE, policy: POLICY }, answer(410));
  assert.deepEqual([gone.status, gone.gone, gone.attempted], ["exhausted", true, true]);
  const ordinary = judged(
    { delivery: { ...ROW, attemptCount: 0 }, schedule: SCHEDULE, policy: DWCTL_POLICY },
    answer(410),
  );
  assert.deepEqual([ordinary.status, ordinary.gone], ["failed", undefined]);
});

test("jitter: every retry delay lies in [d(1 − j), d(1 + j)], and 0 keeps dwctl's exact schedule", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 86_400 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 0.999999, noNaN: true }),
      (delay, jitter, r) => {
        const policy = { ...POLICY, jitter, random: () => r };
        const got = judged({ delivery: { ...ROW, attemptCount: 0 }, schedule: [0, delay, 1], policy }, answer(500));
        assert.ok(
          got.retryDelaySecs! >= Math.floor(delay * (1 - jitter)),
          `${got.retryDelaySecs} vs ${delay}±${jitter}`,
        );
        assert.ok(
          got.retryDelaySecs! <= Math.ceil(delay * (1 + jitter)),
          `${got.retryDelaySecs} vs ${delay}±${jitter}`,
        );
        const exact = judged({
          delivery: { ...ROW, attemptCount: 0 },
          schedule: [0, delay, 1],
          policy: { ...policy, jitter: 0 },
        }, answer(500));
        assert.equal(exact.retryDelaySecs, delay);
      },
    ),
    { numRuns: 500 },
  );
});

test("a failed probe waits for the next probe instead of exhausting, when a cool-down is set", () => {
  const probe = { ...ROW, attemptCount: 2, probe: true };
  const waiting = judged({ delivery: probe, schedule: SCHEDULE, policy: POLICY }, answer(500));
  assert.deepEqual([waiting.status, waiting.retryDelaySecs, waiting.probe], ["failed", 0, true]);
  const dwctl = judged({ delivery: probe, schedule: SCHEDULE, policy: { ...POLICY, probesWait: false } }, answer(500));
  assert.equal(dwctl.status, "exhausted");
});
