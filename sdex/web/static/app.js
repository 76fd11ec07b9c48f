// The SDEX node page: live book, fills, network, and trading from the browser.
//
// Plain ES module, no build step. Everything comes from this node: the public API (/v1/...,
// /health, /metrics), the websocket /v1/ws for live events, /web/status for the chain head
// and settlements in flight, /web/dev-wallets on a devnet node started with --dev-wallets;
// only the account's funds (and a dev account's on-chain cancel) go to the wallet's own RPC.
// Orders are signed with ethers (served by the node from node_modules) or by an injected
// EIP-1193 wallet (eth_signTypedData_v4). Every value from the network is shown as text.

import {
  InputError, buildOrder, cmp, fmtAmount, fmtPrice, frac, parseDecimal, priceOf, randomSalt,
  whyWords,
} from "./units.js";

let ethers = null;
const NO_ETHERS = "the signing library is missing on this node (run `npm ci` where the node runs)";
try {
  ethers = await import("/static/vendor/ethers.js");
} catch (e) {
  // said by start() (banner needs `$`, not defined yet: calling it here threw, and the page
  // never started)
}

const OPEN = new Set(["open", "partially_filled", "unfunded"]);
const DEVNET_CHAINS = new Set([31337, 1337]); // (sdex.deployment.DEVNET_CHAIN_IDS)
const MAX_FILLS = 50;
const MAX_MY_ORDERS = 100;
const TAIL_PAGES = 20; // (pages read at most past the page before the last: listingTail)
const OPEN_PAGES = 4; // (pages of OPEN_PER_PAGE read at most past the first of a status: openOrdersOf)
const OPEN_PER_PAGE = 1000; // (5,000 open orders of a status at most: as sdex.walletfunds reads)

const S = {
  config: null,
  markets: [], // {name, base, quote, baseToken, quoteToken, baseDecimals, quoteDecimals}
  market: null,
  fills: [], // trades, newest first
  seenFills: new Set(), // transactionHash:logIndex
  fees: new Map(), // a fill event's feeKey -> the fee its order paid (BigInt): noteFee
  orderCache: new Map(), // hash -> order JSON
  orders: new Map(), // hash -> order JSON, once known (the book's "settling" marks)
  mine: new Map(), // hash -> {order, metaData}
  openCut: [], // {status, read}: a status whose open orders were not all read (openOrdersOf)
  stamp: 0, // one clock for my orders' HTTP asks and websocket events
  shownAt: new Map(), // hash -> stamp of what "my orders" shows of it
  outcomes: new Map(), // hash -> what matching did with an order posted from this page
  account: null, // {kind: "dev"|"injected", address, wallet?}
  dev: null, // {rpc, accounts}
  devReason: "", // why /web/dev-wallets serves none
  status: null,
  chainState: undefined, // the node's /health `chain` at the last read ("ok", "unreachable", ...)
  rates: [], // the network panel's reads of the order counts, {at, orders, submitted}, oldest first
  peersFrom: null, // the last /health answer: its gossip peers (renderPeers)
};

// ---- tiny DOM helpers ------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "onclick") el.addEventListener("click", v);
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "title" || k === "role" || k === "type") el.setAttribute(k, v);
    else el[k] = v;
  }
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function banner(text) {
  const b = $("banner");
  b.textContent = text;
  b.hidden = !text;
}

/** A URL as text that folds, where a column is too narrow for it, only after its "://" and
 * before its ":port" (user48: a phone's peers column folded "http://127.0.0.1:2800" / "2",
 * read as port 2800); a host too long for the column still folds where it must. */
const foldUrl = (url) => String(url).split(/(?<=:\/\/)|(?=:\d+(?:\/.*)?$)/).flatMap((w, i) => (i ? [h("wbr"), w] : [w]));
const short = (hex, head = 8) => (typeof hex === "string" && hex.length > 14 ? `${hex.slice(0, head)}…${hex.slice(-4)}` : String(hex));
/** An address as users read it everywhere, EIP-55 checksummed as `sdex balance` and `sdex order`
 * say it (users89: the page said them in lower case); as given without ethers. */
const addr = (a) => { try { return ethers && typeof a === "string" ? ethers.getAddress(a) : String(a); } catch { return String(a); } };
const same = (a, b) => typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();

/** How long a read, and a posted order, may wait for the node's answer (user30: a node that
 * took the connection but never answered, hung or paused, left the page "live" with no
 * banner, and a placed order with nothing said, for as long as it hung). */
const READ_TIMEOUT_MS = 8000;
// (above a node's worst case, left77; since users83 a node answers within 9.5 s of the POST's
// arrival, its read and its commit wait included; an answer later still is read back, ``readBack``)
const POST_TIMEOUT_MS = 20000;
const noAnswer = (e) => e instanceof TypeError || e?.name === "TimeoutError" || e?.name === "AbortError";

async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
  const body = await r.json().catch(() => null);
  if (!r.ok) {
    const retryAfter = Math.min(60, Number(r.headers.get("Retry-After")) || 1);
    throw Object.assign(new Error(body?.reason || `${path}: HTTP ${r.status}`), { body, status: r.status, retryAfter });
  }
  return body;
}

async function postJSON(path, obj) {
  const r = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(obj),
    signal: AbortSignal.timeout(POST_TIMEOUT_MS),
  });
  const body = await r.json().catch(() => null);
  return { status: r.status, body };
}

// ---- markets and the book ------------------------------------------------------------

function marketsFrom(config) {
  return config.pairs.map((name) => {
    const [base, quote] = name.split("/");
    const b = config.tokens[base];
    const q = config.tokens[quote];
    return {
      name, base, quote,
      baseToken: b.address.toLowerCase(), quoteToken: q.address.toLowerCase(),
      baseDecimals: b.decimals, quoteDecimals: q.decimals,
      // the node's minimum order size of each (base units; an older node lists none)
      baseMin: minAmount(b), quoteMin: minAmount(q),
    };
  });
}

/** A token's minAmount from order_config as a BigInt; 0n when absent or not a uint. */
function minAmount(token) {
  const v = token.minAmount;
  return typeof v === "string" && /^[0-9]{1,78}$/.test(v) ? BigInt(v) : 0n;
}

/** The market and side of an order JSON, or null if it is on no listed pair. */
function sideOf(order) {
  const mt = order.makerToken.toLowerCase();
  const tt = order.takerToken.toLowerCase();
  for (const m of S.markets) {
    if (mt === m.quoteToken && tt === m.baseToken) return { market: m, side: "buy" };
    if (mt === m.baseToken && tt === m.quoteToken) return { market: m, side: "sell" };
  }
  return null;
}

/** {base, quote} units an order gives and takes, from the base token's point of view. */
function baseQuote(side, makerAmount, takerAmount) {
  return side === "buy" ? [BigInt(takerAmount), BigInt(makerAmount)] : [BigInt(makerAmount), BigInt(takerAmount)];
}

function orderPrice(order, side, m) {
  const [b, q] = baseQuote(side, order.makerAmount, order.takerAmount);
  return priceOf(b, q, m.baseDecimals, m.quoteDecimals);
}

function renderPairs() {
  const tabs = $("pairs");
  tabs.replaceChildren(
    ...S.markets.map((m) =>
      h("button", {
        type: "button", role: "tab", "data-pair": m.name,
        onclick: () => { S.market = m; renderPairs(); renderUnits(); selectBook(); refreshFunds(); },
      }, m.name),
    ),
  );
  for (const b of tabs.children) b.setAttribute("aria-selected", String(b.dataset.pair === S.market?.name));
}

// The book is kept by price level from the node's book events on /v1/ws (README "Book
// events"): a snapshot on subscribing, then updates numbered by `seq`; a gap, a reconnect or
// another pair asks for a fresh snapshot. While the socket is down, /v1/depth (the same
// snapshot over HTTP) is read every few seconds instead. A row is a level: its price, what
// it offers (the node's exact sum), the running total and a depth bar; the page marks the
// levels of its own open orders (from "my orders") and those with a settlement in flight
// (from /web/status). Per-order data (each order's hash, a count of orders) is not in the
// events, and /v1/orderbook's pages of orders cost the node and this client's listing
// budget a record an order on every read: the page no longer reads them.
const BOOK_POLL_MS = 2000;
const B = {
  ws: null, // the open socket, or null
  pair: null, // "base/quote" token addresses (lowercase) the socket follows
  seq: null, // the last applied seq (null: waiting for a snapshot)
  bids: new Map(), // "num/den" -> amount (BigInt), token units
  asks: new Map(),
  poll: null, // the /v1/depth timer while the socket is down
};

const pairKey = (m) => `${m.baseToken}/${m.quoteToken}`;

/** Follow the selected pair on the socket (a fresh snapshot: also after a gap). */
function subscribeBook() {
  const m = S.market;
  const ws = B.ws;
  if (!m || !ws || ws.readyState !== WebSocket.OPEN) return;
  if (B.pair && B.pair !== pairKey(m)) {
    const [baseToken, quoteToken] = B.pair.split("/");
    ws.send(JSON.stringify({ op: "unsubscribe", channel: "book", baseToken, quoteToken }));
  }
  B.pair = pairKey(m);
  B.seq = null;
  ws.send(JSON.stringify({ op: "subscribe", channel: "book", baseToken: m.baseToken, quoteToken: m.quoteToken }));
}

/** Another pair was chosen: show nothing of the old one, then follow the new one. */
function selectBook() {
  B.bids.clear();
  B.asks.clear();
  B.seq = null;
  renderBook();
  if (B.ws) subscribeBook();
  else pollDepth();
}

/** Levels into ``map``: key -> {key, n, d, amount, size} (n/d: the key's quote per base in
 * token units; size: what it offers in base units), parsed once here, not at every draw. */
function setLevels(map, levels, side) {
  for (const lv of levels) {
    if (!Array.isArray(lv) || typeof lv[0] !== "string" || typeof lv[1] !== "string") continue;
    const parts = /^([0-9]{1,78})\/([0-9]{1,78})$/.exec(lv[0]);
    if (!parts || !/^[0-9]{1,78}$/.test(lv[1])) continue; // (not the node's level)
    const [n, d, amount] = [BigInt(parts[1]), BigInt(parts[2]), BigInt(lv[1])];
    if (amount > 0n && n > 0n && d > 0n) {
      // an ask offers base; a bid offers quote: its base is amount × den / num
      map.set(lv[0], { key: lv[0], n, d, amount, size: side === "buy" ? (amount * d) / n : amount });
    } else map.delete(lv[0]);
  }
}

/** A snapshot (from the socket or /v1/depth) of the selected pair: the whole book. */
function takeSnapshot(ev) {
  B.bids.clear();
  B.asks.clear();
  setLevels(B.bids, ev.bids, "buy");
  setLevels(B.asks, ev.asks, "sell");
  B.seq = ev.seq;
  renderBook();
}

