// Where the page is, kept in the URL's hash (#/deliveries?status=failed), so
// views can be linked, reloaded and walked back with the browser's buttons.
import { useEffect, useState } from "preact/hooks";

/** `{ view: "deliveries", id: undefined, params: { status: "failed" } }` */
export function parseRoute(hash) {
  const [path, query = ""] = hash.replace(/^#\/?/, "").split("?", 2);
  const [view = "", id] = path.split("/");
  return {
    view: view || "endpoints",
    id: id ? decodeURIComponent(id) : undefined,
    params: Object.fromEntries(new URLSearchParams(query)),
  };
}

export function routeHash(view, id, params = {}) {
  const query = new URLSearchParams(
    Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== ""),
  ).toString();
  return `#/${view}${id ? `/${encodeURIComponent(id)}` : ""}${query ? `?${query}` : ""}`;
}

export function navigate(view, id, params) {
  location.hash = routeHash(view, id, params);
}

export function useRoute() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return route;
}
