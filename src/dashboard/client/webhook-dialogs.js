// The forms that change a webhook: create, edit, rotate its secret, recover
// its failed and exhausted deliveries since a time, and the one showing of a
// new secret (with a copy button). Each reports what the API answered.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "htm/preact";
import { fromLocalInput, toLocalInput, UUID } from "./format.js";

function Modal({ title, onClose, children, testid }) {
  useEffect(() => {
    const onKey = (event) => event.key === "Escape" && onClose();
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [onClose]);
  return html`
    <div class="overlay" onClick=${(e) => e.target === e.currentTarget && onClose()}>
      <div class="card dialog" role="dialog" aria-modal="true" aria-label=${title} data-testid=${testid}>
        <h3>${title}</h3>
        ${children}
      </div>
    </div>
  `;
}

/** A dialog that is one form: its fields, the API's complaint about the last submit, Cancel and the submit button. */
function FormDialog({ title, testid, form, submitLabel, onClose, children }) {
  return html`
    <${Modal} title=${title} onClose=${onClose} testid=${testid}>
      <form onSubmit=${form.submit}>
        ${children}
        ${form.problem ? html`<p class="error" role="alert">${form.problem}</p>` : null}
        <div class="buttons">
          <button type="button" onClick=${onClose}>Cancel</button>
          <button type="submit" class="primary" disabled=${form.busy}>${submitLabel}</button>
        </div>
      </form>
      <//>
  `;
}

/** One submit with a busy flag and the API's message on failure. */
function useSubmit(action) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setProblem(null);
    setBusy(true);
    try {
      await action();
    } catch (error) {
      setProblem(error.message);
    } finally {
      setBusy(false);
    }
  };
  return { busy, problem, setProblem, submit };
}

const parseEventTypes = (text) => {
  const list = text.split(/[\s,]+/).filter(Boolean);
  return list.length ? list : null;
};

function WebhookFields({ fields, setFields, withScope }) {
  const set = (name) => (e) => setFields({ ...fields, [name]: e.currentTarget.value });
  return html`
    <label>URL <input name="url" type="text" required value=${fields.url} onInput=${set("url")}
      placeholder="the receiver's https:// URL" /></label>
    <label>Event types <input name="event_types" value=${fields.eventTypes} onInput=${set("eventTypes")}
      placeholder="all (or: batch.completed, batch.failed)" /></label>
    <label>Description <input name="description" value=${fields.description} onInput=${set("description")} /></label>
    ${withScope
      ? html`<label>Scope
          <select name="scope" value=${fields.scope} onChange=${set("scope")}>
            <option value="own">own: this user's events</option>
            <option value="platform">platform: every user's events</option>
          </select>
        </label>`
      : null}
  `;
}

export function CreateDialog({ api, userId, onClose, onCreated }) {
  const [fields, setFields] = useState({
    userId: userId ?? "",
    url: "",
    eventTypes: "",
    description: "",
    scope: "own",
  });
  const form = useSubmit(async () => {
    const user = fields.userId.trim();
    if (!UUID.test(user)) throw new Error("user id must be a UUID");
    const body = { url: fields.url.trim(), event_types: parseEventTypes(fields.eventTypes), scope: fields.scope };
    if (fields.description.trim()) body.description = fields.description.trim();
    onCreated(await api.post(`/users/${user}/webhooks`, body));
  });
  return html`
    <${FormDialog} title="New webhook" testid="create-dialog" form=${form} submitLabel="Create" onClose=${onClose}>
      <label>User id
        <span class="inline">
          <input name="user_id" size="38" value=${fields.userId} onInput=${(e) =>
            setFields({ ...fields, userId: e.currentTarget.value })} />
          <button type="button" onClick=${() => setFields({ ...fields, userId: crypto.randomUUID() })}>New id</button>
        </span>
      </label>
      <${WebhookFields} fields=${fields} setFields=${setFields} withScope=${true} />
      <//>
  `;
}

