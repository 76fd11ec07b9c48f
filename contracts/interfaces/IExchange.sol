// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A limit order signed off-chain with EIP-712 (docs/ARCHITECTURE.md "The order").
/// @dev Field order is the EIP-712 type order; the contract hashes the struct as laid out here.
struct Order {
    address maker; // gives makerToken, signs the order
    address taker; // 0 = anyone may be the counterparty, else only this address
    address makerToken;
    address takerToken;
    uint256 makerAmount; // the most the maker gives; < 2**255 (bit 255 of the fill slot is the cancel flag)
    uint256 takerAmount; // what the maker wants for all of makerAmount
    address feeRecipient;
    uint256 feeAmount; // in takerToken, paid by the maker pro rata; <= takerAmount
    uint64 expiry; // unix seconds; fillable while block.timestamp < expiry
    uint256 salt; // uniqueness, and the nonce that cancelOrdersUpTo compares against
}

/// @notice What getOrderInfo reports (INVALID=0, FILLABLE=1, FILLED=2, CANCELLED=3, EXPIRED=4).
enum OrderStatus {
    INVALID,
    FILLABLE,
    FILLED,
    CANCELLED,
    EXPIRED
}

/// @notice One order's on-chain state as getOrderStates reports it.
struct OrderState {
    bytes32 orderHash;
    OrderStatus status;
    uint256 filledMakerAmount;
    bool signatureValid;
    uint256 makerBalance; // makerToken.balanceOf(maker); 0 if the call fails
    uint256 makerAllowance; // makerToken.allowance(maker, exchange); 0 if the call fails
}

/// @notice One match of a batch: indexes into the batch's orders/signatures arrays.
struct MatchPair {
    uint256 left; // the resting order, whose price applies
    uint256 right; // the incoming order, which gets the price improvement
    uint256 maxLeftFill; // the most of left's makerToken this match may take (type(uint256).max: no cap)
}

/// @title Events and custom errors of the SDEX Exchange
/// @notice Declared in one place (Seaport ConsiderationEventsAndErrors style) so that clients
///         can decode every log and revert from a single ABI.
interface IExchangeEventsAndErrors {
    /// @notice An order was filled, once per order per fill.
    /// @param orderHash         The EIP-712 hash of the filled order.
    /// @param maker             The order's maker.
    /// @param taker             The counterparty: the caller of fillOrder, or the other order's maker in a match.
    /// @param makerAmountFilled The makerToken amount the maker gave in this fill.
    /// @param takerAmountFilled The takerToken amount the counterparty paid in total (the maker got it minus the fee).
    /// @param feeRecipient      The order's fee recipient.
    /// @param feePaid           The takerToken amount paid to feeRecipient out of takerAmountFilled.
    event OrderFilled(
        bytes32 indexed orderHash,
        address indexed maker,
        address indexed taker,
        uint256 makerAmountFilled,
        uint256 takerAmountFilled,
        address feeRecipient,
        uint256 feePaid
    );

    /// @notice An order was cancelled by hash; it can never be filled again.
    /// @param orderHash The EIP-712 hash of the cancelled order.
    /// @param maker     The order's maker, who cancelled it.
    event OrderCancelled(bytes32 indexed orderHash, address indexed maker);

    /// @notice Every order of `maker` with a salt below `minValidSalt` was cancelled.
    /// @param maker        The maker who cancelled.
    /// @param minValidSalt The maker's new lowest valid salt.
    event OrdersCancelledUpTo(address indexed maker, uint256 minValidSalt);

    /// @notice A match of batchMatchOrders failed and was skipped; the other matches went on.
    /// @param index          The match's index in the `pairs` array.
    /// @param leftOrderHash  The resting order's hash (0 if its index was out of range).
    /// @param rightOrderHash The incoming order's hash (0 if its index was out of range).
    /// @param reason         The revert data of the failed match (a custom error, a token's revert, ...).
    event MatchSkipped(uint256 indexed index, bytes32 leftOrderHash, bytes32 rightOrderHash, bytes reason);

