// The API as the page calls it: every request carries the bearer token in a
// header (never a cookie, so there is nothing for another site to forge) and
// every failure becomes an ApiError with the server's code and message.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * `api.get("/webhooks", { limit: 50 })`, `api.post(path, body)`, …; paths are
 * under /admin/api/v1. A 401 also calls `onUnauthorized`, so the page can ask
 * for the token again.
 */
export function createApi(token, onUnauthorized = () => {}) {
  async function request(method, path, { query, body } = {}) {
    const url = new URL(`/admin/api/v1${path}`, location.origin);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
    }
    const headers = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "statehook did not answer; is it running?");
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok) {
      const error = new ApiError(
        response.status,
        json?.error?.code ?? `http_${response.status}`,
        json?.error?.message ?? `${response.status} ${response.statusText}`,
      );
      if (response.status === 401) onUnauthorized(error);
      throw error;
    }
    return json;
  }
  return {
    get: (path, query) => request("GET", path, { query }),
    post: (path, body) => request("POST", path, { body: body ?? {} }),
    patch: (path, body) => request("PATCH", path, { body }),
    delete: (path) => request("DELETE", path),
  };
}

/** Whether the server takes `token`: any answer but a 401 means it does. */
export async function checkToken(token) {
  try {
    await createApi(token).get("/webhooks", { limit: 1 });
    return { ok: true };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return { ok: false, message: error.message };
    if (error instanceof ApiError && error.status !== 0) return { ok: true };
    return { ok: false, message: error.message };
  }
}
