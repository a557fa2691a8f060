// The token prompt: asked once per browser tab. The token is checked against
// the API before it is kept, so a wrong one is said at once.
import { useState } from "preact/hooks";
import { html } from "htm/preact";
import { checkToken } from "./api.js";

export function Login({ notice, onToken }) {
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState(notice);
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    event.preventDefault();
    const candidate = token.trim();
    if (!candidate) return setProblem("Enter the API token.");
    setBusy(true);
    const result = await checkToken(candidate);
    setBusy(false);
    if (result.ok) onToken(candidate);
    else setProblem(`Wrong token: ${result.message}`);
  };

  return html`
    <main class="login">
      <form class="card" onSubmit=${submit}>
        <h1>statehook</h1>
        <p>
          Enter the API token (<code>STATEHOOK_API_TOKEN</code>, or the one statehook printed at its first start).
          It stays in this tab only and is sent as an <code>Authorization: Bearer</code> header.
        </p>
        <label>API token
          <input
            type="password"
            name="token"
            autocomplete="current-password"
            value=${token}
            onInput=${(e) => setToken(e.currentTarget.value)}
            autofocus
          />
        </label>
        ${problem ? html`<p class="error" role="alert" data-testid="login-error">${problem}</p>` : null}
        <button type="submit" disabled=${busy}>${busy ? "Checking…" : "Sign in"}</button>
      </form>
    </main>
  `;
}
