// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IExchange, Order, OrderStatus, OrderState, MatchPair} from "./interfaces/IExchange.sol";
import {LibFill} from "./libraries/LibFill.sol";
import {LibOrder} from "./libraries/LibOrder.sol";
import {LibPacked} from "./libraries/LibPacked.sol";

/// @title SDEX Exchange
/// @notice Settles EIP-712 signed limit orders, moving tokens straight from maker to
///         counterparty: the Exchange never holds tokens. Rules, arithmetic, events and errors
///         are pinned in docs/ARCHITECTURE.md.
contract Exchange is IExchange, EIP712, ReentrancyGuardTransient {
    /// @dev Bit 255 of a fill slot: cancelled by hash. Bits 0..254: the filled maker amount.
    uint256 private constant CANCELLED_FLAG = 1 << 255;
    uint256 private constant FILLED_MASK = CANCELLED_FLAG - 1;

    /// @dev An order whose salt's top 64 bits are this tag ("SDEXBITS") opts in to the maker's
    ///      order bitmap (ARCHITECTURE.md "Bitmap orders"); its low 192 bits are the maker's
    ///      nonce. A random salt carries the tag with probability 2**-64.
    uint256 private constant BITMAP_TAG = 0x5344455842495453;
    /// @dev Two bits per bitmap nonce, one state for every order of the maker with that nonce:
    ///      0 untouched (no fill slot of the nonce written, nothing filled), ORDER_FILLED one
    ///      order filled whole by the nonce's first fill (every order of it reads filled whole;
    ///      no slot written), IN_SLOT each order's own fill slot holds its state (the first
    ///      touch was a partial fill or a cancel by hash; later fills and cancels use the slots
    ///      as for any order), FILLED_THEN_SLOTS ORDER_FILLED after a cancel by hash: an order
    ///      whose slot was written since (cancelled) reads its slot, every other reads filled
    ///      whole. A nonce's orders so never reopen: ORDER_FILLED is reached only from 0, and
    ///      leaves only for FILLED_THEN_SLOTS (review31: a sibling's cancel set IN_SLOT and the
    ///      order filled whole read FILLABLE again, filled a second time).
    uint256 private constant ORDER_FILLED = 1;
    uint256 private constant IN_SLOT = 2;
    uint256 private constant FILLED_THEN_SLOTS = 3;

    /// @dev Gas for each token view in getOrderStates, so a gas-burning token reads as 0
    ///      instead of starving the rest of the batch (a plain ERC-20 needs under 10k).
    uint256 private constant TOKEN_VIEW_GAS = 100_000;
    /// @dev Gas for a contract maker's isValidSignature in getOrderStates, so a wallet that
    ///      burns what it is given reads as an invalid signature instead of running a node's read
    ///      for the block's gas and starving the rest of the batch (attack30). A lone settlement's
    ///      gas bound could not afford a costlier wallet anyway.
    uint256 private constant SIGNATURE_VIEW_GAS = 100_000;

    /// @dev One slot per order: filled amount and cancel flag together, one SLOAD per fill.
    mapping(bytes32 orderHash => uint256 fillState) private _fillStates;
    mapping(address maker => uint256 salt) private _minValidSalts;
    /// @dev Bitmap orders' 2-bit states, 128 nonces to a word: a maker's next order reuses a
    ///      warm, non-zero word instead of writing a fresh slot (22.1k gas) per order.
    mapping(address maker => mapping(uint256 word => uint256 states)) private _orderBits;

    constructor() EIP712("SDEX", "1") {}

    // ───────────────────────────── settlement ─────────────────────────────

    /// @inheritdoc IExchange
    function fillOrder(Order calldata orderData, bytes calldata signature, uint256 takerFillAmount)
        external
        nonReentrant
        returns (uint256 makerFilled, uint256 takerPaid)
    {
        Order memory order = LibOrder.load(orderData);
        bytes32 hash = _hashOrder(order);
        (uint256 filled, bytes memory failure) = _checkOrder(order, hash, signature, msg.sender);
        if (failure.length != 0) _revertWith(failure);
        uint256 fee;
        (makerFilled, takerPaid, fee) = LibFill.fillOrderAmounts(
            hash, order.makerAmount, order.takerAmount, order.feeAmount, filled, takerFillAmount
        );
        _recordFill(order, hash, filled, makerFilled, takerPaid, msg.sender, fee);

        _pay(order.makerToken, order.maker, msg.sender, makerFilled);
        // Cannot underflow: fee <= takerPaid as feeAmount <= takerAmount (floor vs ceil of one ratio).
        unchecked {
            _pay(order.takerToken, msg.sender, order.maker, takerPaid - fee);
        }
        _pay(order.takerToken, msg.sender, order.feeRecipient, fee);
    }

    /// @inheritdoc IExchange
    function matchOrders(
        Order calldata left,
        bytes calldata leftSignature,
        Order calldata right,
        bytes calldata rightSignature,
        uint256 maxLeftFill
    ) external nonReentrant returns (uint256 leftFilled, uint256 rightFilled) {
        return _matchOrRevert(LibOrder.load(left), leftSignature, LibOrder.load(right), rightSignature, maxLeftFill);
    }

    /// @inheritdoc IExchange
    function matchOrdersPacked() external nonReentrant returns (uint256 leftFilled, uint256 rightFilled) {
        (
            Order memory left,
            bytes calldata leftSignature,
            Order memory right,
            bytes calldata rightSignature,
            uint256 maxLeftFill
        ) = LibPacked.decode();
        return _matchOrRevert(left, leftSignature, right, rightSignature, maxLeftFill);
    }

    /// @inheritdoc IExchange
    /// @dev Reverts the whole batch only on ArrayLengthMismatch. First every match runs inline
    ///      in one frame (settleBatch): a failing check is skipped, not reverted, so a match
    ///      costs no call frame of its own. A token that reverts (or returns false) in the
    ///      middle of a match cannot be undone inline, as the match's earlier transfers have
    ///      happened: it reverts that frame whole, and the batch runs again one frame per match
    ///      (settleMatch), where the failing match alone is undone and skipped.
    function batchMatchOrders(Order[] calldata orders, bytes[] calldata signatures, MatchPair[] calldata pairs)
        external
        nonReentrant
        returns (uint256 settled)
    {
        uint256 count = orders.length;
        if (signatures.length != count) revert ArrayLengthMismatch(count, signatures.length);
        // settleBatch takes the same arguments, so this call's own arguments are forwarded as they are.
        (bool ok, bytes memory result) = address(this).call(bytes.concat(this.settleBatch.selector, msg.data[4:]));
        return ok ? abi.decode(result, (uint256)) : _settleEachInOwnFrame(orders, signatures, pairs);
    }

    /// @dev batchMatchOrders' fallback: each match in a call frame of its own (settleMatch), so
    ///      that any revert, ours or a token's, undoes and skips that match only.
    function _settleEachInOwnFrame(Order[] calldata orders, bytes[] calldata signatures, MatchPair[] calldata pairs)
        private
        returns (uint256 settled)
    {
        uint256 count = orders.length;
        for (uint256 i; i < pairs.length; ++i) {
            (uint256 l, uint256 r) = (pairs[i].left, pairs[i].right);
            if (l >= count || r >= count) {
                _skipOutOfRange(orders, i, l, r);
                continue;
            }
            try this.settleMatch(orders[l], signatures[l], orders[r], signatures[r], pairs[i].maxLeftFill) {
                // Cannot overflow: at most pairs.length increments.
                unchecked {
                    ++settled;
                }
            } catch (bytes memory reason) {
                _skipFailed(orders[l], orders[r], i, reason);
            }
        }
    }

    /// @dev Reports batch match `index` that reverted in its own frame with `reason`.
    function _skipFailed(Order calldata left, Order calldata right, uint256 index, bytes memory reason) private {
        emit MatchSkipped(index, _hashOrder(LibOrder.load(left)), _hashOrder(LibOrder.load(right)), reason);
    }

    /// @inheritdoc IExchange
    /// @dev Not nonReentrant itself: batchMatchOrders holds the lock while calling it, and no one
    ///      else can call it, so a token re-entering during a batch still meets the lock.
    function settleBatch(Order[] calldata orders, bytes[] calldata signatures, MatchPair[] calldata pairs)
        external
        returns (uint256 settled)
    {
        if (msg.sender != address(this)) revert OnlySelf(msg.sender);
        uint256 count = orders.length; // batchMatchOrders checked signatures.length == count
        // Each order's hash, computed once however many matches share the order (0: not yet).
        bytes32[] memory hashes = new bytes32[](count);
        // Each match's memory (its two orders, a failure's error) is dead when the match ends:
        // the next match reuses it, so memory does not grow with the batch.
        uint256 freeMemory;
        assembly ("memory-safe") {
            freeMemory := mload(0x40)
        }
        for (uint256 i; i < pairs.length; ++i) {
            (uint256 l, uint256 r) = (pairs[i].left, pairs[i].right);
            if (l >= count || r >= count) {
                _skipOutOfRange(orders, i, l, r);
            } else if (_settleOrSkip(orders, signatures, hashes, pairs[i], i)) {
                // Cannot overflow: at most pairs.length increments.
                unchecked {
                    ++settled;
                }
            }
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
        }
    }

    /// @inheritdoc IExchange
    /// @dev Not nonReentrant itself, like settleBatch.
    function settleMatch(
        Order calldata left,
        bytes calldata leftSignature,
        Order calldata right,
        bytes calldata rightSignature,
        uint256 maxLeftFill
    ) external returns (uint256 leftFilled, uint256 rightFilled) {
        if (msg.sender != address(this)) revert OnlySelf(msg.sender);
        return _matchOrRevert(LibOrder.load(left), leftSignature, LibOrder.load(right), rightSignature, maxLeftFill);
    }

    // ──────────────────────────── cancellation ────────────────────────────

    /// @inheritdoc IExchange
    /// @dev Idempotent: cancelling a cancelled order changes nothing and emits nothing.
    function cancelOrder(Order calldata orderData) external {
        Order memory order = LibOrder.load(orderData);
        bytes32 hash = _hashOrder(order);
        if (msg.sender != order.maker) revert OnlyMaker(hash, order.maker, msg.sender);
        uint256 fillState = _fillState(order, hash);
        if (fillState & CANCELLED_FLAG != 0) return;
        _fillStates[hash] = fillState | CANCELLED_FLAG; // keeps the filled amount in bits 0..254
        if (_isBitmapOrder(order)) {
            uint256 state = _bitmapState(order);
            // the slot holds this order's state now; an order filled whole stays so
            if (state == 0) _setBitmapState(order, IN_SLOT);
            else if (state == ORDER_FILLED) _setBitmapState(order, FILLED_THEN_SLOTS);
        }
        emit OrderCancelled(hash, msg.sender);
    }

    /// @inheritdoc IExchange
    function cancelOrdersUpTo(uint256 newMinValidSalt) external {
        uint256 current = _minValidSalts[msg.sender];
        if (newMinValidSalt <= current) revert MinValidSaltNotIncreasing(current, newMinValidSalt);
        _minValidSalts[msg.sender] = newMinValidSalt;
        emit OrdersCancelledUpTo(msg.sender, newMinValidSalt);
    }

    // ─────────────────────────────── views ────────────────────────────────

    /// @inheritdoc IExchange
    function getOrderInfo(Order calldata order)
        external
        view
        returns (bytes32 hash, OrderStatus status, uint256 filledMakerAmount)
    {
        return _orderInfo(LibOrder.load(order));
    }

    /// @inheritdoc IExchange
    /// @dev Token calls that revert, return fewer than 32 bytes or burn TOKEN_VIEW_GAS read as 0.
    function getOrderStates(Order[] calldata orders, bytes[] calldata signatures)
        external
        view
        returns (OrderState[] memory states)
    {
        if (signatures.length != orders.length) revert ArrayLengthMismatch(orders.length, signatures.length);
        states = new OrderState[](orders.length); // every row allocated here, before the loop
        // An order's memory copy and its token calls' calldata are dead after its row: the next
        // order reuses that memory, so a call of 500 orders does not pay for 500 copies.
        uint256 freeMemory;
        assembly ("memory-safe") {
            freeMemory := mload(0x40)
        }
        for (uint256 i; i < orders.length; ++i) {
            Order memory order = LibOrder.load(orders[i]);
            OrderState memory state = states[i];
            (state.orderHash, state.status, state.filledMakerAmount) = _orderInfo(order);
            state.signatureValid = _isValidSignatureView(order.maker, state.orderHash, signatures[i]);
            state.makerBalance = _tokenView(order.makerToken, abi.encodeCall(IERC20.balanceOf, (order.maker)));
            state.makerAllowance =
                _tokenView(order.makerToken, abi.encodeCall(IERC20.allowance, (order.maker, address(this))));
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
        }
    }

    /// @inheritdoc IExchange
    function minValidSalt(address maker) external view returns (uint256) {
        return _minValidSalts[maker];
    }

    /// @inheritdoc IExchange
    function orderHash(Order calldata order) external view returns (bytes32) {
        return _hashOrder(LibOrder.load(order));
    }

    // ────────────────────────────── internals ─────────────────────────────

    /// @dev The orders' hashes (set by the caller) and what the checks of a match found, carried
    ///      in memory to keep each frame within 16 stack slots (no via-IR).
    struct Checked {
        bytes32 leftHash;
        uint256 leftBefore; // left's filled amount before this match
        uint256 leftAvailable; // set to maxLeftFill by the caller; capped to left's remainder here
        bytes32 rightHash;
        uint256 rightBefore;
    }

    /// @dev `left` rests and sets the price; `right` comes in (ARCHITECTURE.md "matchOrders").
    ///      Per-order checks come first (left, then right), then the pair's tokens, then amounts.
    ///      A failing check changes nothing and comes back as its custom error's revert data in
    ///      `failure` (empty on success): matchOrders reverts with it, a batch skips the match.
    function _matchOrders(
        Order memory left,
        bytes calldata leftSignature,
        Order memory right,
        bytes calldata rightSignature,
        Checked memory m
    ) private returns (uint256, uint256, bytes memory failure) {
        (m.leftBefore, failure) = _checkOrder(left, m.leftHash, leftSignature, right.maker);
        if (failure.length != 0) return (0, 0, failure);
        uint256 leftRemaining = left.makerAmount - m.leftBefore;
        if (m.leftAvailable > leftRemaining) m.leftAvailable = leftRemaining;
        (m.rightBefore, failure) = _checkOrder(right, m.rightHash, rightSignature, left.maker);
        if (failure.length != 0) return (0, 0, failure);
        if (right.makerToken != left.takerToken || right.takerToken != left.makerToken) {
            return (0, 0, abi.encodeWithSelector(TokenMismatch.selector, m.leftHash, m.rightHash));
        }
        return _executeMatch(left, right, m);
    }

    /// @dev Amounts, fill records and transfers of a checked match.
    function _executeMatch(Order memory left, Order memory right, Checked memory m)
        private
        returns (uint256 x, uint256 y, bytes memory failure)
    {
        (x, y) = LibFill.matchFill(left.makerAmount, left.takerAmount, m.leftAvailable, right.makerAmount - m.rightBefore);
        if (x == 0) return (0, 0, abi.encodeWithSelector(ZeroFillAmount.selector, m.leftHash, m.rightHash));
        if (!LibFill.meetsLimit(x, y, right.makerAmount, right.takerAmount)) {
            return (0, 0, abi.encodeWithSelector(PricesDoNotCross.selector, m.leftHash, m.rightHash, x, y));
        }
        uint256 leftFee = LibFill.feeFor(left.feeAmount, x, left.makerAmount); // in Y, to left's recipient
        uint256 rightFee = LibFill.feeFor(right.feeAmount, y, right.makerAmount); // in X, to right's recipient
        _recordFill(left, m.leftHash, m.leftBefore, x, y, right.maker, leftFee);
        _recordFill(right, m.rightHash, m.rightBefore, y, x, left.maker, rightFee);

        // Cannot underflow: left's fee <= y as left.feeAmount <= left.takerAmount, and right's fee
        // <= floor(y * right.takerAmount / right.makerAmount) <= x by the limit check above.
        unchecked {
            _pay(left.makerToken, left.maker, right.maker, x - rightFee);
            _pay(right.makerToken, right.maker, left.maker, y - leftFee);
        }
        _pay(left.makerToken, left.maker, right.feeRecipient, rightFee);
        _pay(right.makerToken, right.maker, left.feeRecipient, leftFee);
    }

    /// @dev The checks of one order about to be filled, ordered so that each bad order gets its
    ///      own error: amounts, tokens, status, expiry, taker, signature. Returns the order's
    ///      filled amount, or the failing check's custom error in `failure`.
    function _checkOrder(Order memory order, bytes32 hash, bytes calldata signature, address counterparty)
        private
        view
        returns (uint256 filled, bytes memory failure)
    {
        if (!LibOrder.hasValidAmounts(order)) {
            failure = abi.encodeWithSelector(
                InvalidOrderAmounts.selector, hash, order.makerAmount, order.takerAmount, order.feeAmount
            );
            return (0, failure);
        }
        if (order.makerToken == order.takerToken) {
            return (0, abi.encodeWithSelector(SameTokens.selector, hash, order.makerToken));
        }
        uint256 fillState = _fillState(order, hash); // the only read of this order's state in this fill
        OrderStatus status = _liveStatus(order, fillState);
        if (status == OrderStatus.EXPIRED) {
            return (0, abi.encodeWithSelector(OrderExpired.selector, hash, order.expiry, block.timestamp));
        }
        if (status != OrderStatus.FILLABLE) {
            return (0, abi.encodeWithSelector(OrderNotFillable.selector, hash, status));
        }
        if (order.taker != address(0) && order.taker != counterparty) {
            return (0, abi.encodeWithSelector(TakerNotAllowed.selector, hash, order.taker, counterparty));
        }
        filled = fillState; // FILLABLE implies the cancel flag is clear
        // An order with a fill has passed this check before (ARCHITECTURE.md "Fill state").
        if (filled == 0 && !_isValidSignature(order.maker, hash, signature)) {
            return (0, abi.encodeWithSelector(InvalidSignature.selector, hash, order.maker));
        }
    }

    /// @dev The one place that records a fill; the event follows the state change. A bitmap
    ///      order filled whole by its first fill only sets its two bits in the maker's (usually
    ///      warm) bitmap word; every other fill writes the order's own slot.
    function _recordFill(
        Order memory order,
        bytes32 hash,
        uint256 filledBefore,
        uint256 makerFilled,
        uint256 takerFilled,
        address taker,
        uint256 fee
    ) private {
        // Cannot overflow: makerFilled <= makerAmount - filledBefore and makerAmount < 2**255,
        // so the sum stays below the cancel flag.
        uint256 filledAfter;
        unchecked {
            filledAfter = filledBefore + makerFilled;
        }
        // A bitmap order's first fill: the nonce's first (state 0) sets its bits, and its slot
        // only if partly filled; after IN_SLOT every fill uses the order's slot; ORDER_FILLED or
        // FILLED_THEN_SLOTS here means a same-nonce order of this very match was just filled
        // whole, and this order reads filled whole with it (its slot stays unwritten).
        if (filledBefore == 0 && _isBitmapOrder(order)) {
            bool whole = filledAfter == order.makerAmount;
            uint256 state = _bitmapFirstFill(order, whole ? ORDER_FILLED : IN_SLOT);
            if (state == 0 ? !whole : state == IN_SLOT) _fillStates[hash] = filledAfter;
        } else {
            _fillStates[hash] = filledAfter;
        }
        emit OrderFilled(hash, order.maker, taker, makerFilled, takerFilled, order.feeRecipient, fee);
    }

    /// @dev Moves `amount` of `token` from `from` to `to`; zero amounts (no fee, or a fee equal
    ///      to the whole proceeds) are skipped, saving gas and sparing tokens that reject them.
    ///      SafeERC20.safeTransferFrom's rules (a revert is bubbled up; no return data is success
    ///      only if the token has code; else the reply must be true), without allocating memory
    ///      for each call: a batch's transfers reuse the same scratch words.
    function _pay(address token, address from, address to, uint256 amount) private {
        if (amount == 0) return;
        bytes4 transferFrom = IERC20.transferFrom.selector;
        bool ok;
        assembly ("memory-safe") {
            let ptr := mload(0x40) // scratch past the free pointer; nothing stays allocated
            mstore(ptr, transferFrom)
            mstore(add(ptr, 0x04), from)
            mstore(add(ptr, 0x24), to)
            mstore(add(ptr, 0x44), amount)
            mstore(0x00, 0)
            if iszero(call(gas(), token, 0, ptr, 0x64, 0x00, 0x20)) {
                returndatacopy(ptr, 0, returndatasize())
                revert(ptr, returndatasize())
            }
            ok := eq(mload(0x00), 1) // a reply must be true (a short one reads as not 1)
            // no reply: fine from a contract (USDT style), not from an address without code
            if iszero(returndatasize()) { ok := gt(extcodesize(token), 0) }
        }
        if (!ok) revert SafeERC20FailedOperation(token);
    }

    /// @dev An opt-in order (ARCHITECTURE.md "Bitmap orders"): its salt carries BITMAP_TAG.
    function _isBitmapOrder(Order memory order) private pure returns (bool) {
        return order.salt >> 192 == BITMAP_TAG;
    }

    /// @dev A bitmap order's fill state as one fill-slot word (filled amount | cancel flag):
    ///      read from the maker's bitmap word, and from its own slot only when that says so.
    function _fillState(Order memory order, bytes32 hash) private view returns (uint256) {
        if (_isBitmapOrder(order)) {
            uint256 state = _bitmapState(order);
            if (state == 0) return 0; // untouched: nothing filled, not cancelled
            if (state == ORDER_FILLED) return order.makerAmount;
            if (state == FILLED_THEN_SLOTS) {
                uint256 slot = _fillStates[hash]; // written only by a cancel since ORDER_FILLED
                return slot == 0 ? order.makerAmount : slot;
            }
        }
        return _fillStates[hash];
    }

    /// @dev A bitmap order's nonce's 2-bit state (see ORDER_FILLED).
    function _bitmapState(Order memory order) private view returns (uint256) {
        (uint256 word, uint256 shift) = _bitmapPosition(order.salt);
        return (_orderBits[order.maker][word] >> shift) & 3;
    }

    /// @dev A bitmap order's first fill: returns its nonce's state, and sets it to `next` if it
    ///      was 0 (one read and at most one write of the maker's word).
    function _bitmapFirstFill(Order memory order, uint256 next) private returns (uint256 state) {
        (uint256 word, uint256 shift) = _bitmapPosition(order.salt);
        mapping(uint256 => uint256) storage bits = _orderBits[order.maker];
        uint256 states = bits[word];
        state = (states >> shift) & 3;
        if (state == 0) bits[word] = states | (next << shift);
    }

    /// @dev Sets a bitmap order's 2-bit state (with _bitmapFirstFill, the only writers of _orderBits).
    function _setBitmapState(Order memory order, uint256 state) private {
        (uint256 word, uint256 shift) = _bitmapPosition(order.salt);
        mapping(uint256 => uint256) storage bits = _orderBits[order.maker];
        bits[word] = (bits[word] & ~(3 << shift)) | (state << shift);
    }

    /// @dev Word and bit offset of a bitmap order's nonce (the salt's low 192 bits): 128 nonces a word.
    function _bitmapPosition(uint256 salt) private pure returns (uint256 word, uint256 shift) {
        uint256 nonce = salt & type(uint192).max;
        return (nonce >> 7, (nonce & 127) << 1);
    }

    /// @dev One match outside a batch's inline frame: a failing check reverts with its error.
    function _matchOrRevert(
        Order memory left,
        bytes calldata leftSignature,
        Order memory right,
        bytes calldata rightSignature,
        uint256 maxLeftFill
    ) private returns (uint256, uint256) {
        Checked memory m;
        (m.leftHash, m.rightHash, m.leftAvailable) = (_hashOrder(left), _hashOrder(right), maxLeftFill);
        (uint256 x, uint256 y, bytes memory failure) = _matchOrders(left, leftSignature, right, rightSignature, m);
        if (failure.length != 0) _revertWith(failure);
        return (x, y);
    }

    /// @dev orders[i]'s hash from the batch's cache, computed on first use.
    function _cachedHash(Order memory order, bytes32[] memory hashes, uint256 i) private view returns (bytes32) {
        // An EIP-712 hash is a keccak256 output, never 0 in practice, so 0 marks "not yet".
        if (hashes[i] == 0) hashes[i] = _hashOrder(order);
        return hashes[i];
    }

    /// @dev settleBatch's match `index`: settled (true), or skipped with MatchSkipped.
    function _settleOrSkip(
        Order[] calldata orders,
        bytes[] calldata signatures,
        bytes32[] memory hashes,
        MatchPair calldata pair,
        uint256 index
    ) private returns (bool) {
        (Checked memory m, bytes memory failure) = _settleInline(orders, signatures, hashes, pair);
        if (failure.length == 0) return true;
        emit MatchSkipped(index, m.leftHash, m.rightHash, failure);
        return false;
    }

    /// @dev One match of settleBatch (its indexes in range) inline: `failure` is the error of the
    ///      check that failed (empty: settled); a token's revert reverts the whole frame.
    function _settleInline(
        Order[] calldata orders,
        bytes[] calldata signatures,
        bytes32[] memory hashes,
        MatchPair calldata pair
    ) private returns (Checked memory m, bytes memory failure) {
        Order memory left = LibOrder.load(orders[pair.left]);
        Order memory right = LibOrder.load(orders[pair.right]);
        (m.leftHash, m.rightHash) = (_cachedHash(left, hashes, pair.left), _cachedHash(right, hashes, pair.right));
        m.leftAvailable = pair.maxLeftFill;
        (,, failure) = _matchOrders(left, signatures[pair.left], right, signatures[pair.right], m);
    }

    /// @dev Reverts with `failure`, a custom error's revert data from the checks.
    function _revertWith(bytes memory failure) private pure {
        assembly ("memory-safe") {
            revert(add(failure, 0x20), mload(failure))
        }
    }

    /// @dev Reports batch pair `index` pointing past the `orders` array.
    function _skipOutOfRange(Order[] calldata orders, uint256 index, uint256 l, uint256 r) private {
        uint256 count = orders.length;
        bytes32 leftHash = l < count ? _hashOrder(LibOrder.load(orders[l])) : bytes32(0);
        bytes32 rightHash = r < count ? _hashOrder(LibOrder.load(orders[r])) : bytes32(0);
        emit MatchSkipped(index, leftHash, rightHash, abi.encodeWithSelector(PairIndexOutOfRange.selector, l, r, count));
    }

    function _orderInfo(Order memory order)
        private
        view
        returns (bytes32 hash, OrderStatus status, uint256 filledMakerAmount)
    {
        hash = _hashOrder(order);
        uint256 fillState = _fillState(order, hash);
        filledMakerAmount = fillState & FILLED_MASK;
        status = LibOrder.isValid(order) ? _liveStatus(order, fillState) : OrderStatus.INVALID;
    }

    /// @dev Status of an order that passes the validity rules: CANCELLED, FILLED, EXPIRED, FILLABLE.
    function _liveStatus(Order memory order, uint256 fillState) private view returns (OrderStatus) {
        if (fillState & CANCELLED_FLAG != 0 || order.salt < _minValidSalts[order.maker]) {
            return OrderStatus.CANCELLED;
        }
        if (fillState == order.makerAmount) return OrderStatus.FILLED; // flag is clear: fillState == filled
        if (block.timestamp >= order.expiry) return OrderStatus.EXPIRED;
        return OrderStatus.FILLABLE;
    }

    function _hashOrder(Order memory order) private view returns (bytes32) {
        return _hashTypedDataV4(LibOrder.hash(order));
    }

    /// @dev The maker's ECDSA signature (65 bytes r‖s‖v, low s, v 27/28 or 0/1), or else, for a
    ///      maker with code, EIP-1271. ECDSA goes first (as in Solady's SignatureCheckerLib) so an
    ///      EOA maker costs no EXTCODESIZE (2,600 gas cold); no key signs for a contract's address.
    function _isValidSignature(address signer, bytes32 hash, bytes calldata signature)
        private
        view
        returns (bool)
    {
        if (signature.length == 65) {
            uint8 v = uint8(signature[64]);
            // Some wallets return v as 0/1 (PRODUCT.md accepts both); ecrecover wants 27/28.
            if (v < 27) v += 27;
            (address recovered, ECDSA.RecoverError err,) =
                ECDSA.tryRecover(hash, v, bytes32(signature[0:32]), bytes32(signature[32:64]));
            if (err == ECDSA.RecoverError.NoError && recovered == signer) return true;
        }
        return signer.code.length != 0 && SignatureChecker.isValidERC1271SignatureNow(signer, hash, signature);
    }

    /// @dev _isValidSignature for getOrderStates: the wallet is called with SIGNATURE_VIEW_GAS,
    ///      and only one word of its reply is copied back (a huge reply costs nothing).
    function _isValidSignatureView(address signer, bytes32 hash, bytes calldata signature)
        private
        view
        returns (bool valid)
    {
        if (signature.length == 65) {
            uint8 v = uint8(signature[64]);
            if (v < 27) v += 27; // as in _isValidSignature
            (address recovered, ECDSA.RecoverError err,) =
                ECDSA.tryRecover(hash, v, bytes32(signature[0:32]), bytes32(signature[32:64]));
            if (err == ECDSA.RecoverError.NoError && recovered == signer) return true;
        }
        if (signer.code.length == 0) return false;
        bytes memory data = abi.encodeCall(IERC1271.isValidSignature, (hash, signature));
        bytes32 magic = bytes32(IERC1271.isValidSignature.selector);
        assembly ("memory-safe") {
            let ok := staticcall(SIGNATURE_VIEW_GAS, signer, add(data, 0x20), mload(data), 0x00, 0x20)
            valid := and(and(ok, gt(returndatasize(), 0x1f)), eq(mload(0x00), magic))
        }
    }

    /// @dev A uint256-returning token view; a revert, a short reply or running out of
    ///      TOKEN_VIEW_GAS reads as 0. Only one word is copied back, so a huge reply costs nothing.
    function _tokenView(address token, bytes memory data) private view returns (uint256 value) {
        assembly ("memory-safe") {
            let ok := staticcall(TOKEN_VIEW_GAS, token, add(data, 0x20), mload(data), 0x00, 0x20)
            if and(ok, gt(returndatasize(), 0x1f)) { value := mload(0x00) }
        }
    }
}