/** A book event from the socket. */
function onBookEvent(ev) {
  const m = S.market;
  if (!m || `${String(ev.baseToken).toLowerCase()}/${String(ev.quoteToken).toLowerCase()}` !== pairKey(m)) return;
  if (ev.event === "snapshot") {
    takeSnapshot(ev);
  } else if (ev.event === "update") {
    if (B.seq === null || ev.seq <= B.seq) return; // before our snapshot
    if (ev.seq !== B.seq + 1) { subscribeBook(); return; } // missed one: start again
    setLevels(B.bids, ev.bids, "buy");
    setLevels(B.asks, ev.asks, "sell");
    B.seq = ev.seq;
    renderBook();
  }
}

/** While the socket is down: the selected pair's depth over HTTP, every BOOK_POLL_MS. */
async function pollDepth() {
  clearTimeout(B.poll);
  B.poll = null;
  const m = S.market;
  if (B.ws || !m) return;
  let wait = BOOK_POLL_MS;
  const askedAt = performance.now();
  try {
    const body = await getJSON(`/v1/depth?baseToken=${m.baseToken}&quoteToken=${m.quoteToken}`);
    if (nodeAnswers(true, askedAt) && m === S.market && !B.ws) takeSnapshot(body);
  } catch (e) {
    readFailed(e, askedAt);
    if (e.retryAfter) wait = Math.max(wait, 1000 * e.retryAfter);
  }
  if (!B.ws && !B.poll) B.poll = setTimeout(pollDepth, wait);
}

const levelKey = (n, d) => { const p = frac(n, d); return `${p.n}/${p.d}`; };

/** The node's level key ("num/den": quote per base, token units, reduced) of an order. */
function orderLevel(o, side) {
  return side === "buy" ? levelKey(BigInt(o.makerAmount), BigInt(o.takerAmount)) : levelKey(BigInt(o.takerAmount), BigInt(o.makerAmount));
}

/** The levels of a side drawn (ui80: every level of the node's snapshot was a row: at 5,000 a
 * side the page was 238,000 px tall, "My orders" under them all, and each book update held it
 * for seconds): the best BOOK_LEVELS, fewer on a phone's width, where the form comes after the
 * book; a line says the rest (``moreRow``). */
const BOOK_LEVELS = 25;
const BOOK_LEVELS_PHONE = 10;
const PHONE = window.matchMedia("(max-width: 600px)");
PHONE.addEventListener("change", () => renderBook());
const bookLevels = () => (PHONE.matches ? BOOK_LEVELS_PHONE : BOOK_LEVELS);

/** The best ``cap`` levels of the selected pair's side, best first: {shown: [{key, price,
 * size (base units), mine, pending}], more: {count, size, mine}} (the levels not drawn: how
 * many, what they offer in base units, how many hold my open orders). One pass over the
 * levels, each compared by its key's fraction (quote per base in token units, ordered as the
 * price is): a deep book costs no sort of it all. */
function levels(map, side, m, cap) {
  const mine = new Set();
  for (const rec of S.mine.values()) {
    const so = OPEN.has(rec.metaData.status) && sideOf(rec.order);
    if (so && so.market === m && so.side === side) mine.add(orderLevel(rec.order, side));
  }
  const pending = new Set();
  for (const s of S.status?.inFlight ?? []) {
    for (const match of s.matches ?? []) {
      for (const hash of [match.restingOrderHash, match.incomingOrderHash]) {
        const o = hash && S.orders.get(String(hash).toLowerCase());
        if (hash && !o) orderOf(hash).then((got) => { if (got) renderBook(); });
        const so = o && sideOf(o);
        if (so && so.market === m && so.side === side) pending.add(orderLevel(o, side));
      }
    }
  }
  // a bid (quote per base) is better higher, an ask lower
  const better = (a, b) => (side === "buy" ? a.n * b.d > b.n * a.d : a.n * b.d < b.n * a.d);
  const more = { count: 0, size: 0n, mine: 0 };
  const hide = (l) => {
    more.count++;
    more.size += l.size;
    if (mine.has(l.key)) more.mine++;
  };
  const best = [];
  for (const l of map.values()) {
    if (best.length >= cap && !better(l, best[best.length - 1])) { hide(l); continue; }
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (better(l, best[mid])) hi = mid;
      else lo = mid + 1;
    }
    best.splice(lo, 0, l);
    if (best.length > cap) hide(best.pop());
  }
  const shown = best.map((l) => ({
    key: l.key, price: priceOf(l.d, l.n, m.baseDecimals, m.quoteDecimals), size: l.size,
    mine: mine.has(l.key), pending: pending.has(l.key),
  }));
  return { shown, more };
}

/** A level's size for the eye: a bid's base is its quote over the price, often 18 decimals
 * long ("11.596006539730134932" pushed the book past a phone's width: user27), so it is
 * shown by the prices' rule ("~11.59600654"); the exact amount is the cell's title and the
 * row's data-size. */
function fmtSize(units, decimals) {
  return fmtPrice(frac(BigInt(units), 10n ** BigInt(decimals)));
}

/** The line for the levels of a side not drawn ("7 more ask levels above, not drawn: 0.007
 * WETH in all; 1 of them holds your orders"), or null when every level is drawn. */
function moreRow(more, side, m) {
  if (!more.count) return null;
  const which = side === "sell" ? "ask" : "bid";
  const said = `${more.count} more ${which} level${more.count === 1 ? "" : "s"} ${side === "sell" ? "above" : "below"}, not drawn: ` +
    `${fmtSize(more.size, m.baseDecimals)} ${m.base} in all` +
    (more.mine ? `; ${more.mine} of them hold${more.mine === 1 ? "s" : ""} your orders` : "");
  return h("tr", { class: "more", "data-side": side },
    h("td", { colSpan: 4, class: "muted more", title: `${fmtAmount(more.size, m.baseDecimals)} ${m.base}` }, said));
}

function renderBook() {
  const m = S.market;
  if (!m) return;
  const cap = bookLevels();
  const { shown: asks, more: asksMore } = levels(B.asks, "sell", m, cap);
  const { shown: bids, more: bidsMore } = levels(B.bids, "buy", m, cap);
  const cum = (lvls) => { let t = 0n; return lvls.map((l) => (t += l.size)); };
  const askCum = cum(asks);
  const bidCum = cum(bids);
  const max = [...askCum, ...bidCum].reduce((a, b) => (b > a ? b : a), 1n);
  const row = (l, total, side) => {
    const bar = h("div", { class: "depth" });
    bar.style.width = `${Number((total * 1000n) / max) / 10}%`;
    // (a screen reader hears the side, which the page shows by colour and place only)
    const said = `${side === "sell" ? "ask" : "bid"} ${fmtPrice(l.price)} ${m.quote}, ` +
      `${fmtSize(l.size, m.baseDecimals)} ${m.base}, total ${fmtSize(total, m.baseDecimals)}` +
      (l.mine ? ", includes your order" : "") + (l.pending ? ", settling" : "");
    return h("tr", {
      "aria-label": said,
      class: [l.mine ? "mine" : "", l.pending ? "pending" : ""].join(" ").trim(),
      "data-side": side, "data-price": fmtPrice(l.price), "data-level": l.key,
      "data-size": fmtAmount(l.size, m.baseDecimals),
      title: l.mine ? "includes your order" : undefined,
    },
      h("td", { class: "num price" }, fmtPrice(l.price)),
      h("td", { class: "num", title: fmtAmount(l.size, m.baseDecimals) }, fmtSize(l.size, m.baseDecimals)),
      h("td", { class: "num", title: fmtAmount(total, m.baseDecimals) }, fmtSize(total, m.baseDecimals)),
      h("td", {}, bar),
    );
  };
  // (the asks worst first, the best by the spread: the line for those not drawn on top)
  const askMoreRow = moreRow(asksMore, "sell", m);
  const bidMoreRow = moreRow(bidsMore, "buy", m);
  $("asks").replaceChildren(...(askMoreRow ? [askMoreRow] : []), ...asks.map((l, i) => row(l, askCum[i], "sell")).reverse());
  $("bids").replaceChildren(...bids.map((l, i) => row(l, bidCum[i], "buy")), ...(bidMoreRow ? [bidMoreRow] : []));
  let spread = "empty book";
  if (asks.length && bids.length) {
    const s = frac(asks[0].price.n * bids[0].price.d - bids[0].price.n * asks[0].price.d, asks[0].price.d * bids[0].price.d);
    spread = `spread ${fmtPrice(s)} ${m.quote}`;
  } else if (asks.length || bids.length) {
    spread = asks.length ? "no bids" : "no asks";
  }
  $("spread").textContent = spread;
}

// ---- fills ------------------------------------------------------------------------------

/** The order a fill names, or null if this node never held it (then the match's other
 * fill event, whose order it does hold, makes the row). */
async function orderOf(hash) {
  hash = hash.toLowerCase();
  if (!S.orderCache.has(hash)) {
    S.orderCache.set(hash, getJSON(`/web/orders?hash=${hash}`).then((r) => {
      const o = r[hash]?.order ?? null;
      if (o) S.orders.set(hash, o);
      return o;
    }).catch(() => {
      S.orderCache.delete(hash); // (refused, e.g. 503 while the node is busy: asked again later)
      return null;
    }));
  }
  return S.orderCache.get(hash);
}

/** One trade per match: the two OrderFilled events of a match (one per order, each naming
 * the other's maker as taker) become one row with the seller and the buyer. */
async function addFill(f) {
  const id = `${f.transactionHash}:${f.logIndex}`;
  if (S.seenFills.has(id)) return;
  S.seenFills.add(id);
  noteFee(f);
  const order = await orderOf(f.orderHash);
  if (!S.seenFills.has(id)) return; // reverted (or the list rebuilt) while we asked
  const so = order && sideOf(order);
  if (!so) return;
  const { market: m, side } = so;
  const [base, quote] = baseQuote(side, f.makerAmountFilled, f.takerAmountFilled);
  const seller = side === "sell" ? f.maker : f.taker;
  const buyer = side === "sell" ? f.taker : f.maker;
  const key = `${f.transactionHash}|${seller.toLowerCase()}|${buyer.toLowerCase()}|${base}`;
  const existing = S.fills.find((t) => t.key === key && t.sides.has(side) === false);
  if (existing) {
    existing.sides.add(side);
    existing.ids.add(id);
    renderFills(); // (its fee, if this side paid one)
    return;
  }
  S.fills.push({
    key, ids: new Set([id]), sides: new Set([side]), tx: f.transactionHash, block: Number(f.blockNumber), logIndex: Number(f.logIndex),
    market: m, price: priceOf(base, quote, m.baseDecimals, m.quoteDecimals), base, quote, seller, buyer, fresh: true,
  });
  S.fills.sort((a, b) => b.block - a.block || b.logIndex - a.logIndex);
  S.fills.length = Math.min(S.fills.length, MAX_FILLS);
  renderFills();
}

