// The JS SDK's order views, paging, 정정 and the recent-trades snapshot, as a Node app
// would use them: ordersPage follows X-Next-Cursor, amendOrder is safe to retry.
// Input: {"url", "token", "price"}  -> result
import { HttpClient } from "../../clients/js/index.mjs";
import { input, run } from "./harness.mjs";

const { url, token, price } = input;

run(async () => {
  const api = new HttpClient({ url, token });
  const placed = [];
  for (let i = 0; i < 5; i++) {
    placed.push((await api.placeOrder({ symbol: "005930", side: "buy", order_type: "limit",
                                        quantity: 1, price })).order_id);
  }
  const pages = [];
  let cursor;
  do {
    const page = await api.ordersPage({ view: "open", day: "today", limit: 2, cursor });
    pages.push(page.orders.map((o) => o.order_id));
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  const amended = await api.amendOrder(placed[0], { quantity: 3 }, { idempotencyKey: "js-amend" });
  const again = await api.amendOrder(placed[0], { quantity: 3 }, { idempotencyKey: "js-amend" });
  const old = await api.order(placed[0]);
  const open = await api.orders({ view: "open" });
  for (const o of open) await api.cancelOrder(o.order_id);
  const tape = await api.trades("005930", { limit: 3 });
  return { placed, pages, amended, again_id: again.order_id, old_status: old.status,
           old_replaced_by: old.replaced_by, open_ids: open.map((o) => o.order_id),
           all_plain: (await api.orders()).length, tape };
});
