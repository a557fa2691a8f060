// A list view's filters: what the operator types is a draft until Filter
// applies it (to the URL, so a filtered list can be linked), and the form
// will not apply a draft it knows to be wrong.
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";

/**
 * `const [draft, set] = useDraft(() => filter, key)`: the draft, made again
 * from the applied filter whenever that changes (its `key`); `set(name)` is
 * the input handler that edits one field.
 */
export function useDraft(fromApplied, key) {
  const [draft, setDraft] = useState(fromApplied);
  useEffect(() => setDraft(fromApplied()), [key]);
  return [draft, (name) => (e) => setDraft({ ...draft, [name]: e.currentTarget.value })];
}

/** The form around the fields: Filter applies unless `problem` says what is wrong; `clear` links to the whole list. */
export function FilterForm({ problem, onApply, clear, children }) {
  const submit = (event) => {
    event.preventDefault();
    if (!problem) onApply();
  };
  return html`
    <form class="filters" onSubmit=${submit}>
      ${children}
      <button type="submit" disabled=${!!problem}>Filter</button>
      ${clear ? html`<a href=${clear} class="button quiet">Clear</a>` : null}
      ${problem ? html`<span class="error">${problem}</span>` : null}
    </form>
  `;
}
