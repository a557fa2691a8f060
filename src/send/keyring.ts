// Signing keys by webhook id, imported once per secret. Claims feed it the
// current secret (and, during a rotation's grace period, the previous one,
// which signs too), so a rotation takes effect on the next claim; the
// delivery actors only ever see a webhook id, which keeps secrets out of
// actor state and out of the inspector.
import { importSigningKey } from "./signing.ts";

export type Keyring = {
  remember(webhookId: string, secret: string, previousSecret?: string | null): void;
  /** The current key. */
  key(webhookId: string): Promise<CryptoKey>;
  /** The current key, then the previous one while the grace period lasts. */
  keys(webhookId: string): Promise<CryptoKey[]>;
  /** Drops the key of an endpoint that has not been claimed for a while; its next claim brings the secret again. */
  forget(webhookId: string): void;
};

export function createKeyring(): Keyring {
  const keys = new Map<string, { secrets: string; key: Promise<CryptoKey[]> }>();
  const keysOf = (webhookId: string) => {
    const entry = keys.get(webhookId);
    return entry ? entry.key : Promise.reject(new Error(`no signing key for webhook ${webhookId}`));
  };
  return {
    remember(webhookId, secret, previousSecret = null) {
      const secrets = previousSecret === null ? secret : `${secret} ${previousSecret}`;
      if (keys.get(webhookId)?.secrets === secrets) return;
      const key = Promise.all([secret, ...(previousSecret === null ? [] : [previousSecret])].map(importSigningKey));
      key.catch(() => {}); // reported when a delivery asks for it
      keys.set(webhookId, { secrets, key });
    },
    key: async (webhookId) => (await keysOf(webhookId))[0],
    keys: keysOf,
    forget(webhookId) {
      keys.delete(webhookId);
    },
  };
}
