// Deliveries across every webhook, newest first, a page at a time: filtered
// by webhook, status, event type and a time range (kept in the URL, so a
// filtered list can be linked). A row opens the delivery's detail.
import { html } from "htm/preact";
import { formatTime, fromLocalInput, nextAttempt, orDash, toLocalInput, UUID } from "./format.js";
import { FilterForm, useDraft } from "./filters.js";
import { EmptyRow, Pager } from "./grid.js";
import { useCursorPages, useResource } from "./resource.js";
import { navigate, routeHash } from "./route.js";

const PAGE_SIZE = 50;
const RELOAD_MS = 5000;
const STATUSES = ["pending", "delivered", "failed", "exhausted"];
const FILTERS = ["webhook_id", "status", "event_type", "since", "until"];

export function DeliveriesView({ api, params }) {
  const filter = Object.fromEntries(FILTERS.map((name) => [name, params[name] ?? ""]));
  const key = FILTERS.map((name) => filter[name]).join("|");
  const pages = useCursorPages(key);
  const [draft, set] = useDraft(
    () => ({ ...filter, since: toLocalInput(filter.since), until: toLocalInput(filter.until) }),
    key,
  );

  const list = useResource(
    () => api.get("/deliveries", { ...filter, cursor: pages.cursor, limit: PAGE_SIZE }),
    [api, key, pages.cursor],
    RELOAD_MS,
  );
  // Names for the webhook filter: the first page of every webhook, by URL.
  const webhooks = useResource(() => api.get("/webhooks", { limit: 100 }), [api]);
  const urls = new Map((webhooks.data?.data ?? []).map((w) => [w.id, w.url]));

  const problem = draft.webhook_id && !UUID.test(draft.webhook_id.trim()) ? "webhook id must be a UUID" : null;
  const apply = () =>
    navigate("deliveries", undefined, {
      webhook_id: draft.webhook_id.trim(),
      status: draft.status,
      event_type: draft.event_type.trim(),
      since: fromLocalInput(draft.since),
      until: fromLocalInput(draft.until),
    });

  const rows = list.data?.data ?? [];
  return html`
    <section class="deliveries">
      <div class="toolbar">
        <h2>Deliveries</h2>
        <${FilterForm} problem=${problem} onApply=${apply} clear="#/deliveries">
          <label>Webhook
            <input name="webhook_id" list="webhook-ids" size="38" placeholder="any webhook" value=${draft.webhook_id}
              onInput=${set("webhook_id")} />
            <datalist id="webhook-ids">
              ${[...urls].map(([id, url]) => html`<option value=${id}>${url}</option>`)}
            </datalist>
          </label>
          <label>Status
            <select name="status" value=${draft.status} onChange=${set("status")}>
              <option value="">any</option>
              ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
            </select>
          </label>
          <label>Event type <input name="event_type" size="18" placeholder="any" value=${draft.event_type}
            onInput=${set("event_type")} /></label>
          <label>Since <input name="since" type="datetime-local" step="1" value=${draft.since} onInput=${set(
            "since",
          )} /></label>
          <label>Until <input name="until" type="datetime-local" step="1" value=${draft.until} onInput=${set(
            "until",
          )} /></label>
        <//>
      </div>
      ${list.error ? html`<p class="error" role="alert">Could not list deliveries: ${list.error.message}</p>` : null}
      <table class="grid">
        <thead>
          <tr>
            <th>Created</th><th>Event type</th><th>Status</th><th>Attempts</th><th>Last status</th>
            <th>Last error</th><th>Next attempt</th><th>Webhook</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map((d) =>
            html`
              <tr key=${d.id} data-delivery-id=${d.id} class="link" onClick=${() => navigate("deliveries", d.id)}>
                <td class="nowrap"><a href=${routeHash("deliveries", d.id)}>${formatTime(d.created_at)}</a></td>
                <td>${d.event_type}</td>
                <td><span class=${`badge status-${d.status}`} data-field="status">${d.status}</span></td>
                <td data-field="attempts">${d.attempt_count}</td>
                <td data-field="last_status">${orDash(d.last_status_code)}</td>
                <td class="clip">${orDash(d.last_error)}</td>
                <td class="nowrap">${nextAttempt(d)}</td>
                <td class="clip" title=${d.webhook_id}>${urls.get(d.webhook_id) ?? d.webhook_id.slice(0, 8)}</td>
              </tr>
            `
          )}
          ${list.data && rows.length === 0 ? html`<${EmptyRow} columns=${8}>No deliveries match.<//>` : null}
        </tbody>
      </table>
      <${Pager} pages=${pages} nextCursor=${list.data?.next_cursor} />
    </section>
  `;
}
