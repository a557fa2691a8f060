// The dashboard's entry: asks for the API token once (kept in sessionStorage,
// sent as a bearer header, never a cookie), then shows the views and keeps
// one live stream open for all of them.
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { html } from "htm/preact";
import { createApi } from "./api.js";
import { DeliveriesView } from "./deliveries.js";
import { DeliveryView } from "./delivery.js";
import { EndpointsView } from "./endpoints.js";
import { openLive } from "./live.js";
import { Login } from "./login.js";
import { MachinesView } from "./machines.js";
import { useRoute } from "./route.js";

const TOKEN_KEY = "statehook.api-token";
const REFUSED = "The server refused the token (wrong API token); enter it again.";

function App() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY));
  const [notice, setNotice] = useState(undefined);
  const signOut = (message) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setNotice(message);
    setToken(null);
  };
  if (!token) {
    return html`
      <${Login}
        notice=${notice}
        onToken=${(accepted) => {
          sessionStorage.setItem(TOKEN_KEY, accepted);
          setNotice(undefined);
          setToken(accepted);
        }}
      />
    `;
  }
  return html`<${Shell} key=${token} token=${token} onSignOut=${signOut} />`;
}

function useLive(token, onUnauthorized) {
  const [live, setLive] = useState({ status: "connecting", snapshot: undefined });
  useEffect(
    () =>
      openLive(token, {
        onSnapshot: (snapshot) => setLive({ status: "live", snapshot }),
        onStatus: (status) => setLive((old) => ({ ...old, status })),
        onUnauthorized,
      }),
    [token],
  );
  return live;
}

const VIEWS = [
  ["endpoints", "Endpoints"],
  ["deliveries", "Deliveries"],
  ["machines", "Machines"],
];

function Shell({ token, onSignOut }) {
  const api = useMemo(() => createApi(token, () => onSignOut(REFUSED)), [token]);
  const live = useLive(token, () => onSignOut(REFUSED));
  const route = useRoute();
  const snapshot = live.snapshot;

  let view;
  if (route.view === "deliveries" && route.id) view = html`<${DeliveryView} api=${api} id=${route.id} />`;
  else if (route.view === "deliveries") view = html`<${DeliveriesView} api=${api} params=${route.params} />`;
  else if (route.view === "machines") {
    view = html`<${MachinesView} api=${api} snapshot=${snapshot} params=${route.params} />`;
  } else view = html`<${EndpointsView} api=${api} snapshot=${snapshot} params=${route.params} />`;

  return html`
    <header class="top">
      <strong class="brand">statehook</strong>
      <nav>
        ${VIEWS.map(([name, label]) =>
          html`<a href=${`#/${name}`} class=${route.view === name ? "current" : ""} data-view=${name}>${label}</a>`
        )}
      </nav>
      <span class=${`live-status ${live.status}`} data-testid="live-status" title="GET /admin/api/v1/live">
        ${live.status === "live" ? "● live" : live.status === "connecting" ? "○ connecting" : "○ reconnecting"}
      </span>
      <button type="button" class="quiet" onClick=${() => onSignOut(undefined)}>Sign out</button>
    </header>
    <main class="view">${view}</main>
  `;
}

render(html`<${App} />`, document.getElementById("app"));
