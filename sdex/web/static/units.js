// Human limit orders as exact token amounts: the twin of sdex/wallet.py, in BigInt.
//
// A buy gives quote for base: its quote (makerAmount) is rounded down; a sell gives base for
// quote: its quote (takerAmount) is rounded up. Either way the signed price never crosses the
// human limit. The base amount is never rounded: an AMOUNT finer than the base token's decimals
// is refused. tests/test_web.py runs this module in the browser against sdex.wallet on a table
// of cases and checks both give the same amounts and the same refusals.

export const UINT256_MAX = (1n << 256n) - 1n;
export const MAX_MAKER_AMOUNT = (1n << 255n) - 1n;
export const UINT64_MAX = (1n << 64n) - 1n;
export const BPS = 10000n;
export const ZERO_ADDRESS = "0x" + "00".repeat(20);

const DECIMAL_RE = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/;
const MAX_DIGITS = 100; // far beyond any uint256 amount, short of a denial-of-service string

/** A human input that cannot become a valid order; `field` says which input to blame. */
export class InputError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** An exact fraction {n, d} in lowest terms, d > 0. */
export function frac(n, d) {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n < 0n ? -n : n, d) || 1n;
  return { n: n / g, d: d / g };
}

/** A positive plain decimal string ("2000.5", ".25") as an exact fraction. */
export function parseDecimal(text, name, field) {
  const s = String(text).trim();
  if (s.length > MAX_DIGITS || !DECIMAL_RE.test(s)) {
    throw new InputError(field, `${name} must be a plain positive decimal like 2000.5, got '${text}'`);
  }
  const [whole, fraction = ""] = s.split(".");
  const v = frac(BigInt((whole || "0") + fraction || "0"), 10n ** BigInt(fraction.length));
  if (v.n <= 0n) throw new InputError(field, `${name} must be greater than zero, got '${text}'`);
  return v;
}

/** A human amount in token base units; refuses amounts finer than the token's decimals. */
export function toUnits(value, decimals, name, symbol, field) {
  const units = value.n * 10n ** BigInt(decimals);
  if (units % value.d !== 0n) {
    throw new InputError(
      field,
      `${name} ${plain(value)} has more decimal places than ${symbol}'s ${decimals}`,
    );
  }
  return units / value.d;
}

/**
 * Exact {makerAmount, takerAmount} for `side` ("buy"/"sell") `amount` base at limit `price`
 * quote per base; `market` is {base, quote, baseDecimals, quoteDecimals} and, optionally,
 * {baseMin, quoteMin}: the node's minimum order size per token in base units (BigInt).
 */
export function limitAmounts(side, price, amount, market) {
  if (price.n <= 0n || amount.n <= 0n) {
    throw new InputError("amount", "PRICE and AMOUNT must be greater than zero");
  }
  const bd = BigInt(market.baseDecimals);
  const qd = BigInt(market.quoteDecimals);
  const baseUnits = toUnits(amount, market.baseDecimals, "AMOUNT", market.base, "amount");
  const num = price.n * baseUnits * 10n ** qd;
  const den = price.d * 10n ** bd;
  let maker, taker;
  if (side === "buy") {
    const quoteUnits = num / den; // floor: both are positive
    if (quoteUnits === 0n) {
      throw new InputError(
        "amount",
        `buying ${plain(amount)} ${market.base} at ${plain(price)} costs less than one ` +
          `unit of ${market.quote} (10^-${market.quoteDecimals}): raise AMOUNT or PRICE`,
      );
    }
    [maker, taker] = [quoteUnits, baseUnits];
  } else {
    const quoteUnits = (num + den - 1n) / den; // ceil
    [maker, taker] = [baseUnits, quoteUnits];
  }
  if (maker > MAX_MAKER_AMOUNT || taker > UINT256_MAX) {
    throw new InputError("amount", "PRICE × AMOUNT is too large for a uint256 order amount");
  }
  // the node's minimum order size per token (order_config's minAmount, base units; 0 or
  // absent: none), said before signing in the token's units as `sdex order` says it (the
  // node's 400 BELOW_MINIMUM names base units and a token address)
  const quoteUnits = side === "buy" ? maker : taker;
  for (const [units, least, decimals, symbol, quote] of [
    [baseUnits, market.baseMin ?? 0n, market.baseDecimals, market.base, false],
    [quoteUnits, market.quoteMin ?? 0n, market.quoteDecimals, market.quote, true],
  ]) {
    if (units < least) {
      throw new InputError(
        "amount",
        `${fmtAmount(units, decimals)} ${symbol} is below this node's minimum order size, ` +
          `${fmtAmount(least, decimals)} ${symbol}: raise AMOUNT` + (quote ? " or PRICE" : ""),
      );
    }
  }
  return { makerAmount: maker, takerAmount: taker };
}

