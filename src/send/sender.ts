// The HTTP side of an attempt: one POST with a timeout, never following a
// redirect, reading at most a small prefix of the response. It gets a signed
// request and nothing else: no database handle, no secret. Every way a
// receiver can misbehave ends as a SendResult, never as a thrown error.
import type { SendResult, SignedRequest } from "../../machines/delivery.ts";
import { createHostGate } from "./host-gate.ts";
import { retryAfterSeconds } from "./retry-after.ts";
import { checkTargetAtSend, type Resolve } from "./target-guard.ts";

export type SenderOptions = {
  timeoutMs: number;
  allowPrivateTargets: boolean;
  resolve?: Resolve;
  /** How much of the response body to keep for the attempt log. */
  maxBodyBytes?: number;
  /** Requests open to one host at once; more wait their turn (see host-gate.ts). */
  maxPerHost?: number;
};

export type Send = (request: SignedRequest, signal: AbortSignal) => Promise<SendResult>;

async function readPrefix(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return "";
  // A body that says it fits is read whole, natively: a stream reader costs
  // several promise round trips per answer, most of the sender's time.
  const length = Number(response.headers.get("content-length") ?? NaN);
  if (length <= maxBytes) return await response.text();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    // Stop reading a large body here instead of buffering it.
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(size, maxBytes));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
    if (offset >= bytes.length) break;
  }
  return new TextDecoder().decode(bytes);
}

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
      if (!entered) {
        const error = timedOut ? `${timeout} waiting for a connection to ${host}` : "aborted: dispatcher shutting down";
        return { kind: "error", error, durationMs: elapsed() };
      }
      started = performance.now();
      if (!options.allowPrivateTargets) {
        const check = await checkTargetAtSend(request.url, { allowPrivate: false, resolve: options.resolve });
        if (!check.ok) return { kind: "error", error: check.message, durationMs: elapsed() };
      }
      const response = await fetch(request.url, {
        method: "POST",
        headers: request.headers,
        body: request.body,
        redirect: "manual",
        signal: controller.signal,
      });
      const responseBody = await readPrefix(response, maxBodyBytes);
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
