// The HTTP side of an attempt: one POST with a timeout, never following a
// redirect, reading at most a small prefix of the response. It gets a signed
// request and nothing else: no database handle, no secret. Every way a
// receiver can misbehave ends as a SendResult, never as a thrown error.
import type { SendResult, SignedRequest } from "../../machines/delivery.ts";
import pkg from "../../package.json" with { type: "json" };
import { undecodedFetchInit } from "../start/runtime.ts";
import { readBodyPrefix } from "./body-prefix.ts";
import { createHostGate } from "./host-gate.ts";
import { checkAndPin, type SendTarget } from "./pinned-target.ts";
import { retryAfterSeconds } from "./retry-after.ts";
import type { Resolve } from "./target-guard.ts";

export type SenderOptions = {
  timeoutMs: number;
  allowPrivateTargets: boolean;
  resolve?: Resolve;
  /** How much of the response body to keep for the attempt log. */
  maxBodyBytes?: number;
  /** Requests open to one host at once; more wait their turn (see host-gate.ts). */
  maxPerHost?: number;
};

/** On every request: the sender's own name for receivers' logs and allow-lists
 * (not the runtime's `Bun/1.4.5`), and a request for the body as it is, not
 * compressed (see body-prefix.ts for why that alone is not trusted). */
const OWN_HEADERS = { "user-agent": `statehook/${pkg.version}`, "accept-encoding": "identity" };

export type Send = (request: SignedRequest, signal: AbortSignal) => Promise<SendResult>;

/** Less time than this left once a connection slot frees up, and the attempt is not sent. */
const MIN_TIME_TO_SEND_MS = 10;

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    return `${error.message}${detail}`;
  }
  return String(error);
}

export function createSender(options: SenderOptions): Send {
  const maxBodyBytes = options.maxBodyBytes ?? 4096;
  const gate = createHostGate(options.maxPerHost ?? 64);
  const timeout = `timeout after ${options.timeoutMs / 1000}s`;
  return async (request, signal) => {
    // The attempt's duration counts from when it has a connection slot, not
    // from when it began to wait for one.
    let started = performance.now();
    const deadline = started + options.timeoutMs;
    const elapsed = () => performance.now() - started;
    // One controller per attempt, its timer cleared as soon as the attempt
    // ends: AbortSignal.timeout() would hold a timer and the combined signal
    // for the whole timeout after every fast answer, thousands of them under
    // load. The timer starts before the wait for a connection to the host, so
    // a host that hangs cannot hold a queue of attempts longer than the timeout.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.timeoutMs);
    const stop = () => controller.abort();
    signal.addEventListener("abort", stop, { once: true });
    const host = new URL(request.url).host;
    let entered = false;
    try {
      entered = await gate.enter(host, controller.signal);
      // Let in with next to none of its time left (the request ahead held the
      // slot until its own, equal, timeout): sending could only reach the
      // receiver and then time out, so it counts as the wait's timeout.
      const late = entered && deadline - performance.now() < MIN_TIME_TO_SEND_MS;
      if (!entered || late) {
        const error = timedOut || late
          ? `${timeout} waiting for a connection to ${host}`
          : "aborted: dispatcher shutting down";
        return { kind: "error", error, durationMs: elapsed() };
      }
      started = performance.now();
      const target: SendTarget = options.allowPrivateTargets
        ? { ok: true, url: request.url, init: {} }
        : await checkAndPin(request.url, options.resolve);
      if (!target.ok) return { kind: "error", error: target.message, durationMs: elapsed() };
      const headers = { ...request.headers, ...OWN_HEADERS, ...(target.host ? { host: target.host } : {}) };
      const response = await fetch(target.url, {
        ...undecodedFetchInit,
        ...target.init,
        method: "POST",
        headers,
        body: request.body,
        redirect: "manual",
        signal: controller.signal,
      });
      const responseBody = await readBodyPrefix(response, maxBodyBytes);
      const retryAfter = retryAfterSeconds(response.headers.get("retry-after"), Date.now());
      return {
        kind: "response",
        statusCode: response.status,
        responseBody,
        durationMs: elapsed(),
        ...(retryAfter !== undefined && { retryAfter }),
      };
    } catch (error) {
      if (timedOut) return { kind: "error", error: timeout, durationMs: elapsed() };
      if (signal.aborted) return { kind: "error", error: "aborted: dispatcher shutting down", durationMs: elapsed() };
      return { kind: "error", error: `connection failed: ${describe(error)}`, durationMs: elapsed() };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", stop);
      if (entered) gate.leave(host);
    }
  };
}