/** The node's fee: `feeBps` of the taker amount, rounded down. */
export function feeFor(takerAmount, feeBps) {
  return (takerAmount * BigInt(feeBps)) / BPS;
}

/** A random 256-bit salt, like wallets use for one-off orders. */
export function randomSalt() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return BigInt("0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""));
}

/**
 * The unsigned order JSON (decimal strings, lower-case addresses) for a human limit order,
 * paying the node's fee, open to any taker: sdex.wallet.build_order.
 */
export function buildOrder(config, market, side, price, amount, maker, expiry, salt) {
  if (!(expiry > 0n && expiry <= UINT64_MAX)) {
    throw new InputError("expiry", `expiry ${expiry} is outside uint64`);
  }
  const amounts = limitAmounts(side, price, amount, market);
  const [makerToken, takerToken] =
    side === "buy" ? [market.quoteToken, market.baseToken] : [market.baseToken, market.quoteToken];
  const fee = feeFor(amounts.takerAmount, config.feeBps);
  return {
    maker: maker.toLowerCase(),
    taker: ZERO_ADDRESS,
    makerToken,
    takerToken,
    makerAmount: amounts.makerAmount.toString(),
    takerAmount: amounts.takerAmount.toString(),
    feeRecipient: config.feeBps ? config.feeRecipient : ZERO_ADDRESS,
    feeAmount: fee.toString(),
    expiry: expiry.toString(),
    salt: salt.toString(),
  };
}

// ---- display ----------------------------------------------------------------------------

function decimalPlaces(denominator) {
  let twos = 0;
  let fives = 0;
  while (denominator % 2n === 0n) {
    denominator /= 2n;
    twos++;
  }
  while (denominator % 5n === 0n) {
    denominator /= 5n;
    fives++;
  }
  return denominator === 1n ? Math.max(twos, fives) : null;
}

/** round(n / d) half to even, for d > 0. */
function roundHalfEven(n, d) {
  const neg = n < 0n;
  const a = neg ? -n : n;
  let q = a / d;
  const r2 = 2n * (a % d);
  if (r2 > d || (r2 === d && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
}

/** A fraction as a plain decimal without trailing zeros: exact when it terminates, else
 * rounded half-even to 18 places. Never scientific notation. */
export function plain(value) {
  let { n, d } = value;
  let places = decimalPlaces(d);
  if (places === null) {
    places = 18;
    ({ n, d } = frac(roundHalfEven(n * 10n ** 18n, d), 10n ** 18n));
  }
  const scale = 10n ** BigInt(places);
  const digits = ((n < 0n ? -n : n) * scale) / d;
  const whole = digits / scale;
  const fracPart = digits % scale;
  let text = whole.toString();
  if (fracPart) text += "." + fracPart.toString().padStart(places, "0").replace(/0+$/, "");
  return (n < 0n ? "-" : "") + text;
}

/** Token base units as an exact human decimal (1500000 with 6 decimals → "1.5"). */
export function fmtAmount(units, decimals) {
  return plain(frac(BigInt(units), 10n ** BigInt(decimals)));
}

/** A price for display: exact when it terminates within `places` decimals counted from its
 * first significant digit (below 0.1: past its leading zeros), else rounded half-even there
 * and marked with "~" (sdex.wallet.fmt_price; 8 places after the point showed 0.000000001
 * as "~0"). */
export function fmtPrice(price, places = 8) {
  let zeros = 0;
  if (price.n > 0n) while (price.n * 10n ** BigInt(zeros + 1) < price.d) zeros++;
  places += zeros;
  const exact = decimalPlaces(price.d);
  if (exact !== null && exact <= places) return plain(price);
  const scale = 10n ** BigInt(places);
  return "~" + plain(frac(roundHalfEven(price.n * scale, price.d), scale));
}

/** Human quote per human base for amounts in base units, exact. */
export function priceOf(baseUnits, quoteUnits, baseDecimals, quoteDecimals) {
  return frac(
    BigInt(quoteUnits) * 10n ** BigInt(baseDecimals),
    BigInt(baseUnits) * 10n ** BigInt(quoteDecimals),
  );
}

/** -1, 0 or 1 as a < b, a = b, a > b. */
export function cmp(a, b) {
  const l = a.n * b.d;
  const r = b.n * a.d;
  return l < r ? -1 : l > r ? 1 : 0;
}

const BARE_WHY = {
  dropped: "ioc: no match, nothing traded",
  killed: "fok: could not be matched in full, nothing traded",
};
/** A node's bare outcome word (``why``) as `sdex order` says it, any other reason as it is
 * (app.js statusWhy). Only the table's own words: left63, a reason "__proto__" or
 * "constructor" read the object's prototype or its constructor, not a string, and the
 * "My orders" row broke. */
export function whyWords(why) {
  return Object.hasOwn(BARE_WHY, why) ? BARE_WHY[why] : why;
}