/** The fee each fill event says its order paid (``feePaid``, in what that order receives),
 * by the event's own words (transaction, maker, taker, both amounts): a trade row finds its
 * seller's and its buyer's there, also the fill of an order this node never held (user62:
 * "Recent fills" showed no fee, so a fee taken by the node was seen nowhere on the page). */
const FEE_KEYS = 4 * MAX_FILLS;
function feeKey(tx, maker, taker, gave, got) {
  return `${tx}|${maker}|${taker}|${gave}|${got}`.toLowerCase();
}
function noteFee(f) {
  let fee;
  try { fee = BigInt(f.feePaid ?? "0"); } catch { return; }
  S.fees.set(feeKey(f.transactionHash, f.maker, f.taker, f.makerAmountFilled, f.takerAmountFilled), fee);
  while (S.fees.size > FEE_KEYS) S.fees.delete(S.fees.keys().next().value);
  if (fee && S.fills.some((t) => t.tx === f.transactionHash)) renderFills();
}

/** A trade row's fees: the seller's, in the quote it receives, and the buyer's, in base. */
function feeCell(t) {
  const m = t.market;
  const sides = [
    [S.fees.get(feeKey(t.tx, t.seller, t.buyer, t.base, t.quote)), m.quoteDecimals, m.quote, "the seller"],
    [S.fees.get(feeKey(t.tx, t.buyer, t.seller, t.quote, t.base)), m.baseDecimals, m.base, "the buyer"],
  ];
  // a side whose fill this page has not seen (yet: its event comes next; or never, an order
  // this node does not hold) is "?", never read as no fee
  const said = sides.filter(([fee]) => fee !== 0n)
    .map(([fee, dec, sym, who]) => [fee === undefined ? "?" : `${fmtAmount(fee, dec)} ${sym}`, who]);
  // (each amount whole; a narrow column folds between them: a phone's, at 390 px)
  const parts = said.length ? said.flatMap(([v], i) => (i ? [" + ", h("span", {}, v)] : [h("span", {}, v)])) : ["0"];
  const title = said.length
    ? `paid by ${said.map(([v, who]) => `${who} ${v === "?" ? "(its fill not known to this node)" : v}`).join(" and ")}, each from what it receives`
    : "no fee";
  return h("td", { class: "num fee", title }, ...parts);
}

/** A fill the chain undid (a reorg or a reset: the node's fill event ``reverted``): its
 * trade row goes, as the node's /v1/fills no longer has it; mined again, it comes back. */
function dropFill(f) {
  const id = `${f.transactionHash}:${f.logIndex}`;
  S.seenFills.delete(id);
  const kept = S.fills.filter((t) => !t.ids.has(id));
  if (kept.length === S.fills.length) return;
  for (const t of S.fills) if (t.ids.has(id)) for (const other of t.ids) S.seenFills.delete(other);
  S.fills = kept;
  renderFills();
}

function renderFills() {
  const me = S.account?.address;
  if (!S.fills.length) {  // (an empty table's headings alone read as a broken page)
    $("fills").tBodies[0].replaceChildren(h("tr", {}, h("td", { colSpan: 8, class: "muted" }, "no fills yet")));
    return;
  }
  $("fills").tBodies[0].replaceChildren(
    ...S.fills.map((t) => {
      const tr = h("tr", { "data-tx": t.tx, class: [t.fresh ? "flash" : "", same(t.seller, me) || same(t.buyer, me) ? "mine" : ""].join(" ").trim() },
        h("td", { class: "num" }, t.block),
        h("td", { class: "mono", title: t.tx }, short(t.tx, 6)),
        h("td", {}, t.market.name),
        h("td", { class: "num" }, fmtPrice(t.price)),
        h("td", { class: "num" }, `${fmtAmount(t.base, t.market.baseDecimals)} ${t.market.base}`),
        h("td", { class: "mono", title: addr(t.seller) }, short(addr(t.seller), 6)),
        h("td", { class: "mono", title: addr(t.buyer) }, short(addr(t.buyer), 6)),
        feeCell(t),
      );
      t.fresh = false;
      return tr;
    }),
  );
}

/** The node's latest fills, read afresh: the list is rebuilt, so a fill undone while the
 * page was away (a reorg, or a chain reset while the node restarted) does not linger. */
async function loadFills() {
  S.fills = [];
  S.seenFills.clear();
  S.fees.clear();
  const per = 2 * MAX_FILLS; // (two fill events a match)
  const q = `/v1/fills?perPage=${per}`;
  const records = await listingTail(q, per, await getJSON(`${q}&page=1`));
  for (const f of records) await addFill(f);
  renderFills(); // (none at all: the rows shown before go too)
}

// ---- network ----------------------------------------------------------------------------

function ago(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return v == null ? "—" : String(v);
  const secs = v > 1e9 ? Date.now() / 1000 - v : v; // unix seconds, or seconds ago
  return secs < 1 ? "now" : secs < 120 ? `${Math.round(secs)} s ago` : `${Math.round(secs / 60)} min ago`;
}

function metricSum(text, name) {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(name) && (line[name.length] === "{" || line[name.length] === " ")) {
      const v = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (Number.isFinite(v)) total += v;
    }
  }
  return total;
}

const CHAIN_TROUBLE = {
  unreachable: "this node cannot reach its chain",
  behind: "this node's chain endpoint is behind the blocks it has seen (a lagging backend)",
  "wrong-chain": "this node's chain endpoint is another chain, or has no Exchange (a reset devnet not deployed again)",
  failing: "this node cannot follow its chain",
};

/** /health answers 503 with its body while the chain is not "ok": say so, above everything
 * (the websocket to the node stays live, so the badge alone would say all is well). */
function showChain(health) {
  const b = $("chain-banner");
  const ok = health.chain === "ok";
  b.dataset.chain = String(health.chain);
  b.hidden = ok;
  const problem = String(health.chainMirror?.problem ?? "").slice(0, 300); // (the node's words)
  b.textContent = ok ? "" : `${CHAIN_TROUBLE[health.chain] ?? `this node's chain is ${health.chain}`}` +
    (problem ? ` (${problem})` : "") + ": " +
    "orders that need a chain read are refused and nothing settles until it is back; the chain head below is the last one seen.";
}

/** When the node was last found not answering at all (fetch fails: stopped, restarting,
 * unreachable), or null while it answers; when the websocket closed, or null while open. */
let nodeDownSince = null;
let socketDownSince = null;
const SOCKET_DOWN_SAID_MS = 3000; // (a restart's reconnect takes less: no banner flashes)

/** When the request that last said whether the node answers was sent (performance.now()). */
let nodeAskedAt = -Infinity;

/** Whether the node answers (any answer, even a 503, is one): while it does not, say so
 * above everything and mark what it sent last stale. The badge alone ("reconnecting") left
 * the book, "My orders", a chain head with "lag 0 blocks" and peers "last seen now" looking
 * live for as long as the node stayed down. ``askedAt``: when the request that says so was
 * sent; one sent before the request that said otherwise says nothing of now (flaky80: a read
 * the stopping node answered late, as it does those in flight, took down the banner a later
 * refused read had put up, and the page said the node answered till its next read).
 * Returns whether what such a read brought may be shown: not when a later request found the
 * node down (flake95: the late answer's chain lag, "0 blocks", and order rate were written
 * over the stale marks, and read as live under the banner for as long as the node stayed
 * down: those are marked once, as it goes down). */
function nodeAnswers(ok, askedAt = performance.now()) {
  if (askedAt < nodeAskedAt) return document.body.dataset.node !== "down";
  nodeAskedAt = askedAt;
  const state = ok ? "up" : "down";
  if (document.body.dataset.node === state) return true;
  document.body.dataset.node = state;
  if (ok) {
    nodeDownSince = null;
    if ($("err-form").textContent.startsWith("could not reach the node")) $("err-form").textContent = "";
  } else {
    nodeDownSince = new Date();
    S.rates = []; // (no rate across the gap)
    for (const id of ["lag", "orders-rate"]) $(id).textContent = "—";
  }
  showNodeState();
  showFormState();
  renderPeers();
  return true;
}

let posting = false; // (an order being signed or posted: "Place order" waits for it)

/** The order form usable only with an account and a node that answers, and why not next to
 * "Place order" (ux49: while the node was down the form and Buy/Sell stayed enabled, for a
 * post that could only fail). The fields keep what was typed. */
function showFormState() {
  const down = nodeDownSince !== null;
  for (const el of $("order-form").elements) if (el.id !== "submit") el.disabled = down;
  $("submit").disabled = down || posting || !S.account;
  $("submit-why").textContent = down
    ? `no orders while this node does not answer (since ${utcTime(nodeDownSince)}): the form comes back with it`
    : "";
}

/** The peers as the node last said them; while it does not answer, when each was last seen
 * is not known (ux49: "now", dimmed, for as long as the node stayed down): "unknown: node
 * down", the time the node last saw it in the cell's title. */
function renderPeers() {
  const health = S.peersFrom;
  if (!health) return;
  const peers = health.gossip?.peers ?? [];
  const seen = (p) => {
    const v = p.lastSeen ?? p.last_seen ?? null;
    if (nodeDownSince === null) return h("td", {}, ago(v));
    const at = typeof v === "number" && v > 1e9 ? `last seen at ${utcTime(new Date(v * 1000))} as the node last said` : "";
    return h("td", { title: at }, "unknown: node down");
  };
  $("peers").tBodies[0].replaceChildren(
    ...(peers.length
      ? peers.map((p) =>
          h("tr", { class: p.banned ? "muted" : "" },
            h("td", { class: "mono", title: p.key ?? "" }, p.key ? short(p.key) : "—"),
            h("td", { class: "mono", title: p.url }, ...foldUrl(p.url)),
            h("td", { class: "num" }, p.banned ? `${p.score} (banned)` : p.score),
            seen(p),
            h("td", { class: "num" }, p.received ?? "—"),
          ))
      : [h("tr", {}, h("td", { colSpan: 5, class: "muted" }, health.gossip ? "no peers yet" : "gossip is off on this node"))]),
  );
}

/** The websocket opened (true) or closed (false). While it is down and the node answers,
 * the book is read every few seconds but "My orders" and the fills move only with the
 * socket's events: said once it has been down a few seconds. */
function socketOpen(open) {
  if (open) socketDownSince = null;
  else if (socketDownSince === null) {
    socketDownSince = new Date();
    setTimeout(showNodeState, SOCKET_DOWN_SAID_MS + 50);
  }
  showNodeState();
}

/** A time as the node and `sdex order` say it, "07:50:56 UTC" (the browser's locale, "7:50:56
 * AM", put a second clock beside the chain banner's: user31). */
function utcTime(d) {
  return d.toISOString().slice(11, 19) + " UTC";
}