export function EditDialog({ api, webhook, onClose, onSaved }) {
  const initial = {
    url: webhook.url,
    eventTypes: (webhook.event_types ?? []).join(", "),
    description: webhook.description ?? "",
  };
  const [fields, setFields] = useState(initial);
  const form = useSubmit(async () => {
    // Only what changed is sent: PATCH leaves the rest as it is.
    const body = {};
    if (fields.url.trim() !== initial.url) body.url = fields.url.trim();
    if (fields.eventTypes !== initial.eventTypes) body.event_types = parseEventTypes(fields.eventTypes);
    if (fields.description !== initial.description) body.description = fields.description.trim() || null;
    if (Object.keys(body).length === 0) return onClose();
    onSaved(await api.patch(`/users/${webhook.user_id}/webhooks/${webhook.id}`, body));
  });
  return html`
    <${FormDialog} title="Edit webhook" testid="edit-dialog" form=${form} submitLabel="Save" onClose=${onClose}>
      <${WebhookFields} fields=${fields} setFields=${setFields} withScope=${false} />
      <//>
  `;
}

export function RotateDialog({ api, webhook, onClose, onRotated }) {
  const [grace, setGrace] = useState("86400");
  const form = useSubmit(async () => {
    const seconds = Number(grace);
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 604800) {
      throw new Error("grace period must be 0 to 604800 seconds");
    }
    const rotated = await api.post(`/users/${webhook.user_id}/webhooks/${webhook.id}/rotate-secret`, {
      grace_period_secs: seconds,
    });
    onRotated(rotated.secret);
  });
  return html`
    <${FormDialog} title="Rotate secret" testid="rotate-dialog" form=${form} submitLabel="Rotate" onClose=${onClose}>
      <p>A new secret for <strong>${webhook.url}</strong>. During the grace period deliveries carry both
        signatures, so the receiver can switch over without dropping any.</p>
      <label>Grace period (seconds)
        <input name="grace_period_secs" type="number" min="0" max="604800" value=${grace} onInput=${(e) =>
          setGrace(e.currentTarget.value)} />
      </label>
      <//>
  `;
}

export function RecoverDialog({ api, webhook, onClose, onRecovered }) {
  const [since, setSince] = useState(() => toLocalInput(new Date(Date.now() - 24 * 3600_000).toISOString()));
  const [until, setUntil] = useState("");
  const form = useSubmit(async () => {
    const body = { since: fromLocalInput(since) };
    if (!body.since) throw new Error("since: pick a time");
    if (until) body.until = fromLocalInput(until);
    const result = await api.post(`/users/${webhook.user_id}/webhooks/${webhook.id}/recover`, body);
    onRecovered(result.requeued);
  });
  return html`
    <${FormDialog} title="Recover deliveries" testid="recover-dialog" form=${form} submitLabel="Recover"
      onClose=${onClose}>
      <p>Re-queue every failed and exhausted delivery of <strong>${webhook.url}</strong> created in this window.
        ${webhook.enabled ? null : html`
          <span class="error">The webhook is disabled: enable it first.</span>
        `}</p>
      <label>Since <input name="since" type="datetime-local" step="1" value=${since} onInput=${(e) =>
        setSince(e.currentTarget.value)} /></label>
      <label>Until (optional) <input name="until" type="datetime-local" step="1" value=${until} onInput=${(e) =>
        setUntil(e.currentTarget.value)} /></label>
      <//>
  `;
}

export function SecretDialog({ title, webhook, secret, onClose }) {
  const [copied, setCopied] = useState(null);
  const field = useRef(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied("Copied.");
    } catch {
      // No clipboard permission (an embedded or headless browser): select it for a manual copy.
      field.current?.select();
      setCopied(document.execCommand?.("copy") ? "Copied." : "Select the secret and copy it by hand.");
    }
  };
  return html`
    <${Modal} title=${title} onClose=${onClose} testid="secret-dialog">
      <p>The signing secret of <strong>${webhook.url}</strong>. This is the only time it is shown: copy it now.</p>
      <div class="inline">
        <input ref=${field} class="mono secret" readonly value=${secret} data-testid="secret" size="52" />
        <button type="button" class="primary" onClick=${copy} data-action="copy">Copy</button>
      </div>
      ${copied ? html`<p class="notice" role="status">${copied}</p>` : null}
      <div class="buttons"><button type="button" onClick=${onClose}>Done</button></div>
    <//>
  `;
}
