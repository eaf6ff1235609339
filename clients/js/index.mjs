// hts-client for Node: the SDK in hts-client.js (the same file the dashboard loads in
// the browser as /static/hts-client.js; in a checkout a symlink to
// hts_realtime/static/hts-client.js, in the npm package a copy) with Node's
// socket.io-client plugged in.
//
//   import { HttpClient, Stream } from "hts-client";          // npm install hts-client-0.1.0.tgz
//   import { HttpClient, Stream } from "./clients/js/index.mjs";   // in this repository
//
// Types: index.d.mts. See README.md in this directory.
import { io } from "socket.io-client";
import { Stream as BaseStream } from "./hts-client.js";

export {
  AUTH_CODES, HtsError, HttpClient, LocalStorageStore, MemoryStore, newKey, PRIVATE_EVENTS,
  SERVER_EVENTS,
} from "./hts-client.js";

/** A Stream using Node's socket.io-client (override with opts.io). */
export class Stream extends BaseStream {
  constructor(opts = {}) {
    super({ io, ...opts });
  }
}