    /// @notice The order breaks an amount rule: makerAmount > 0, takerAmount > 0,
    ///         makerAmount < 2**255, feeAmount <= takerAmount.
    /// @param orderHash   The order's hash.
    /// @param makerAmount The order's makerAmount.
    /// @param takerAmount The order's takerAmount.
    /// @param feeAmount   The order's feeAmount.
    error InvalidOrderAmounts(bytes32 orderHash, uint256 makerAmount, uint256 takerAmount, uint256 feeAmount);

    /// @notice The order's makerToken and takerToken are the same token.
    /// @param orderHash The order's hash.
    /// @param token     The token on both sides.
    error SameTokens(bytes32 orderHash, address token);

    /// @notice The signature is not the maker's (ECDSA for an EOA, EIP-1271 for a contract).
    /// @param orderHash The order's hash, which the signature must sign.
    /// @param maker     The order's maker.
    error InvalidSignature(bytes32 orderHash, address maker);

    /// @notice The order is FILLED or CANCELLED (by hash or by salt below the maker's minValidSalt).
    /// @param orderHash The order's hash.
    /// @param status    FILLED or CANCELLED.
    error OrderNotFillable(bytes32 orderHash, OrderStatus status);

    /// @notice The order has expired: block.timestamp >= expiry.
    /// @param orderHash      The order's hash.
    /// @param expiry         The order's expiry.
    /// @param blockTimestamp The current block's timestamp.
    error OrderExpired(bytes32 orderHash, uint64 expiry, uint256 blockTimestamp);

    /// @notice The order names a taker and the counterparty is someone else.
    /// @param orderHash    The order's hash.
    /// @param allowedTaker The order's taker.
    /// @param actualTaker  The counterparty: fillOrder's caller, or the other order's maker.
    error TakerNotAllowed(bytes32 orderHash, address allowedTaker, address actualTaker);

    /// @notice The two orders of a match do not trade the same pair in opposite directions.
    /// @param leftOrderHash  The resting order's hash.
    /// @param rightOrderHash The incoming order's hash.
    error TokenMismatch(bytes32 leftOrderHash, bytes32 rightOrderHash);

    /// @notice The fill rounds to zero makerToken (or the order has nothing left).
    /// @param leftOrderHash  The resting order's hash (fillOrder: the order's hash).
    /// @param rightOrderHash The incoming order's hash (fillOrder: 0).
    error ZeroFillAmount(bytes32 leftOrderHash, bytes32 rightOrderHash);

    /// @notice At the resting order's price, the incoming order's limit price is not met.
    /// @param leftOrderHash  The resting order's hash.
    /// @param rightOrderHash The incoming order's hash.
    /// @param makerFill      The left makerToken amount that the match would move (x).
    /// @param takerFill      The right makerToken amount that the match would move (y).
    error PricesDoNotCross(bytes32 leftOrderHash, bytes32 rightOrderHash, uint256 makerFill, uint256 takerFill);

    /// @notice Only the order's maker may cancel it.
    /// @param orderHash The order's hash.
    /// @param maker     The order's maker.
    /// @param caller    The caller.
    error OnlyMaker(bytes32 orderHash, address maker, address caller);

    /// @notice cancelOrdersUpTo must raise the maker's minValidSalt.
    /// @param current   The maker's current minValidSalt.
    /// @param requested The requested minValidSalt, not above `current`.
    error MinValidSaltNotIncreasing(uint256 current, uint256 requested);

    /// @notice settleBatch and settleMatch are the Exchange's own entry points for batch matches.
    /// @param caller The caller, which is not the Exchange.
    error OnlySelf(address caller);

    /// @notice A batch pair points past the end of the orders array (reported in MatchSkipped).
    /// @param left   The pair's left index.
    /// @param right  The pair's right index.
    /// @param length The number of orders in the batch.
    error PairIndexOutOfRange(uint256 left, uint256 right, uint256 length);

    /// @notice A token's transferFrom returned false (or a short reply), or the token has no
    ///         code; the name and arguments of OpenZeppelin SafeERC20's error, whose rules the
    ///         Exchange's transfers follow (a token's own revert is passed on as it is).
    /// @param token The token.
    error SafeERC20FailedOperation(address token);