/** The banner and ``body[data-node]``/``[data-socket]`` from what is known of the node. */
function showNodeState() {
  const b = $("node-banner");
  const socketDown = socketDownSince !== null && Date.now() - socketDownSince.getTime() >= SOCKET_DOWN_SAID_MS;
  document.body.dataset.socket = socketDown ? "down" : "live";
  let text = "";
  if (nodeDownSince) {
    text = `this node does not answer (since ${utcTime(nodeDownSince)}): the book, your orders, ` +
      "the fills and the network figures below are the last it sent, not live; the page reconnects by itself.";
  } else if (socketDown) {
    text = `the live connection to this node is down (since ${utcTime(socketDownSince)}, reconnecting): ` +
      "the book is read from it every few seconds, but your orders and the fills below are as they were then " +
      "until it is back.";
  }
  b.hidden = !text;
  b.textContent = text;
}

/** A failed read: no answer at all (fetch's TypeError), or none in READ_TIMEOUT_MS, means
 * the node is not there. */
function readFailed(e, askedAt) {
  if (noAnswer(e)) nodeAnswers(false, askedAt);
}

/** The rate of orders over the last RATE_WINDOW_MS or a little more (ux51: over the 0.5-2 s
 * between two reads, an order posted 4 s before read "0.0 (0.0 posted here)"): from the
 * newest read at least that old, with the count it is made of; none over less than 1 s. */
const RATE_WINDOW_MS = 10_000;
function ordersRate(read) {
  const reads = S.rates;
  reads.push(read);
  while (reads.length > 2 && read.at - reads[1].at >= RATE_WINDOW_MS) reads.shift();
  const first = reads[0];
  const span = (read.at - first.at) / 1000;
  if (span < 1) return "—"; // (ux70: two reads 0.3 s apart read "... in the last 0 s")
  const got = Math.max(0, read.orders - first.orders); // (a pruned book counts fewer)
  const posted = Math.max(0, read.submitted - first.submitted);
  return `${(got / span).toFixed(1)} (${(posted / span).toFixed(1)} posted here) · ` +
    `${got} order${got === 1 ? "" : "s"} in the last ${Math.round(span)} s`;
}

let networkReading = false; // (a hung node's reads are not piled up, one every 2 s)
async function refreshNetwork() {
  if (networkReading) return;
  networkReading = true;
  const askedAt = performance.now();
  try {
    const read = (path) => fetch(path, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
    const [health, status, metrics] = await Promise.all([
      read("/health").then((r) => r.json()), getJSON("/web/status"), read("/metrics").then((r) => r.text()),
    ]);
    if (!nodeAnswers(true, askedAt)) return; // (of before the node was found down)
    showChain(health);
    const settling = JSON.stringify(status.inFlight);
    const moved = settling !== JSON.stringify(S.status?.inFlight);
    // (user81: by its hash too: a reorg that mined as many blocks as it undid, or a chain
    // reset back to the same height, left the number as it was, and the funds line the old
    // branch's balances)
    const newBlock = status.head !== S.status?.head || status.headHash !== S.status?.headHash;
    // (ui80: while the chain was unreachable the head stood still, and the funds line went on
    // saying the last figures read as the wallet's; read them again as the chain goes or
    // comes back: a read that fails says so)
    const chainMoved = S.chainState !== undefined && S.chainState !== health.chain;
    S.chainState = health.chain;
    S.status = status;
    if (newBlock || chainMoved) refreshFunds(); // (a fill, a transfer, an approval)
    if (moved) renderBook(); // (its levels with a settlement in flight)
    const now = performance.now();
    const submitted = metricSum(metrics, "sdex_orders_submitted_total");
    $("orders-rate").textContent = ordersRate({ at: now, orders: health.orders, submitted });
    $("orders-known").textContent = `${health.orders} (${health.openOrders} open)`;
    $("settle-sent").textContent = `${health.settlementsSent} tx · ${health.matchesSettled} ${health.matchesSettled === 1 ? "match" : "matches"} settled · ${health.matchesFailed} failed`;
    $("head").textContent = status.head;
    $("checkpoint").textContent = status.checkpoint;
    $("lag").textContent = `${status.lag} block${status.lag === 1 ? "" : "s"}`;
    S.peersFrom = health;
    renderPeers();
    $("inflight").tBodies[0].replaceChildren(
      ...(status.inFlight.length
        ? status.inFlight.map((s) =>
            h("tr", { "data-tx": s.txHash },
              h("td", { class: "mono", title: s.txHash }, short(s.txHash)),
              h("td", { class: "num" }, s.nonce),
              h("td", { class: "num" }, s.matches.length),
            ))
        : [h("tr", {}, h("td", { colSpan: 3, class: "muted" }, "none"))]),
    );
  } catch (e) {
    readFailed(e, askedAt); // (the node is restarting or gone: said; try again next tick)
  } finally {
    networkReading = false;
  }
}

// ---- accounts ---------------------------------------------------------------------------

async function loadDevWallets() {
  const dev = await getJSON("/web/dev-wallets");
  if (!dev.enabled) {
    S.devReason = typeof dev.reason === "string" ? dev.reason : "";
    return;
  }
  S.dev = dev;
  const sel = $("dev-account");
  // (each by its index in the deployment file: the node leaves out the operators' accounts)
  sel.append(...dev.accounts.map((a, i) => {
    const o = h("option", { value: a.address }, `#${a.index ?? i} ${addr(a.address)}`);
    o.dataset.index = String(a.index ?? i);
    return o;
  }));
  sel.hidden = false;
  labelDevAccounts();
  window.addEventListener("resize", labelDevAccounts);
  sel.addEventListener("change", () => {
    const a = dev.accounts.find((x) => x.address === sel.value);
    if (!a) return setAccount(null);
    if (!ethers) return fieldErrors({ account: NO_ETHERS });
    setAccount({ kind: "dev", address: a.address.toLowerCase(), wallet: new ethers.Wallet(a.key) });
  });
}

/** Each dev account's whole address where the select has room for it, else "#3 0x90f7…b906"
 * (user29: at 320-440 px the select cut the address mid-way; the chosen account's whole
 * address is said under it). ``data-width``: the width it was labelled for. */
function labelDevAccounts() {
  const sel = $("dev-account");
  if (sel.hidden || !sel.clientWidth) return;
  const cs = getComputedStyle(sel);
  const ctx = (labelDevAccounts.canvas ??= document.createElement("canvas")).getContext("2d");
  ctx.font = cs.font;
  const room = sel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 24;  // (24: the arrow)
  const opts = [...sel.options].slice(1);
  const whole = opts.every((o) => ctx.measureText(`#${o.dataset.index} ${addr(o.value)}`).width <= room);
  opts.forEach((o) => { o.textContent = `#${o.dataset.index} ${whole ? addr(o.value) : short(addr(o.value), 6)}`; });
  sel.dataset.width = String(sel.clientWidth);
}

async function connectInjected() {
  fieldErrors({});
  try {
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    const chain = await window.ethereum.request({ method: "eth_chainId" });
    if (BigInt(chain) !== BigInt(S.config.chainId)) {
      return fieldErrors({ account: `the wallet is on chain ${BigInt(chain)}, this node settles on chain ${S.config.chainId}: switch networks` });
    }
    if (!accounts?.length) return fieldErrors({ account: "the wallet gave no account" });
    setAccount({ kind: "injected", address: String(accounts[0]).toLowerCase() });
  } catch (e) {
    fieldErrors({ account: `wallet: ${e.message || e}` });
  }
}

/** The wallet switched accounts after connecting (EIP-1193 ``accountsChanged``): the page
 * follows it, or lets the account go when the wallet gives none (user63: it went on showing
 * the funds and orders of, and signing for, the account it had). */
function onWalletAccounts(accounts) {
  if (S.account?.kind !== "injected") return;
  const next = Array.isArray(accounts) && accounts.length ? String(accounts[0]).toLowerCase() : "";
  if (next === S.account.address) return;
  if (!/^0x[0-9a-f]{40}$/.test(next)) {
    setAccount(null);
    return fieldErrors({ account: "the wallet gave no account: connect it again to trade" });
  }
  fieldErrors({});
  setAccount({ kind: "injected", address: next });
}

/** The wallet switched networks (EIP-1193 ``chainChanged``): another chain than the node's
 * lets the account go, said as connecting says it. */
function onWalletChain(chain) {
  if (S.account?.kind !== "injected") return;
  let id = null;
  try { id = BigInt(chain); } catch { /* not a chain id */ }
  if (id === BigInt(S.config.chainId)) return;
  setAccount(null);
  fieldErrors({ account: `the wallet is on chain ${id ?? String(chain).slice(0, 80)}, this node settles on chain ${S.config.chainId}: switch networks and connect again` });
}

function setAccount(acc) {
  S.account = acc;
  $("account").textContent = acc ? `${acc.kind === "dev" ? "dev account" : "wallet"} ${addr(acc.address)}` : "no account";
  showFormState();
  S.mine.clear();
  S.openCut = [];
  S.shownAt.clear();
  renderMyOrders();
  renderBook();
  renderFills();
  F.read = null;
  refreshFunds();
  if (acc) loadMyOrders();
}

/** Sign EIP-712 typed data with the current account: (domain, types without EIP712Domain). */
async function signTyped(primaryType, types, message) {
  const acc = S.account;
  const domain = S.config.domain;
  if (acc.kind === "dev") return acc.wallet.signTypedData(domain, { [primaryType]: types[primaryType] }, message);
  const data = { types: { EIP712Domain: S.config.types.EIP712Domain, ...types }, primaryType, domain, message };
  return window.ethereum.request({ method: "eth_signTypedData_v4", params: [acc.address, JSON.stringify(data)] });
}

// ---- funds ------------------------------------------------------------------------------

// What the account holds of the selected pair's two tokens, what it lets the Exchange take
// (the ERC-20 allowance), what its open orders at this node already offer, and so what a new
// order can still be backed by (user62: the page showed no balance, so a wallet learnt it
// could not pay only after posting). Read from the chain through the wallet's own RPC (the
// devnet's for a dev account, the injected wallet's `eth_call` otherwise), at each new block.
const UNLIMITED = 1n << 128n; // (an allowance this large: "unlimited", as max-uint approvals are)
const ERC20 = { balanceOf: "0x70a08231", allowance: "0xdd62ed3e" };
const word = (address) => address.toLowerCase().replace(/^0x/, "").padStart(64, "0");
const F = { reading: false, again: false, read: null }; // read: {key, tokens: {sym: {balance, allowance}}} | {key, error}

/** One ``eth_call`` through the account's RPC: a uint256 answer as a BigInt (anything else,
 * or no answer within READ_TIMEOUT_MS, throws). */
async function chainUint(to, data) {
  let result;
  if (S.account.kind === "dev") {
    const r = await fetch(S.dev.rpc, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_call", params: [{ to, data }, "latest"] }),
      signal: AbortSignal.timeout(READ_TIMEOUT_MS),
    });
    if (!r.ok) throw new Error(`the chain's RPC answered HTTP ${r.status}`);
    const body = await r.json();
    if (body?.error) throw new Error(String(body.error.message ?? "the chain refused the read").slice(0, 200));
    result = body?.result;
  } else {
    result = await window.ethereum.request({ method: "eth_call", params: [{ to, data }, "latest"] });
  }
  if (typeof result !== "string" || !/^0x[0-9a-fA-F]{1,64}$/.test(result)) throw new Error("the chain's answer is not a uint256");
  return BigInt(result);
}

