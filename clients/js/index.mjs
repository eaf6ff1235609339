// hts-client for Node: the SDK in hts_realtime/static/hts-client.js (the same file the
// dashboard loads in the browser) with Node's socket.io-client plugged in.
//
//   import { HttpClient, Stream } from "./clients/js/index.mjs";
//
// Types: index.d.mts. See README.md in this directory.
import { io } from "socket.io-client";
import { Stream as BaseStream } from "../../hts_realtime/static/hts-client.js";

export {
  AUTH_CODES, HtsError, HttpClient, LocalStorageStore, MemoryStore, newKey, PRIVATE_EVENTS,
  SERVER_EVENTS,
} from "../../hts_realtime/static/hts-client.js";

/** A Stream using Node's socket.io-client (override with opts.io). */
export class Stream extends BaseStream {
  constructor(opts = {}) {
    super({ io, ...opts });
  }
}
