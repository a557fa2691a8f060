// One delivery: what was sent (the payload and the headers, the signature
// redacted by the server), every attempt with its status code, error,
// duration and the start of the receiver's answer, and a retry button for a
// failed or exhausted one. Reloaded every few seconds, so a retry is seen landing.
import { useState } from "preact/hooks";
import { html } from "htm/preact";
import { formatTime, nextAttempt, orDash, prettyJson } from "./format.js";
import { EmptyRow } from "./grid.js";
import { useResource } from "./resource.js";
import { routeHash } from "./route.js";

const RELOAD_MS = 2000;

export function DeliveryView({ api, id }) {
  const delivery = useResource(() => api.get(`/deliveries/${encodeURIComponent(id)}`), [api, id], RELOAD_MS);
  const [message, setMessage] = useState(null);
  const [busy, setBusy] = useState(false);
  const d = delivery.data;

  const retry = async () => {
    setBusy(true);
    setMessage(null);
    try {
      await api.post(`/deliveries/${encodeURIComponent(id)}/retry`);
      setMessage("Queued again: it is sent on the next claim.");
      delivery.reload();
    } catch (error) {
      setMessage(`Could not retry: ${error.message}`);
    } finally {
      setBusy(false);
    }
  };

  if (!d) {
    return html`<section>
      <p><a href="#/deliveries">← Deliveries</a></p>
      ${delivery.error ? html`<p class="error" role="alert">${delivery.error.message}</p>` : html`<p>Loading…</p>`}
    </section>`;
  }
  const retryable = d.status === "failed" || d.status === "exhausted";
  const headers = headerEntries(d.request_headers);
  return html`
    <section class="delivery" data-delivery-id=${d.id}>
      <p><a href=${routeHash("deliveries", undefined, {
        webhook_id: d.webhook_id,
      })}>← Deliveries of this webhook</a></p>
      <div class="toolbar">
        <h2>Delivery <span class="mono">${d.id}</span></h2>
        <button type="button" class="primary" data-action="retry" disabled=${!retryable || busy} onClick=${retry}
          title=${retryable ? "Re-queue now with a fresh schedule" : "Only failed or exhausted deliveries are retried"}>
          Retry
        </button>
      </div>
      ${message ? html`<p class="notice" role="status" data-testid="delivery-message">${message}</p>` : null}
      <dl class="facts">
        <dt>Status</dt><dd><span class=${`badge status-${d.status}`} data-field="status">${d.status}</span></dd>
        <dt>Event</dt><dd>${d.event_type} <span class="muted mono">${d.event_id}</span></dd>
        <dt>Webhook</dt><dd class="mono">${d.webhook_id}</dd>
        <dt>Attempts</dt><dd data-field="attempts">${d.attempt_count}</dd>
        <dt>Next attempt</dt><dd>${nextAttempt(d)}</dd>
        <dt>Created</dt><dd>${formatTime(d.created_at)}</dd>
        ${d.resource_id
          ? html`
            <dt>Resource</dt>
            <dd class="mono">${d.resource_id}</dd>
          `
          : null}
      </dl>
      <h3>Attempts</h3>
      <table class="grid attempts">
        <thead>
          <tr><th>#</th><th>Outcome</th><th>Status</th><th>Error</th><th>Duration</th><th>Response body</th><th>At</th></tr>
        </thead>
        <tbody>
          ${(d.attempts ?? []).map((a, index) =>
            html`
              <tr key=${`${index}-${a.created_at}`} data-attempt-row=${index + 1}>
                <td>${a.attempt_number}</td>
                <td><span class=${`badge outcome-${a.outcome}`}>${a.outcome}</span></td>
                <td data-field="status_code">${orDash(a.status_code)}</td>
                <td data-field="error">${orDash(a.error)}</td>
                <td data-field="duration">${a.duration_ms === null || a.duration_ms === undefined
                  ? "—"
                  : `${a.duration_ms} ms`}</td>
                <td>
                  <pre class="body" data-field="response_body">${a.response_body ?? ""}</pre>
                </td>
                <td class="nowrap">${formatTime(a.created_at)}</td>
              </tr>
            `
          )}
          ${(d.attempts ?? []).length === 0 ? html`<${EmptyRow} columns=${7}>Not attempted yet.<//>` : null}
        </tbody>
      </table>
      <div class="columns">
        <div>
          <h3>Payload</h3>
          <pre class="json" data-testid="payload">${prettyJson(d.payload)}</pre>
        </div>
        <div>
          <h3>Headers sent</h3>
          ${headers.length
            ? html`<table class="grid headers" data-testid="headers">
              ${
              headers.map(([name, value]) =>
                html`
                  <tr>
                    <th class="mono">${name}</th>
                    <td class="mono">${value}</td>
                  </tr>
                `
              )
            }
            </table>`
            : html`<p class="muted">None recorded yet.</p>`}
        </div>
      </div>
    </section>
  `;
}

/** Headers as [name, value] pairs, whether the API sends an object or a list. */
function headerEntries(headers) {
  if (!headers) return [];
  if (!Array.isArray(headers)) return Object.entries(headers);
  return headers.map((h) => (Array.isArray(h) ? h : [h.name, h.value]));
}