const fundsKey = () => (S.account && S.market ? `${S.account.address}|${S.market.name}` : "");

/** Read the account's balance and allowance of the pair's tokens (one read at a time; a read
 * asked meanwhile runs once the one in progress ends). */
async function refreshFunds() {
  if (!S.account || !S.market || !S.config) return renderFunds();
  if (F.reading) { F.again = true; return; }
  F.reading = true;
  const key = fundsKey();
  const m = S.market;
  const owner = S.account.address;
  try {
    const tokens = {};
    for (const [sym, token] of [[m.base, m.baseToken], [m.quote, m.quoteToken]]) {
      const [balance, allowance] = await Promise.all([
        chainUint(token, ERC20.balanceOf + word(owner)),
        chainUint(token, ERC20.allowance + word(owner) + word(S.config.exchange)),
      ]);
      tokens[sym] = { balance, allowance };
    }
    F.read = { key, tokens };
  } catch (e) {
    F.read = { key, error: e.shortMessage || e.message || String(e) };
  } finally {
    F.reading = false;
  }
  renderFunds();
  if (F.again || key !== fundsKey()) { F.again = false; refreshFunds(); }
}

/** What the account's open orders at this node still offer of ``token`` (base units). */
function inOpenOrders(token) {
  let sum = 0n;
  for (const { order, metaData: meta } of S.mine.values()) {
    if (!OPEN.has(meta.status) || !same(order.makerToken, token)) continue;
    try { sum += BigInt(meta.remainingMakerAmount ?? order.makerAmount); } catch { /* not an amount */ }
  }
  return sum;
}

/** Each of the pair's tokens: {sym, decimals, balance, allowance, held, free} (BigInt), or
 * null while not read for this account and pair. */
function fundsNow() {
  const m = S.market;
  if (!m || F.read?.key !== fundsKey() || !F.read.tokens) return null;
  return [[m.base, m.baseToken, m.baseDecimals], [m.quote, m.quoteToken, m.quoteDecimals]].map(([sym, token, decimals]) => {
    const { balance, allowance } = F.read.tokens[sym];
    const held = inOpenOrders(token);
    const usable = balance < allowance ? balance : allowance;
    const partial = S.openCut.length > 0; // (held: at least; free: at most)
    return { sym, token, decimals, balance, allowance, held, partial, free: usable > held ? usable - held : 0n };
  });
}

function renderFunds() {
  const el = $("funds");
  if (!S.account || !S.market) { el.hidden = true; el.replaceChildren(); return; }
  el.hidden = false;
  if (F.read?.key === fundsKey() && F.read.error) {
    el.replaceChildren(h("div", { class: "low" }, `funds: could not read the chain (${F.read.error}); read again at the next block`));
    return;
  }
  const funds = fundsNow();
  if (!funds) { el.replaceChildren(h("div", { class: "muted" }, "funds: reading the chain…")); return; }
  if (S.config && $("price").value && $("amount").value) preview(true); // (its note on what is free)
  const note = cutNote(S.openCut);
  el.replaceChildren(...funds.map((f) => {
    const amt = (v) => `${fmtAmount(v, f.decimals)}`;
    const [least, most] = f.partial ? ["at least ", "at most "] : ["", ""];
    const approved = f.allowance >= UNLIMITED ? "unlimited" : amt(f.allowance);
    return h("div", {
      "data-token": f.sym, "data-balance": String(f.balance), "data-allowance": String(f.allowance),
      "data-held": String(f.held), "data-free": String(f.free), "data-partial": String(f.partial),
      title: `free for new orders: the smaller of the wallet's ${f.sym} and what it lets the Exchange take, less what its open orders at this node still offer`,
    },
    h("b", {}, f.sym), `: ${amt(f.balance)} in the wallet · approved for the Exchange: ${approved} · in your open orders here: ${least}${amt(f.held)} · `,
    h("span", { class: f.free ? "" : "low" }, `free for new orders: ${most}${amt(f.free)}`),
    f.allowance === 0n ? h("span", { class: "low" }, ` (approve the Exchange ${addr(S.config.exchange)} to spend ${f.sym} to sell it)`) : "");
  }), ...(note ? [h("div", { class: "low", id: "funds-cut" }, note)] : []));
}

/** The preview's note for an order larger than the wallet's free funds of what it offers. */
function fundsNote(order) {
  const funds = fundsNow();
  const f = funds?.find((x) => same(x.token, order.makerToken));
  if (!f || BigInt(order.makerAmount) <= f.free) return "";
  return ` · the wallet has ${f.partial ? "at most " : ""}${fmtAmount(f.free, f.decimals)} ${f.sym} free for new orders (see above): the book would offer only that much of it`;
}

// ---- trading ----------------------------------------------------------------------------

const FIELD_OF = {
  makerAmount: "amount", takerAmount: "amount", feeAmount: "amount", amount: "amount",
  price: "price", timeInForce: "tif", tif: "tif", expiry: "expiry",
  maker: "account", signature: "account", account: "account",
};

/** Show errors next to their fields: {field: message}; an empty object clears them. */
function fieldErrors(errors) {
  for (const f of ["price", "amount", "tif", "expiry", "account", "form"]) {
    $(`err-${f}`).textContent = errors[f] ?? "";
    const input = $(f);
    if (input) input.setAttribute("aria-invalid", String(Boolean(errors[f])));
  }
}

/** An API error body → field errors (its validationErrors, each next to the field it names). */
function apiErrors(body, status) {
  const out = {};
  if (body?.rejection === "EXPIRED") {  // (user27: it read "expiry: expiry 1796417203 is not
    // after the latest block", a number; `sdex order` says what happened and what to do)
    // (user48: "not after the chain's latest block" of an expiry that was; the node names the
    // earliest it takes now, so say the seconds that do, as `sdex order` says its --expiry)
    const said = (body.validationErrors ?? []).map((v) => v.reason).join(" ");
    const bound = /is not after (\d{1,20}),/.exec(said);
    const need = bound ? `at least ${Number(bound[1]) - Math.floor(Date.now() / 1000) + 5}` : "more";
    out.expiry = "the order expired before the node took it: its expiry is not after what the " +
      "node takes now (the chain's clock runs ahead of this one, or it is too short); " +
      `nothing was posted: give it ${need} seconds`;
    return out;
  }
  if (body?.rejection === "SELF_TRADE") {  // (user28: it read "maker: it would trade with the
    // same maker's resting order 0x…", under the account, a whole hash and no next step)
    const own = (body.validationErrors ?? []).map((e) => /0x[0-9a-fA-F]{64}/.exec(e.reason ?? "")?.[0]).find(Boolean);
    // (user31: "would trade with" read wrong when better orders of others were ahead: the
    // node refuses any order whose price crosses one of its maker's own)
    out.form = `this order's price crosses your own resting order${own ? " " + short(own) : ""} ` +
      "(an account never trades with itself, even behind others' better orders): cancel that order " +
      "or change the price; nothing was posted";
    return out;
  }
  if (body?.rejection === "CHAIN_UNAVAILABLE") {  // (user38: it read "order: the node does not
    // follow the chain now: ...", a field name first; said as the chain banner says it)
    out.form = "this node cannot follow its chain now (the banner above says why): the order " +
      "was refused and nothing was posted; try again once the chain is back";
    return out;
  }
  for (const e of body?.validationErrors ?? []) {
    const f = FIELD_OF[e.field] ?? "form";
    // ("order" names the whole order, no field: its reason alone, user38)
    const said = e.field === "order" ? e.reason : `${e.field}: ${e.reason}`;
    out[f] = (out[f] ? out[f] + "; " : "") + said;
  }
  if (!Object.keys(out).length) out.form = `${body?.reason ?? "the node refused"} (HTTP ${status})`;
  return out;
}

function side() {
  return document.querySelector('input[name="side"]:checked').value;
}

function renderUnits() {
  const m = S.market;
  if (!m) return;
  $("price-unit").textContent = `${m.quote} per ${m.base}`;
  $("amount-unit").textContent = m.base;
  // the book's columns in their units too (user38: "Price", "Size", "Total" said none)
  $("book-price-unit").textContent = ` (${m.quote})`;
  for (const id of ["book-size-unit", "book-total-unit"]) $(id).textContent = ` (${m.base})`;
  $("submit").textContent = `${side() === "buy" ? "Buy" : "Sell"} ${m.base}`;
  $("submit").classList.toggle("sell", side() === "sell");
  preview();
}

/** The exact order the inputs make (or the input errors), without signing it. A field not
 * typed yet is no error while the user types (user29: an empty Price was flagged in red while
 * the amount was typed first), only when the order is placed (``placing``). */
function draft(placing = false) {
  const m = S.market;
  const errors = {};
  let price, amount, expirySecs, missing = false;
  const typed = (id, name, said) => {
    if ($(id).value.trim()) return parseDecimal($(id).value, name, id);
    missing = true;
    if (placing) errors[id] = `enter ${said}`;
  };
  try { price = typed("price", "PRICE", "a price"); } catch (e) { errors.price = e.message; }
  try { amount = typed("amount", "AMOUNT", "an amount"); } catch (e) { errors.amount = e.message; }
  const ex = $("expiry").value.trim();
  if (/^[0-9]{11,}$/.test(ex)) { // (ux70: said "not a positive number" of 99999999999)
    errors.expiry = `the expiry is at most 9999999999 seconds (over 300 years), got '${ex.length > 30 ? ex.slice(0, 30) + "…" : ex}'`;
  } else if (!/^[0-9]{1,10}$/.test(ex) || Number(ex) <= 0) errors.expiry = "the expiry must be a positive number of seconds";
  else expirySecs = BigInt(ex);
  if (missing || Object.keys(errors).length) return { errors };
  try {
    const expiry = BigInt(Math.floor(Date.now() / 1000)) + expirySecs;
    const maker = S.account?.address ?? "0x" + "00".repeat(20);
    return { order: buildOrder(S.config, m, side(), price, amount, maker, expiry, randomSalt()), errors };
  } catch (e) {
    if (e instanceof InputError) return { errors: { [e.field]: e.message } };
    throw e;
  }
}

