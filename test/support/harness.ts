// One test file's world for the tests that run the service as a process: a
// private database, a receiver, and every service started through it, all
// stopped by a single after() hook. Set up at load time, because bun's
// node:test ignores a hook's timeout option.
import { after } from "node:test";
import { testDatabase } from "./database.ts";
import { type Handler, startReceiver } from "./receiver.ts";
import { type Service, type ServiceOptions, startService } from "./service.ts";

export async function serviceHarness(options: { dbMax?: number; handler?: Handler; stopMs?: number } = {}) {
  const db = await testDatabase(options.dbMax ? { max: options.dbMax } : {});
  const receiver = await startReceiver(options.handler);
  const services: Service[] = [];
  after(async () => {
    await Promise.all(services.map((s) => s.stop(options.stopMs ?? 2000)));
    await receiver.close();
    await db.close();
  });
  return {
    db,
    receiver,
    async start(serviceOptions: ServiceOptions): Promise<Service> {
      const service = await startService(serviceOptions);
      services.push(service);
      return service;
    },
  };
}
