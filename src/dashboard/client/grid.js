// What the page's tables (class "grid") share: the row that stands in when
// there is nothing to list, and the pager under a keyset-paged list.
import { html } from "htm/preact";

/** `<${EmptyRow} columns=${8}>No deliveries match.<//>`: one cell across the table. */
export function EmptyRow({ columns, children }) {
  return html`
    <tr>
      <td colspan=${columns} class="empty">${children}</td>
    </tr>
  `;
}

/** Previous and Next for `pages` (useCursorPages); Next goes to `nextCursor`, absent on the last page. */
export function Pager({ pages, nextCursor }) {
  return html`
    <div class="pager">
      <button type="button" disabled=${pages.number === 1} onClick=${pages.previous}>← Previous</button>
      <span>page ${pages.number}</span>
      <button type="button" disabled=${!nextCursor} onClick=${() => pages.next(nextCursor)}>Next →</button>
    </div>
  `;
}