/** ``quiet``: the text alone, the fields' errors left as they are (new funds read). */
function preview(quiet = false) {
  const m = S.market;
  const { order, errors } = draft();
  if (quiet !== true) fieldErrors(errors);  // (also with nothing typed: an error put right goes, user29)
  if (!$("price").value && !$("amount").value) {
    // nothing typed: the node's minimum order size, so the first order is not refused for it
    const least = m ? [[m.baseMin, m.baseDecimals, m.base], [m.quoteMin, m.quoteDecimals, m.quote]]
      .filter(([v]) => v > 0n).map(([v, d, sym]) => `${fmtAmount(v, d)} ${sym}`) : [];
    $("preview").textContent = least.length ? `this node's minimum order size: ${least.join(" and ")}` : "";
    return;
  }
  if (!order) { $("preview").textContent = ""; return; }
  const buy = side() === "buy";
  // in `sdex order`'s words (user38: a sell read "you give at most 0.1 WETH for 200 USDC")
  const [base, quote] = buy ? [order.takerAmount, order.makerAmount] : [order.makerAmount, order.takerAmount];
  const said = `${side()} ${fmtAmount(base, m.baseDecimals)} ${m.base} for ${buy ? "at most" : "at least"} ` +
    `${fmtAmount(quote, m.quoteDecimals)} ${m.quote}`;
  const fee = BigInt(order.feeAmount)
    ? ` · fee ${fmtAmount(order.feeAmount, buy ? m.baseDecimals : m.quoteDecimals)} ${buy ? m.base : m.quote} (${S.config.feeBps} bps)`
    : "";
  // the signed limit where the quote's decimals move it, as `sdex order` notes it (user28: a
  // buy at 1999.999999 showed as 1999.99 in "My orders" with nothing said before)
  const limit = orderPrice(order, side(), m);
  const typed = parseDecimal($("price").value, "PRICE", "price");
  const moved = cmp(limit, typed) !== 0
    ? ` · whole ${m.quote} units move the signed limit from ${fmtPrice(typed)} to ${fmtPrice(limit)}, in your favour`
    : "";
  $("preview").textContent = `${said}${fee}${moved}${fundsNote(order)}`;
}

async function placeOrder(ev) {
  ev.preventDefault();
  if (!S.account) return fieldErrors({ account: "choose an account first" });
  // until this one is posted, the line under the form is the previous order's (user29: after
  // a refusal it read as the refused order's fate)
  $("last-order").dataset.previous = "1";
  renderMyOrders();
  const { order, errors } = draft(true);
  if (!order) return fieldErrors(errors);
  fieldErrors({});
  posting = true;
  showFormState();
  try {
    let signature;
    try {
      signature = await signTyped("Order", { Order: S.config.types.Order }, order);
    } catch (e) {
      return fieldErrors({ account: `signing failed: ${e.message || e}` });
    }
    const body = { ...order, signature, timeInForce: $("tif").value };
    const asked = ++S.stamp;
    // (its hash: the order is read back by it when the node's answer does not come, left77)
    const ours = ethers ? ethers.TypedDataEncoder.hash(S.config.domain, { Order: S.config.types.Order }, order) : null;
    let r;
    const posting = "posting the order to the node…";
    $("notice").textContent = posting;
    try {
      r = await postJSON("/v1/orders", body);
    } catch (e) {
      // (not the wallet's fault: it signed; the node is down, restarting, unreachable or hung)
      const late = noAnswer(e) && e.name !== "TypeError";
      const why = late ? `no answer within ${POST_TIMEOUT_MS / 1000} s` : (e.message || e);
      if (!ours) return fieldErrors({ form: `could not reach the node (${why}): the order may not have been posted; "My orders" lists it once the node has it` });
      // (the order sent: what the read finds is said until the next order, not cleared as
      // "could not reach the node" is once the node answers again)
      const said = late ? `the node did not answer within ${POST_TIMEOUT_MS / 1000} s` : `could not reach the node (${why})`;
      return await readBack(order, signature, ours, said, asked);
    } finally {
      if ($("notice").textContent === posting) $("notice").textContent = "";
    }
    // (a 503 naming the order: the node took it into its book, its row not yet stored)
    if (r.status === 503 && ours && same(r.body?.orderHash, ours)) {
      return await readBack(order, signature, ours, `the node answered HTTP 503: ${r.body?.reason}`, asked, true);
    }
    if (r.status >= 300) return fieldErrors(apiErrors(r.body, r.status));
    const hash = r.body.orderHash;
    if (ours && ours !== hash) fieldErrors({ form: `the node reports hash ${hash}, we computed ${ours}` });
    S.outcomes.set(hash, { outcome: r.body.outcome, matched: Array.isArray(r.body.matches) && r.body.matches.length > 0 });
    $("last-order").dataset.hash = hash;
    delete $("last-order").dataset.previous;
    // (the answer's amounts too: the line under the form says what rests and what filled)
    const meta = r.body.metaData && typeof r.body.metaData === "object" ? r.body.metaData : {};
    const reason = typeof meta.reason === "string" ? meta.reason : "";
    setMine({ order: { ...order, signature }, metaData: { filledMakerAmount: "0", ...meta, orderHash: hash, status: r.body.status, reason } }, asked);
    renderMyOrders();
    refreshOrder(hash);
  } finally {
    posting = false;
    showFormState();
  }
}

/** An order posted whose answer did not come (``said``: why), or came 503 naming it held but
 * not stored (``unstored``), read back by its hash (the page signed it, so it knows it), as
 * ``sdex order`` does (review77b), and what is true said: held, it was taken, and shown as
 * posted ("the order may not have been posted" had a user sign it again: two orders
 * resting, left77); not held, or not read, that, with the hash to look up. */
async function readBack(order, signature, hash, said, asked, unstored = false) {
  const h = hash.toLowerCase();
  let rec;
  try {
    rec = (await getJSON(`/web/orders?hash=${h}`))?.[h];
  } catch (e) {
    const why = noAnswer(e) ? `no answer within ${READ_TIMEOUT_MS / 1000} s` : (e.message || e);
    return fieldErrors({ form: `${said}; reading order ${hash} back failed too (${why}): it may have been posted; "My orders" lists it once the node has it (placing it again signs another order)` });
  }
  const sent = (o) => o && typeof o === "object" && Object.keys(order).every((k) => String(o[k]).toLowerCase() === String(order[k]).toLowerCase());
  if (!rec) {
    return fieldErrors({ form: `${said}, and it does not hold order ${hash} (yet: it may still be judging it; "My orders" lists it if it takes it; placing it again signs another order)` });
  }
  if (!sent(rec.order) || !same(rec.metaData?.orderHash, hash)) {
    return fieldErrors({ form: `${said}; asked for order ${hash}, the node answered with another order's record` });
  }
  const held = unstored
    ? "read back, it holds the order: it was taken, not yet stored (a restart of the node before it stores it would lose it)"
    : "but it holds the order: it was taken (read back)";
  fieldErrors({ form: `${said}${unstored ? "; " : ", "}${held}` });
  $("last-order").dataset.hash = hash;
  delete $("last-order").dataset.previous;
  setMine({ order: { ...order, signature }, metaData: { filledMakerAmount: "0", ...rec.metaData, orderHash: hash } }, asked);
  renderMyOrders();
}

/** What matching did with a posted order ({outcome, matched} from the node's answer), in
 * the words ``sdex order`` uses: the status alone says "removed" for an IOC that met
 * nothing or whose unmatched rest was dropped (its filled amount says what traded),
 * "partially_filled" for a taker matched in full whose settlement is not mined.
 * (A resting order's status says enough, and changes as it trades.) An IOC or FOK that
 * met nothing for the node's landing time has the node's reason after the words, as
 * ``sdex order`` has it (left53: "dropped: the orders it crosses expire within …"). */
function outcomeWords(posted, meta) {
  const words = matchingWords(posted, meta);
  const why = typeof meta.reason === "string" ? meta.reason : "";
  const { outcome, matched } = posted;
  if (words && !matched && (outcome === "dropped" || outcome === "killed") && why.startsWith(`${outcome}: `)) {
    return `${words} — ${why.slice(outcome.length + 2)}`;
  }
  return words;
}

function matchingWords({ outcome, matched }, meta) {
  const status = meta.status;
  switch (outcome) {
    case "filled": {
      if (status === "filled") return "matched in full";
      // its match no longer in flight, and the order not filled: the settlement failed (a
      // lost transaction, a maker who moved the funds). "settlement pending" stayed next to
      // "removed" (user27): an IOC is closed then, a GTC rests again
      const pending = BigInt(meta.pendingMakerAmount ?? "1");
      if (pending > 0n) return "matched in full, settlement pending on chain";
      const traded = BigInt(meta.filledMakerAmount ?? "0") > 0n ? "part settled" : "nothing traded";
      if (OPEN.has(status)) return `settlement failed, ${traded}; the order rests in the book`;
      return `settlement failed, ${traded}` + (meta.reason ? `: ${meta.reason}` : "");
    }
    case "dropped": return matched ? "partly matched; the unmatched rest was dropped (ioc)" : "no match: dropped (ioc), nothing traded";
    case "killed": return "killed (fok): it could not be matched in full now; nothing traded";
    case "expired": return "expired: it was not matched";
    default: return "";
  }
}

/** An order of mine as an HTTP answer had it (asked at stamp ``asked``), unless what is
 * shown is newer: a websocket event that came after the ask (the node publishes one for
 * every change), or the answer to a later ask (after a reconnect, an older answer can
 * arrive last). An answer that crossed either must not undo it. */
function setMine(rec, asked) {
  const hash = rec.metaData.orderHash;
  if ((S.shownAt.get(hash) ?? 0) > asked) return;
  S.shownAt.set(hash, asked);
  S.mine.set(hash, rec);
}

async function refreshOrder(hash) {
  try {
    // (/web/orders answers null, not a 404, for an order this node never held: a fill's
    // taker matched in full on another node is never gossiped)
    const h = hash.toLowerCase();
    const asked = ++S.stamp;
    const rec = (await getJSON(`/web/orders?hash=${h}`))[h];
    if (rec && S.account && same(rec.order.maker, S.account.address)) {
      setMine(rec, asked);
      renderMyOrders();
    }
  } catch (e) { /* not known (yet) */ }
}

/** The account's newest orders (the API lists a maker's orders oldest first, closed ones
 * included: the first page of a busy maker would show none of its open orders). Shown in
 * the listing's order (arrival), then those an event or this page showed since the ask and
 * the listing did not have: newer still (placed after its last page was read). */
async function loadMyOrders() {
  const acc = S.account;
  try {
    const asked = ++S.stamp;
    const q = `/v1/orders?maker=${acc.address}&perPage=${MAX_MY_ORDERS}`;
    const [records, open] = await Promise.all([
      getJSON(`${q}&page=1`).then((first) => listingTail(q, MAX_MY_ORDERS, first)),
      openOrdersOf(acc.address),
    ]);
    if (acc !== S.account) return;
    // the open orders older than the newest 100 first (not shown under "My orders", which
    // lists the newest 100, but what they offer is held: the funds line and the book's own
    // levels count them; user63: a maker's 101st-newest open order was counted as free)
    const newest = new Set(records.map((rec) => rec.metaData.orderHash));
    const mine = new Map();
    S.openCut = open.cut;
    for (const rec of [...open.records.filter((rec) => !newest.has(rec.metaData.orderHash)), ...records]) {
      const hash = rec.metaData.orderHash;
      const newer = (S.shownAt.get(hash) ?? 0) > asked; // (an event's state, after the ask)
      if (!newer) S.shownAt.set(hash, asked);
      mine.set(hash, newer ? S.mine.get(hash) ?? rec : rec);
    }
    for (const [hash, rec] of S.mine) if (!mine.has(hash) && (S.shownAt.get(hash) ?? 0) > asked) mine.set(hash, rec);
    S.mine = mine;
    renderMyOrders();
  } catch (e) {
    fieldErrors({ account: `my orders: ${e.message}` });
  }
}

