// Every webhook across users, a page at a time, filterable by user and by
// enabled. The list is reloaded every few seconds; breaker state, failures,
// last status, rate and in-flight come from the live stream as they change,
// and fall back to what the database says when no actor runs for the endpoint.
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { formatRate, formatTime, orDash, UUID } from "./format.js";
import { FilterForm, useDraft } from "./filters.js";
import { EmptyRow, Pager } from "./grid.js";
import { useCursorPages, useResource } from "./resource.js";
import { navigate, routeHash } from "./route.js";
import { CreateDialog, EditDialog, RecoverDialog, RotateDialog, SecretDialog } from "./webhook-dialogs.js";

const PAGE_SIZE = 25;
const RELOAD_MS = 5000;

export function EndpointsView({ api, snapshot, params }) {
  const filter = { user_id: params.user_id ?? "", enabled: params.enabled ?? "" };
  const key = `${filter.user_id}|${filter.enabled}`;
  const [draft, set] = useDraft(() => filter, key);
  const [dialog, setDialog] = useState(null);
  const [message, setMessage] = useState(null);
  const pages = useCursorPages(key);

  const list = useResource(
    () =>
      api.get("/webhooks", {
        user_id: filter.user_id,
        enabled: filter.enabled,
        cursor: pages.cursor,
        limit: PAGE_SIZE,
      }),
    [api, filter.user_id, filter.enabled, pages.cursor],
    RELOAD_MS,
  );

  // An endpoint the live stream knows but this page does not: look again now.
  const liveIds = Object.keys(snapshot?.webhooks ?? {}).sort().join(",");
  useEffect(() => {
    const shown = new Set((list.data?.data ?? []).map((w) => w.id));
    if (pages.number === 1 && liveIds && liveIds.split(",").some((id) => !shown.has(id))) list.reload();
  }, [liveIds]);

  const draftProblem = draft.user_id && !UUID.test(draft.user_id.trim()) ? "user id must be a UUID" : null;
  const applyFilter = () => navigate("endpoints", undefined, { user_id: draft.user_id.trim(), enabled: draft.enabled });

  const done = (text) => {
    setDialog(null);
    setMessage(text);
    list.reload();
  };

  const toggle = async (webhook) => {
    setMessage(null);
    try {
      await api.patch(`/users/${webhook.user_id}/webhooks/${webhook.id}`, { enabled: !webhook.enabled });
      done(`${webhook.enabled ? "Disabled" : "Enabled"} ${webhook.url}`);
    } catch (error) {
      setMessage(`Could not change ${webhook.url}: ${error.message}`);
    }
  };

  const webhooks = list.data?.data ?? [];
  return html`
    <section class="endpoints">
      <div class="toolbar">
        <h2>Endpoints</h2>
        <${FilterForm} problem=${draftProblem} onApply=${applyFilter}>
          <label>User id
            <input
              name="user_id"
              placeholder="any user"
              size="38"
              value=${draft.user_id}
              onInput=${set("user_id")}
            />
          </label>
          <label>State
            <select name="enabled" value=${draft.enabled} onChange=${set("enabled")}>
              <option value="">all</option>
              <option value="true">enabled</option>
              <option value="false">disabled</option>
            </select>
          </label>
        <//>
        <button type="button" class="primary" onClick=${() =>
          setDialog({ kind: "create", userId: filter.user_id })}>New webhook</button>
      </div>
      ${message ? html`<p class="notice" role="status" data-testid="endpoints-message">${message}</p>` : null}
      ${list.error ? html`<p class="error" role="alert">Could not list webhooks: ${list.error.message}</p>` : null}
      <table class="grid">
        <thead>
          <tr>
            <th>URL</th><th>User</th><th>Scope</th><th>Event types</th><th>Enabled</th><th>Breaker</th>
            <th title="consecutive failures">Failures</th><th>Last status</th><th title="deliveries per second">Sent/s</th>
            <th>In flight</th><th>Last attempt</th><th></th>
          </tr>
        </thead>
        <tbody>
          ${webhooks.map((webhook) =>
            html`
              <${Row}
                key=${webhook.id}
                webhook=${webhook}
                live=${snapshot?.webhooks?.[webhook.id]}
                onToggle=${() => toggle(webhook)}
                onDialog=${(kind) => (setMessage(null), setDialog({ kind, webhook }))}
              />
            `
          )}
          ${list.data && webhooks.length === 0
            ? html`<${EmptyRow} columns=${12}>No webhooks${filter.user_id ? " for this user" : ""}.<//>`
            : null}
        </tbody>
      </table>
      <${Pager} pages=${pages} nextCursor=${list.data?.next_cursor} />
      ${dialog ? html`<${Dialogs} api=${api} dialog=${dialog} setDialog=${setDialog} done=${done} />` : null}
    </section>
  `;
}

function Row({ webhook, live, onToggle, onDialog }) {
  const breaker = live?.state ?? webhook.breaker_state;
  const failures = live?.consecutive_failures ?? webhook.consecutive_failures;
  const lastStatus = live?.last_status_code ?? webhook.last_status_code;
  return html`
    <tr data-webhook-id=${webhook.id} class=${webhook.enabled ? "" : "disabled"}>
      <td class="url">
        <div data-field="url">${webhook.url}</div>
        ${webhook.description ? html`<div class="muted">${webhook.description}</div>` : null}
      </td>
      <td class="mono" title=${webhook.user_id}>
        <a href=${routeHash("endpoints", undefined, { user_id: webhook.user_id })}>${webhook.user_id.slice(0, 8)}</a>
      </td>
      <td data-field="scope">${webhook.scope}</td>
      <td data-field="event_types">${webhook.event_types
        ? webhook.event_types.join(", ")
        : html`<span class="muted">all</span>`}</td>
      <td data-field="enabled">${webhook.enabled ? "yes" : "no"}</td>
      <td><span class=${`badge state-${orDash(breaker)}`} data-field="breaker" data-live=${live
        ? "true"
        : "false"}>${orDash(breaker)}</span></td>
      <td data-field="failures">${orDash(failures)}</td>
      <td data-field="last_status">${orDash(lastStatus)}</td>
      <td data-field="rate">${live ? formatRate(live.sent_per_sec) : "—"}</td>
      <td data-field="in_flight">${live ? orDash(live.in_flight) : "—"}</td>
      <td class="nowrap">${formatTime(webhook.last_attempt_at)}</td>
      <td class="actions">
        <button type="button" data-action="toggle" onClick=${onToggle}>${webhook.enabled
          ? "Disable"
          : "Enable"}</button>
        <button type="button" data-action="edit" onClick=${() => onDialog("edit")}>Edit</button>
        <button type="button" data-action="rotate" onClick=${() => onDialog("rotate")}>Rotate secret</button>
        <button type="button" data-action="recover" onClick=${() => onDialog("recover")}>Recover</button>
        <a href=${routeHash("deliveries", undefined, {
          webhook_id: webhook.id,
        })} data-action="deliveries">Deliveries</a>
        <a href=${routeHash("machines", undefined, { webhook: webhook.id })} data-action="machine">Actor</a>
      </td>
    </tr>
  `;
}

function Dialogs({ api, dialog, setDialog, done }) {
  const close = () => setDialog(null);
  switch (dialog.kind) {
    case "create":
      return html`<${CreateDialog} api=${api} userId=${dialog.userId} onClose=${close} onCreated=${(created) =>
        setDialog({ kind: "secret", title: "Webhook created", webhook: created, secret: created.secret })} />`;
    case "edit":
      return html`<${EditDialog} api=${api} webhook=${dialog.webhook} onClose=${close} onSaved=${(saved) =>
        done(`Saved ${saved.url}`)} />`;
    case "rotate":
      return html`<${RotateDialog} api=${api} webhook=${dialog.webhook} onClose=${close} onRotated=${(secret) =>
        setDialog({ kind: "secret", title: "Secret rotated", webhook: dialog.webhook, secret })} />`;
    case "recover":
      return html`<${RecoverDialog} api=${api} webhook=${dialog.webhook} onClose=${close} onRecovered=${(n) =>
        done(`Requeued ${n} ${n === 1 ? "delivery" : "deliveries"} of ${dialog.webhook.url}`)} />`;
    case "secret":
      return html`<${SecretDialog} title=${dialog.title} webhook=${dialog.webhook} secret=${dialog.secret} onClose=${() =>
        done(null)} />`;
    default:
      return null;
  }
}
