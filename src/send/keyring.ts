// Signing keys by webhook id, imported once per secret. Claims feed it the
// current secret, so a rotation takes effect on the next claim; the delivery
// actors only ever see a webhook id, which keeps secrets out of actor state
// and out of the inspector.
import { importSigningKey } from "./signing.ts";

export type Keyring = {
  remember(webhookId: string, secret: string): void;
  key(webhookId: string): Promise<CryptoKey>;
  /** Drops the key of an endpoint that has not been claimed for a while; its next claim brings the secret again. */
  forget(webhookId: string): void;
};

export function createKeyring(): Keyring {
  const keys = new Map<string, { secret: string; key: Promise<CryptoKey> }>();
  return {
    remember(webhookId, secret) {
      if (keys.get(webhookId)?.secret === secret) return;
      const key = importSigningKey(secret);
      key.catch(() => {}); // reported when a delivery asks for it
      keys.set(webhookId, { secret, key });
    },
    key(webhookId) {
      const entry = keys.get(webhookId);
      return entry ? entry.key : Promise.reject(new Error(`no signing key for webhook ${webhookId}`));
    },
    forget(webhookId) {
      keys.delete(webhookId);
    },
  };
}