/** Every open order of ``maker`` at this node (open, partially filled or unfunded), each
 * status's listing walked by cursor (a maker holds at most 1,000 open orders: a page or two
 * of each; at most OPEN_PAGES pages read past the first of one): {records, cut}, ``cut``
 * the statuses whose walk stopped with pages left, {status, read: how many were read}
 * (review65: it stopped there silently, and the funds line said a free amount its unread
 * orders may hold; ``cutNote`` says so, in sdex balance's words). */
async function openOrdersOf(maker) {
  const cut = [];
  const lists = await Promise.all([...OPEN].map(async (status) => {
    const q = `/v1/orders?maker=${maker}&status=${status}&perPage=${OPEN_PER_PAGE}`;
    let page = await getJSON(`${q}&page=1`);
    let records = page.records;
    for (let i = 0; page.next != null && i < OPEN_PAGES; i++) {
      page = await getJSON(`${q}&cursor=${encodeURIComponent(page.next)}`);
      records = [...records, ...page.records];
    }
    const mine = records.filter((rec) => rec.metaData?.status === status && same(rec.order?.maker, maker));
    if (page.next != null) cut.push({ status, read: mine.length });
    return mine;
  }));
  return { records: lists.flat(), cut };
}

/** What the funds line says when some open orders were not read (``S.openCut``): the same
 * words as ``sdex balance`` (sdex.walletfunds.cut_note); "" when all were read. */
function cutNote(cut) {
  if (!cut.length) return "";
  const more = cut.map((c) => `${c.read} ${c.status}`).join(", ");
  return `the node lists more than ${more} orders of this wallet (only those were read): in open orders at least, and free at most, what is shown`;
}

/** The newest ``per`` records of the listing ``q`` (oldest first), given its first page
 * (``per`` a page): from the page before the last (by number, as the first page's ``total``
 * says) to the end, following each page's ``next`` until null. Records that arrive while it
 * reads are at the end, where it goes on to (pages by number computed from ``total`` stopped
 * short of them), and none is read twice. */
async function listingTail(q, per, first) {
  const last = Math.max(1, Math.ceil(first.total / per));
  let page = first.next == null || last <= 2 ? first : await getJSON(`${q}&page=${last - 1}`);
  let records = page.records;
  for (let i = 0; page.next != null && i < TAIL_PAGES; i++) {
    page = await getJSON(`${q}&cursor=${encodeURIComponent(page.next)}`);
    records = [...records, ...page.records].slice(-per);
  }
  return records.slice(-per);
}

// A cancel the node took (the order out of its book) but has not stored: the same signed
// cancel sent again after each pause, as `sdex cancel` does (users87: the page showed the 503 as
// an error, the row as it was; the wallet is not asked to sign again)
const UNSTORED_PAUSES_MS = [1000, 2000, 4000];
const unstored = (r, hash) => r.status === 503 && r.body?.orderHash === hash && typeof r.body?.status === "string";

async function softCancel(hash) {
  fieldErrors({});
  try {
    const signature = await signTyped("CancelOrder", { CancelOrder: [{ name: "orderHash", type: "bytes32" }] }, { orderHash: hash });
    let r = await postJSON(`/v1/orders/${hash}/cancel`, { signature });
    let said = null;
    for (const [i, pause] of UNSTORED_PAUSES_MS.entries()) {
      if (!unstored(r, hash)) break;
      refreshOrder(hash);  // (cancelled at the node, in memory)
      said = `the node cancelled ${short(hash)} but has not stored the cancel yet: sending it again (try ${i + 2})`;
      $("notice").textContent = said;
      await new Promise((done) => setTimeout(done, pause));
      r = await postJSON(`/v1/orders/${hash}/cancel`, { signature });
    }
    if (said !== null && $("notice").textContent === said) $("notice").textContent = "";
    if (r.status >= 300 && !unstored(r, hash)) return fieldErrors(apiErrors(r.body, r.status));
    refreshOrder(hash);
    if (r.status >= 300) fieldErrors(apiErrors(r.body, r.status));  // (its reason: what to do)
  } catch (e) {
    fieldErrors({ form: `cancel: ${e.message || e}` });
  }
}

const CANCEL_ABI = [
  "function cancelOrder((address maker,address taker,address makerToken,address takerToken,uint256 makerAmount,uint256 takerAmount,address feeRecipient,uint256 feeAmount,uint64 expiry,uint256 salt) order)",
];

/** Exchange.cancelOrder from the maker's account: permanent, no node can ignore it. */
async function chainCancel(hash) {
  fieldErrors({});
  const rec = S.mine.get(hash);
  if (!rec) return;
  if (!ethers) {
    // (the transaction's calldata is encoded by ethers: without it, say so, send nothing)
    return fieldErrors({ form: `on-chain cancel: ${NO_ETHERS}; cancel here (soft) or with \`sdex cancel ${hash} --onchain\`` });
  }
  const o = rec.order;
  const tuple = [o.maker, o.taker, o.makerToken, o.takerToken, o.makerAmount, o.takerAmount, o.feeRecipient, o.feeAmount, o.expiry, o.salt];
  const data = new ethers.Interface(CANCEL_ABI).encodeFunctionData("cancelOrder", [tuple]);
  const to = S.config.exchange;
  try {
    let tx;
    if (S.account.kind === "dev") {
      const provider = new ethers.JsonRpcProvider(S.dev.rpc, Number(S.config.chainId), { staticNetwork: true });
      const sent = await S.account.wallet.connect(provider).sendTransaction({ to, data });
      tx = sent.hash;
      $("notice").textContent = `on-chain cancel ${short(tx)} sent, waiting for its block`;
      await sent.wait();
    } else {
      tx = await window.ethereum.request({ method: "eth_sendTransaction", params: [{ from: S.account.address, to, data }] });
    }
    $("notice").textContent = `on-chain cancel ${short(tx)} ${S.account.kind === "dev" ? "mined" : "sent"}: the nodes drop the order when they see its block`;
  } catch (e) {
    fieldErrors({ form: `on-chain cancel: ${e.shortMessage || e.message || e}` });
  }
}

/** A resting order larger than its wallet's balance and allowance cover, said as `sdex order`
 * says it (user29: 100000 WETH from a wallet of ~1,000 read only "open"; the book, which
 * never shows more than a maker can pay, offered ~1,000); "" otherwise. */
function uncovered(rec) {
  const meta = rec.metaData;
  const so = sideOf(rec.order);
  if (!so || !OPEN.has(meta.status) || meta.remainingFillableMakerAmount == null || meta.remainingMakerAmount == null) return "";
  let left, fillable;
  try {
    left = BigInt(meta.remainingMakerAmount) - BigInt(meta.pendingMakerAmount ?? "0");
    fillable = BigInt(meta.remainingFillableMakerAmount);
  } catch { return ""; }  // (not amounts: nothing to say)
  if (fillable >= left) return "";
  const m = so.market;
  const [sym, dec] = so.side === "buy" ? [m.quote, m.quoteDecimals] : [m.base, m.baseDecimals];
  const shared = "the wallet's balance and allowance (shared by its open orders)";  // (as sdex.walletui.uncovered_words)
  return fillable === 0n
    ? ` · ${shared} cover none of it now; the book offers none of it until the wallet holds more`
    : ` · ${shared} cover ${fmtAmount(fillable, dec)} ${sym} of it now; the book offers that much, the rest once the wallet holds more`;
}

/** Why an order that is not open or filled stopped, in the node's words, under its status
 * (user60: an IOC that met nothing, a FOK killed, an order evicted or a failed settlement all
 * read "removed" in "My orders", the reason only in the line under the form for the newest
 * order, and gone after a reload); the node's bare outcome words said as `sdex order` says
 * them. Long reasons are cut at WHY_CHARS, whole in the tooltip. */
const WHY_CHARS = 160;
function statusWhy(meta) {
  const why = typeof meta.reason === "string" ? meta.reason.trim() : "";
  if (!why || why === meta.status || ["open", "partially_filled", "filled"].includes(meta.status)) return [];
  const words = whyWords(why);
  const cut = words.length > WHY_CHARS ? `${words.slice(0, WHY_CHARS - 1)}…` : words;
  return [h("span", { class: "why", title: words }, cut)];
}

/** A posted order that rested in the book, said as a user needs it (ux65: "order 0x0f3a…:
 * open" and no more): where it rests, what it is (side, amount, limit price) and how much of
 * it has filled so far, the part being settled said as such, as `sdex order` says them ("rests
 * in the book, no match yet"; "partly matched; the rest rests in the book"). Once closed, the
 * order and what filled; "" for an order whose market the page does not list. */
function restingWords(posted, rec) {
  const meta = rec.metaData;
  const so = sideOf(rec.order);
  if (!so) return "";
  const m = so.market;
  const [base] = baseQuote(so.side, rec.order.makerAmount, rec.order.takerAmount);
  let filled, pending;
  try {
    filled = BigInt(meta.filledMakerAmount ?? "0");
    pending = BigInt(meta.pendingMakerAmount ?? "0");
  } catch { return ""; }  // (not amounts: nothing to say)
  const traded = filled + pending;
  const what = `${so.side} ${fmtAmount(base, m.baseDecimals)} ${m.base} at ${fmtPrice(orderPrice(rec.order, so.side, m))} ${m.quote}/${m.base}`;
  // (a buy fixes the quote it spends: what it spent, as "My orders" says its Filled)
  const of = so.side === "buy"
    ? `${fmtAmount(traded, m.quoteDecimals)} of ${fmtAmount(rec.order.makerAmount, m.quoteDecimals)} ${m.quote} spent`
    : `${fmtAmount(traded, m.baseDecimals)} of ${fmtAmount(base, m.baseDecimals)} ${m.base} filled`;
  const settling = pending > 0n ? `, ${so.side === "buy" ? `${fmtAmount(pending, m.quoteDecimals)} ${m.quote}` : `${fmtAmount(pending, m.baseDecimals)} ${m.base}`} of it settling on chain` : "";
  if (!OPEN.has(meta.status)) return `${what}, ${of}${settling}`;
  const where = "rests in the book" + (meta.status === "unfunded" ? " (unfunded)" : "");
  const head = posted.matched
    ? `partly matched; the rest ${where}`
    : traded > 0n ? `${where}, partly filled` : `${where}, no match yet`;
  return `${head}: ${what}, ${of}${settling}`;
}

