// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IExchange, Order, OrderStatus, OrderState, MatchPair} from "./interfaces/IExchange.sol";
import {LibFill} from "./libraries/LibFill.sol";
import {LibOrder} from "./libraries/LibOrder.sol";

/// @title SDEX Exchange
/// @notice Settles EIP-712 signed limit orders, moving tokens straight from maker to
///         counterparty: the Exchange never holds tokens. Rules, arithmetic, events and errors
///         are pinned in docs/ARCHITECTURE.md.
contract Exchange is IExchange, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev Bit 255 of a fill slot: cancelled by hash. Bits 0..254: the filled maker amount.
    uint256 private constant CANCELLED_FLAG = 1 << 255;
    uint256 private constant FILLED_MASK = CANCELLED_FLAG - 1;

    /// @dev Gas for each token view in getOrderStates, so a gas-burning token reads as 0
    ///      instead of starving the rest of the batch (a plain ERC-20 needs under 10k).
    uint256 private constant TOKEN_VIEW_GAS = 100_000;

    /// @dev One slot per order: filled amount and cancel flag together, one SLOAD per fill.
    mapping(bytes32 orderHash => uint256 fillState) private _fillStates;
    mapping(address maker => uint256 salt) private _minValidSalts;

    constructor() EIP712("SDEX", "1") {}

    // ───────────────────────────── settlement ─────────────────────────────

    /// @inheritdoc IExchange
    function fillOrder(Order calldata order, bytes calldata signature, uint256 takerFillAmount)
        external
        nonReentrant
        returns (uint256 makerFilled, uint256 takerPaid)
    {
        (bytes32 hash, uint256 filled) = _checkOrder(order, signature, msg.sender);
        uint256 fee;
        (makerFilled, takerPaid, fee) = LibFill.fillOrderAmounts(
            hash, order.makerAmount, order.takerAmount, order.feeAmount, filled, takerFillAmount
        );
        _recordFill(order, hash, filled, makerFilled, takerPaid, msg.sender, fee);

        _pay(order.makerToken, order.maker, msg.sender, makerFilled);
        // fee <= takerPaid because feeAmount <= takerAmount (floor vs ceil of the same ratio)
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
        return _matchOrders(left, leftSignature, right, rightSignature, maxLeftFill);
    }

    /// @inheritdoc IExchange
    /// @dev Reverts the whole batch only on ArrayLengthMismatch; a pair with an index out of
    ///      range is skipped with reason PairIndexOutOfRange, like any failing match.
    function batchMatchOrders(Order[] calldata orders, bytes[] calldata signatures, MatchPair[] calldata pairs)
        external
        nonReentrant
        returns (uint256 settled)
    {
        uint256 count = orders.length;
        if (signatures.length != count) revert ArrayLengthMismatch(count, signatures.length);
        for (uint256 i; i < pairs.length; ++i) {
            uint256 l = pairs[i].left;
            uint256 r = pairs[i].right;
            if (l >= count || r >= count) {
                bytes32 leftHash = l < count ? _hashOrder(orders[l]) : bytes32(0);
                bytes32 rightHash = r < count ? _hashOrder(orders[r]) : bytes32(0);
                emit MatchSkipped(i, leftHash, rightHash, abi.encodeWithSelector(PairIndexOutOfRange.selector, l, r, count));
                continue;
            }
            // A call frame of its own: any revert (ours or a token's) undoes this match only.
            try this.settleMatch(orders[l], signatures[l], orders[r], signatures[r], pairs[i].maxLeftFill) {
                // Cannot overflow: at most pairs.length increments.
                unchecked {
                    ++settled;
                }
            } catch (bytes memory reason) {
                // Hashed only on failure, so a settled match pays for its hashes once.
                emit MatchSkipped(i, _hashOrder(orders[l]), _hashOrder(orders[r]), reason);
            }
        }
    }

    /// @inheritdoc IExchange
    /// @dev Not nonReentrant itself: batchMatchOrders holds the lock while calling it, and no one
    ///      else can call it, so a token re-entering during a batch still meets the lock.
    function settleMatch(
        Order calldata left,
        bytes calldata leftSignature,
        Order calldata right,
        bytes calldata rightSignature,
        uint256 maxLeftFill
    ) external returns (uint256 leftFilled, uint256 rightFilled) {
        if (msg.sender != address(this)) revert OnlySelf(msg.sender);
        return _matchOrders(left, leftSignature, right, rightSignature, maxLeftFill);
    }

    // ──────────────────────────── cancellation ────────────────────────────

    /// @inheritdoc IExchange
    /// @dev Idempotent: cancelling a cancelled order changes nothing and emits nothing.
    function cancelOrder(Order calldata order) external {
        bytes32 hash = _hashOrder(order);
        if (msg.sender != order.maker) revert OnlyMaker(hash, order.maker, msg.sender);
        uint256 fillState = _fillStates[hash];
        if (fillState & CANCELLED_FLAG != 0) return;
        _fillStates[hash] = fillState | CANCELLED_FLAG; // keeps the filled amount in bits 0..254
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
        return _orderInfo(order);
    }

    /// @inheritdoc IExchange
    /// @dev Token calls that revert, return fewer than 32 bytes or burn TOKEN_VIEW_GAS read as 0.
    function getOrderStates(Order[] calldata orders, bytes[] calldata signatures)
        external
        view
        returns (OrderState[] memory states)
    {
        if (signatures.length != orders.length) revert ArrayLengthMismatch(orders.length, signatures.length);
        states = new OrderState[](orders.length);
        for (uint256 i; i < orders.length; ++i) {
            Order calldata order = orders[i];
            OrderState memory state = states[i];
            (state.orderHash, state.status, state.filledMakerAmount) = _orderInfo(order);
            state.signatureValid = _isValidSignature(order.maker, state.orderHash, signatures[i]);
            state.makerBalance = _tokenView(order.makerToken, abi.encodeCall(IERC20.balanceOf, (order.maker)));
            state.makerAllowance =
                _tokenView(order.makerToken, abi.encodeCall(IERC20.allowance, (order.maker, address(this))));
        }
    }

    /// @inheritdoc IExchange
    function minValidSalt(address maker) external view returns (uint256) {
        return _minValidSalts[maker];
    }

    /// @inheritdoc IExchange
    function orderHash(Order calldata order) external view returns (bytes32) {
        return _hashOrder(order);
    }

    // ────────────────────────────── internals ─────────────────────────────

    /// @dev `left` rests and sets the price; `right` comes in (ARCHITECTURE.md "matchOrders").
    ///      Per-order checks come first (left, then right), then the pair's tokens, then amounts.
    function _matchOrders(
        Order calldata left,
        bytes calldata leftSignature,
        Order calldata right,
        bytes calldata rightSignature,
        uint256 maxLeftFill
    ) private returns (uint256, uint256) {
        (bytes32 leftHash, uint256 leftBefore) = _checkOrder(left, leftSignature, right.maker);
        // From here on maxLeftFill is left's available amount: its remainder, capped.
        uint256 leftRemaining = left.makerAmount - leftBefore;
        if (maxLeftFill > leftRemaining) maxLeftFill = leftRemaining;
        return _matchRight(left, leftHash, leftBefore, maxLeftFill, right, rightSignature);
    }

    /// @dev The second half of _matchOrders, split off to keep each frame within 16 stack slots
    ///      (no via-IR): checks `right` and the pair's tokens, then executes.
    function _matchRight(
        Order calldata left,
        bytes32 leftHash,
        uint256 leftBefore,
        uint256 leftAvailable,
        Order calldata right,
        bytes calldata rightSignature
    ) private returns (uint256, uint256) {
        (bytes32 rightHash, uint256 rightBefore) = _checkOrder(right, rightSignature, left.maker);
        if (right.makerToken != left.takerToken || right.takerToken != left.makerToken) {
            revert TokenMismatch(leftHash, rightHash);
        }
        return _executeMatch(left, leftHash, leftBefore, leftAvailable, right, rightHash, rightBefore);
    }

    /// @dev Amounts, fill records and transfers of a checked match. (Parameter order is
    ///      grouped per side so that every argument below stays within 16 stack slots.)
    function _executeMatch(
        Order calldata left,
        bytes32 leftHash,
        uint256 leftBefore,
        uint256 leftAvailable,
        Order calldata right,
        bytes32 rightHash,
        uint256 rightBefore
    ) private returns (uint256 x, uint256 y) {
        // fees[0] is left's, fees[1] right's; in memory, so the stack keeps room for the 7 params
        uint256[2] memory fees;
        (x, y, fees[0], fees[1]) = LibFill.matchAmounts(
            leftHash,
            rightHash,
            left.makerAmount,
            left.takerAmount,
            left.feeAmount,
            leftAvailable,
            right.makerAmount,
            right.takerAmount,
            right.feeAmount,
            rightBefore
        );
        _recordFill(left, leftHash, leftBefore, x, y, right.maker, fees[0]);
        _recordFill(right, rightHash, rightBefore, y, x, left.maker, fees[1]);

        // No underflow: left's fee <= y as left.feeAmount <= left.takerAmount, and right's fee <=
        // floor(y * right.takerAmount / right.makerAmount) <= x by the price check in matchAmounts.
        unchecked {
            _pay(left.makerToken, left.maker, right.maker, x - fees[1]);
            _pay(right.makerToken, right.maker, left.maker, y - fees[0]);
        }
        _pay(left.makerToken, left.maker, right.feeRecipient, fees[1]);
        _pay(right.makerToken, right.maker, left.feeRecipient, fees[0]);
    }

    /// @dev The checks of one order about to be filled, ordered so that each bad order gets its
    ///      own error: amounts, tokens, status, expiry, taker, signature. Returns the order's
    ///      hash and filled amount.
    function _checkOrder(Order calldata order, bytes calldata signature, address counterparty)
        private
        view
        returns (bytes32 hash, uint256 filled)
    {
        hash = _hashOrder(order);
        if (!LibOrder.hasValidAmounts(order)) {
            revert InvalidOrderAmounts(hash, order.makerAmount, order.takerAmount, order.feeAmount);
        }
        if (order.makerToken == order.takerToken) revert SameTokens(hash, order.makerToken);
        uint256 fillState = _fillStates[hash]; // the only read of this order's slot in this fill
        OrderStatus status = _liveStatus(order, fillState);
        if (status == OrderStatus.EXPIRED) revert OrderExpired(hash, order.expiry, block.timestamp);
        if (status != OrderStatus.FILLABLE) revert OrderNotFillable(hash, status);
        if (order.taker != address(0) && order.taker != counterparty) {
            revert TakerNotAllowed(hash, order.taker, counterparty);
        }
        filled = fillState; // FILLABLE implies the cancel flag is clear
        // An order with a fill has passed this check before (ARCHITECTURE.md "Fill state").
        if (filled == 0 && !_isValidSignature(order.maker, hash, signature)) {
            revert InvalidSignature(hash, order.maker);
        }
    }

    /// @dev The one place that records a fill; the event follows the state change.
    function _recordFill(
        Order calldata order,
        bytes32 hash,
        uint256 filledBefore,
        uint256 makerFilled,
        uint256 takerFilled,
        address taker,
        uint256 fee
    ) private {
        // Cannot overflow: makerFilled <= makerAmount - filledBefore and makerAmount < 2**255,
        // so the sum stays below the cancel flag.
        unchecked {
            _fillStates[hash] = filledBefore + makerFilled;
        }
        emit OrderFilled(hash, order.maker, taker, makerFilled, takerFilled, order.feeRecipient, fee);
    }

    /// @dev Moves `amount` of `token` from `from` to `to`; zero amounts (no fee, or a fee equal
    ///      to the whole proceeds) are skipped, saving gas and sparing tokens that reject them.
    function _pay(address token, address from, address to, uint256 amount) private {
        if (amount != 0) IERC20(token).safeTransferFrom(from, to, amount);
    }

    function _orderInfo(Order calldata order)
        private
        view
        returns (bytes32 hash, OrderStatus status, uint256 filledMakerAmount)
    {
        hash = _hashOrder(order);
        uint256 fillState = _fillStates[hash];
        filledMakerAmount = fillState & FILLED_MASK;
        status = LibOrder.isValid(order) ? _liveStatus(order, fillState) : OrderStatus.INVALID;
    }

    /// @dev Status of an order that passes the validity rules: CANCELLED, FILLED, EXPIRED, FILLABLE.
    function _liveStatus(Order calldata order, uint256 fillState) private view returns (OrderStatus) {
        if (fillState & CANCELLED_FLAG != 0 || order.salt < _minValidSalts[order.maker]) {
            return OrderStatus.CANCELLED;
        }
        if (fillState == order.makerAmount) return OrderStatus.FILLED; // flag is clear: fillState == filled
        if (block.timestamp >= order.expiry) return OrderStatus.EXPIRED;
        return OrderStatus.FILLABLE;
    }

    function _hashOrder(Order calldata order) private view returns (bytes32) {
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

    /// @dev A uint256-returning token view; a revert, a short reply or running out of
    ///      TOKEN_VIEW_GAS reads as 0. Only one word is copied back, so a huge reply costs nothing.
    function _tokenView(address token, bytes memory data) private view returns (uint256 value) {
        assembly ("memory-safe") {
            let ok := staticcall(TOKEN_VIEW_GAS, token, add(data, 0x20), mload(data), 0x00, 0x20)
            if and(ok, gt(returndatasize(), 0x1f)) { value := mload(0x00) }
        }
    }
}
