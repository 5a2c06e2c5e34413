// masto (npm) in daily use against a running instance, for tests/mastodon/test_clients_daily.py.
//   node daily.mjs post URL TOKEN IMAGE TEXT   -> the status, with the image attached
//   node daily.mjs home URL TOKEN LIMIT        -> {"pages": [[ids of page 1], [page 2], ...]}
//   node daily.mjs react URL TOKEN STATUS_ID   -> {"favourited", "reblog"}
//   node daily.mjs notifications URL TOKEN     -> the notifications
//   node daily.mjs stream URL TOKEN            -> the first `update` on the user stream
// Prints one JSON document on stdout; an error exits non-zero with the message on stderr.
import { readFile } from "node:fs/promises";
import { createRestAPIClient, createStreamingAPIClient } from "masto";

const [command, url, accessToken, ...rest] = process.argv.slice(2);
const client = createRestAPIClient({ url, accessToken });

async function main() {
  if (command === "post") {
    const [image, text] = rest;
    const bytes = await readFile(image);
    const media = await client.v2.media.create({
      file: new Blob([bytes], { type: "image/jpeg" }),
      description: "masto upload",
    });
    return await client.v1.statuses.create({ status: text, mediaIds: [media.id] });
  }
  if (command === "home") {
    const pages = [];
    for await (const page of client.v1.timelines.home.list({ limit: Number(rest[0]) })) {
      pages.push(page.map((status) => status.id));
      if (pages.length > 10) break;
    }
    return { pages };
  }
  if (command === "react") {
    const [id] = rest;
    const favourited = await client.v1.statuses.$select(id).favourite();
    const reblog = await client.v1.statuses.$select(id).reblog();
    return { favourited, reblog };
  }
  if (command === "notifications") {
    return await client.v1.notifications.list();
  }
  if (command === "stream") {
    const instance = await client.v2.instance.fetch();
    const streaming = createStreamingAPIClient({
      streamingApiUrl: instance.configuration.urls.streaming,
      accessToken,
      retry: false,
    });
    const subscription = streaming.user.subscribe();
    try {
      for await (const event of subscription) {
        if (event.event === "update") return event.payload;
      }
    } finally {
      subscription.unsubscribe();
      streaming.close();
    }
  }
  throw new Error(`unknown command ${command}`);
}

main().then(
  (result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  },
  (error) => {
    console.error(error.stack || String(error));
    process.exit(1);
  },
);