/** Where the keyboard's focus is in "My orders", before its rows are drawn again: a function
 * that puts it back on the same order's button once they are, or on its row when that button
 * is gone (ui80: every event of the account's orders drew the table again, and a keyboard user
 * on a `cancel` lost the focus to the page's body: Enter then did nothing). */
function myOrdersFocus() {
  const el = document.activeElement;
  const tr = el && el !== document.body ? el.closest("#my-orders tbody tr[data-hash]") : null;
  if (!tr) return () => {};
  const hash = tr.dataset.hash;
  const button = el.tagName === "BUTTON" ? [...el.classList].find((c) => c.endsWith("-cancel")) : null;
  return () => {
    const row = [...$("my-orders").tBodies[0].rows].find((r) => r.dataset.hash === hash);
    if (!row) return;
    const again = (button && row.querySelector(`button.${button}`)) || row.querySelector("button");
    if (again) return again.focus();
    row.tabIndex = -1; // (focusable by the page only: its buttons gone, the row keeps the place)
    row.focus();
  };
}

function renderMyOrders() {
  const last = $("last-order");
  const lastRec = last.dataset.hash && S.mine.get(last.dataset.hash);
  if (lastRec) {
    const hash = last.dataset.hash;
    const posted = S.outcomes.get(hash);
    const words = !posted ? "" : posted.outcome === "rested" ? restingWords(posted, lastRec) : outcomeWords(posted, lastRec.metaData);
    const which = last.dataset.previous ? "your previous order" : "order";
    // (the hash links to the order's record at the node, whole in its tooltip)
    const link = h("a", { href: `/v1/orders/${encodeURIComponent(hash)}`, target: "_blank", rel: "noopener", title: `${hash}: its record at the node` }, short(hash));
    last.replaceChildren(`${which} `, link, `: ${lastRec.metaData.status}` + (words ? ` (${words})` : "") + uncovered(lastRec));
  }
  const rows = [...S.mine.values()].slice(-MAX_MY_ORDERS).reverse();
  const focus = myOrdersFocus();
  $("my-orders").tBodies[0].replaceChildren(
    ...(rows.length
      ? rows.map((rec) => {
          const o = rec.order;
          const meta = rec.metaData;
          const so = sideOf(o);
          const hash = meta.orderHash;
          const open = OPEN.has(meta.status);
          const m = so?.market;
          const [base] = so ? baseQuote(so.side, o.makerAmount, o.takerAmount) : [0n];
          const filled = BigInt(meta.filledMakerAmount ?? "0");
          // a buy's filledMakerAmount is the quote it spent: at a better price than its limit
          // that bought more base than the quote / limit (user27: 0.75 WETH bought at
          // 2000.123456 showed as "0.749671460269865067" filled), so a buy says what it spent
          const filledCell = !m
            ? h("td", { class: "num" }, "?")
            : so.side === "buy"
              ? h("td", { class: "num", "data-label": "Filled", title: `${m.quote} spent so far (a buy fixes the quote it spends: a better price buys more ${m.base})` },
                  filled ? `${fmtAmount(filled, m.quoteDecimals)} ${m.quote}` : "0")
              : h("td", { class: "num", "data-label": "Filled" }, fmtAmount(filled, m.baseDecimals));
          // (a screen reader's name for the row's buttons: three "cancel, button" said nothing
          // of which order; on a phone the side column is hidden, the price says the side)
          const which = so && m ? `${so.side} ${fmtAmount(base, m.baseDecimals)} ${m.base} at ${fmtPrice(orderPrice(o, so.side, m))}` : short(hash);
          return h("tr", { "data-hash": hash, "data-status": meta.status },
            // (data-label: each cell's heading where a phone's width folds a row in two)
            h("td", { class: "mono", "data-label": "Order", title: hash }, short(hash)),
            h("td", {}, so?.side ?? "?"),
            h("td", { class: `num ${so?.side ?? ""}`.trim(), "data-label": "Price", "aria-label": so && m ? `${so.side} at ${fmtPrice(orderPrice(o, so.side, m))}` : undefined },
              // (the side in words where its column is hidden, a phone's: ux51, its colour
              // alone told a colour-blind user nothing)
              ...(so ? [h("span", { class: "side-word" }, `${so.side} `), fmtPrice(orderPrice(o, so.side, m))] : ["?"])),
            h("td", { class: "num", "data-label": "Amount" }, m ? fmtAmount(base, m.baseDecimals) : "?"),
            filledCell,
            // (a narrow column folds "partially_filled" after its "_", never mid-word)
            h("td", { class: `status-${meta.status}`, "data-label": "Status" }, ...meta.status.split(/(?<=_)/).flatMap((w, i) => (i ? [h("wbr"), w] : [w])), ...statusWhy(meta)),
            h("td", {},
              open ? h("button", { type: "button", class: "link soft-cancel", title: "signed CancelOrder at the node", "aria-label": `cancel ${which} at the node`, onclick: () => softCancel(hash) }, "cancel") : "",
              meta.status !== "filled" && meta.status !== "cancelled" && meta.status !== "expired"
                ? h("button", { type: "button", class: "link chain-cancel", title: "Exchange.cancelOrder on chain (gas)", "aria-label": `cancel ${which} on chain (gas)`, onclick: () => chainCancel(hash) }, "on chain")
                : "",
            ),
          );
        })
      : [h("tr", {}, h("td", { colSpan: 7, class: "muted" }, S.account ? "no orders yet" : "choose an account"))]),
  );
  focus();
  renderBook(); // (the levels of my open orders)
  renderFunds(); // (what they offer)
}

// ---- live events ------------------------------------------------------------------------

let networkTimer = null;
/** Re-read the network figures soon after activity (at most twice a second). */
function refreshNetworkSoon() {
  if (networkTimer) return;
  networkTimer = setTimeout(() => { networkTimer = null; refreshNetwork(); }, 500);
}

function onEvent(ev) {
  refreshNetworkSoon();
  if (ev.type === "order") {
    const hash = ev.metaData?.orderHash;
    if (hash && S.account && same(ev.order?.maker, S.account.address)) {
      S.shownAt.set(hash, ++S.stamp);
      S.mine.set(hash, { order: ev.order, metaData: ev.metaData });
      renderMyOrders();
    }
    if (hash) {
      S.orderCache.set(hash.toLowerCase(), Promise.resolve(ev.order));
      S.orders.set(hash.toLowerCase(), ev.order);
    }
  } else if (ev.type === "fill") {
    if (ev.event === "reverted") dropFill(ev);
    else addFill(ev);
    if (S.account && (same(ev.maker, S.account.address) || same(ev.taker, S.account.address))) {
      refreshOrder(ev.orderHash);
      // (ui80: a reorg that undid the account's fill and mined as many blocks left the head's
      // number as it was, and the funds line said the undone trade's balances)
      if (ev.event === "reverted") refreshFunds();
    }
  } else if (ev.type === "book") {
    onBookEvent(ev);
  } else if (ev.type === "error" && B.ws && B.seq === null) {
    setTimeout(subscribeBook, 1000); // our subscribe was refused (throttled): ask again
  }
}

let backoff = 250;
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`);
  const badge = $("conn");
  ws.onopen = () => {
    nodeAnswers(true);
    socketOpen(true);
    backoff = 250;
    B.ws = ws;
    B.pair = null;
    clearTimeout(B.poll);
    B.poll = null;
    badge.textContent = "live";
    badge.className = "badge on";
    badge.dataset.state = "live";
    // whatever happened while we were away: read it again (the node may have restarted
    // with another fee or listing: orders signed for the old one would be refused)
    refreshConfig().then(subscribeBook);
    loadFills().catch(() => {});
    if (S.account) loadMyOrders();
  };
  ws.onmessage = (msg) => {
    let ev;
    try { ev = JSON.parse(msg.data); } catch { return; }
    if (ev && typeof ev === "object") onEvent(ev);
  };
  ws.onclose = () => {
    socketOpen(false);
    if (B.ws === ws) {
      B.ws = null;
      B.pair = null;
      B.seq = null;
      pollDepth(); // until the socket is back
    }
    badge.textContent = "reconnecting";
    badge.className = "badge off";
    badge.dataset.state = "reconnecting";
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 5000);
  };
}

// ---- start ------------------------------------------------------------------------------

/** Take the node's order_config (chain, Exchange, fee, listed pairs) and show it. */
function useConfig(config) {
  S.config = config;
  S.markets = marketsFrom(config);
  S.market = S.markets.find((m) => m.name === S.market?.name) ?? S.markets[0] ?? null;
  $("node-info").textContent = `${location.host} · chain ${config.chainId} · exchange ${short(addr(config.exchange))}` +
    (config.feeBps ? ` · fee ${config.feeBps / 100}%` : "");
  $("node-info").dataset.feeBps = String(config.feeBps ?? 0);
}

/** Read order_config again (after a reconnect); re-render if it changed. */
async function refreshConfig() {
  try {
    const config = await getJSON("/v1/order_config");
    if (JSON.stringify(config) === JSON.stringify(S.config)) return;
    useConfig(config);
    renderPairs();
    renderUnits();
    renderMyOrders();
  } catch (e) { /* the node went away again: the next reconnect reads it */ }
}

async function start() {
  for (;;) {
    try {
      S.config = await getJSON("/v1/order_config");
      break;
    } catch (e) {
      banner(`waiting for the node: ${e.message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  banner(ethers ? "" : `The ${NO_ETHERS}: you can watch; only a wallet of your own (EIP-1193) can trade.`);
  useConfig(S.config);
  renderPairs();
  renderUnits();
  renderMyOrders();
  for (const id of ["price", "amount", "expiry"]) $(id).addEventListener("input", preview);
  for (const r of document.querySelectorAll('input[name="side"]')) r.addEventListener("change", renderUnits);
  $("order-form").addEventListener("submit", placeOrder);
  if (window.ethereum) {
    $("connect").hidden = false;
    $("connect").addEventListener("click", connectInjected);
    if (typeof window.ethereum.on === "function") {
      window.ethereum.on("accountsChanged", onWalletAccounts);
      window.ethereum.on("chainChanged", onWalletChain);
    }
  }
  await loadDevWallets().catch(() => {});
  // a devnet node run as the README's `sdex node` lines (no --dev-wallets): say how to get
  // the dev accounts, which is what a first try on a devnet wants
  const devHint = !S.dev && DEVNET_CHAINS.has(Number(S.config.chainId)) && S.devReason
    ? ` (dev accounts: ${S.devReason})` : "";
  $("account").textContent = S.dev
    ? `choose a dev account${window.ethereum ? " or connect your wallet" : ""} (devnet)`
    : (window.ethereum ? "connect your wallet to trade" : "no wallet found: install an EIP-1193 wallet (MetaMask) to trade") + devHint;
  connect();
  refreshNetwork();
  setInterval(refreshNetwork, 2000);
  document.body.dataset.ready = "true";
}

start();