    /// @notice matchOrdersPacked's calldata does not follow the packed layout (LibPacked): a
    ///         length byte above 32, an undefined flag bit, or data that ends before or after
    ///         the layout does.
    /// @param calldataSize The calldata's size.
    /// @param parsedSize   Where the layout, read as far as the flags and length bytes say, ended.
    error PackedMatchMalformed(uint256 calldataSize, uint256 parsedSize);

    /// @notice The orders and signatures arrays of a batch call differ in length.
    /// @param orders     The number of orders.
    /// @param signatures The number of signatures.
    error ArrayLengthMismatch(uint256 orders, uint256 signatures);
}

/// @title SDEX Exchange
/// @notice Settles EIP-712 signed limit orders: taken directly (fillOrder) or matched against
///         each other (matchOrders, batchMatchOrders). The Exchange never holds tokens.
interface IExchange is IExchangeEventsAndErrors {
    /// @notice The caller takes `order`, paying up to `takerFillAmount` takerToken.
    /// @return makerFilled The makerToken amount the caller received.
    /// @return takerPaid   The takerToken amount the caller paid (fee included).
    function fillOrder(Order calldata order, bytes calldata signature, uint256 takerFillAmount)
        external
        returns (uint256 makerFilled, uint256 takerPaid);

    /// @notice Settles the resting order `left` against the incoming order `right` at left's price,
    ///         filling as much as both orders' on-chain remainders allow, and at most
    ///         `maxLeftFill` of left's makerToken (type(uint256).max: no cap; 0: ZeroFillAmount).
    /// @return leftFilled  The left makerToken amount that left's maker gave.
    /// @return rightFilled The right makerToken amount that right's maker gave.
    function matchOrders(
        Order calldata left,
        bytes calldata leftSignature,
        Order calldata right,
        bytes calldata rightSignature,
        uint256 maxLeftFill
    ) external returns (uint256 leftFilled, uint256 rightFilled);

    /// @notice matchOrders with the match packed in the calldata after the selector (LibPacked's
    ///         layout, ~60% of matchOrders' bytes): the same orders, checks, events and errors
    ///         (plus PackedMatchMalformed). What a node sends for a lone match.
    function matchOrdersPacked() external returns (uint256 leftFilled, uint256 rightFilled);

    /// @notice Settles `pairs` in order; a failing pair is skipped with MatchSkipped.
    /// @return settled The number of pairs settled.
    function batchMatchOrders(Order[] calldata orders, bytes[] calldata signatures, MatchPair[] calldata pairs)
        external
        returns (uint256 settled);

    /// @notice All matches of batchMatchOrders inline in one call frame, failing checks skipped
    ///         with MatchSkipped; callable only by the Exchange. A token failure reverts it whole.
    function settleBatch(Order[] calldata orders, bytes[] calldata signatures, MatchPair[] calldata pairs)
        external
        returns (uint256 settled);

    /// @notice One match of batchMatchOrders in its own call frame; callable only by the Exchange
    ///         (the fallback when a token reverted inside settleBatch).
    function settleMatch(
        Order calldata left,
        bytes calldata leftSignature,
        Order calldata right,
        bytes calldata rightSignature,
        uint256 maxLeftFill
    ) external returns (uint256 leftFilled, uint256 rightFilled);

    /// @notice Cancels `order` for good; only its maker may. Cancelling twice is a no-op.
    function cancelOrder(Order calldata order) external;

    /// @notice Cancels every order of the caller with a salt below `newMinValidSalt`.
    function cancelOrdersUpTo(uint256 newMinValidSalt) external;

    /// @notice The order's hash, status and filled makerToken amount.
    function getOrderInfo(Order calldata order)
        external
        view
        returns (bytes32 hash, OrderStatus status, uint256 filledMakerAmount);

    /// @notice Everything a validator needs about many orders, in one call.
    function getOrderStates(Order[] calldata orders, bytes[] calldata signatures)
        external
        view
        returns (OrderState[] memory states);

    /// @notice The lowest salt of `maker`'s orders that is not cancelled.
    function minValidSalt(address maker) external view returns (uint256);

    /// @notice The order's EIP-712 hash under this Exchange's domain.
    function orderHash(Order calldata order) external view returns (bytes32);
}
