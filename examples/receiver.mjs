// A webhook receiver that verifies statehook's signatures with the official
// Standard Webhooks library. The same file runs under Node, Bun and Deno:
//   npm install standardwebhooks
//   WEBHOOK_SECRET=whsec_... node receiver.mjs      (or: bun receiver.mjs)
//   WEBHOOK_SECRET=whsec_... deno run --allow-net --allow-env receiver.mjs
// It answers 204 to a request signed with the secret (at most 5 minutes old)
// and 400 to anything else.
import { Buffer } from "node:buffer";
import { createServer } from "node:http";
import process from "node:process";
import { Webhook } from "standardwebhooks";

const webhook = new Webhook(process.env.WEBHOOK_SECRET);
const port = Number(process.env.PORT ?? 9000);

const server = createServer(async (request, response) => {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString("utf8"); // verify the exact bytes received
  try {
    const event = webhook.verify(body, request.headers);
    console.log(request.headers["webhook-id"], event.type, JSON.stringify(event.data));
    response.writeHead(204).end();
  } catch (error) {
    console.log("refused:", error.message);
    response.writeHead(400).end();
  }
});
server.listen(port, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${server.address().port}`));
