// Hardhat 2.29 config. The compiler comes from the npm `solc` package: we override the
// subtask that would otherwise download a native solc build, so compiling works offline.
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = require("solc/package.json").version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) {
    throw new Error(`contracts pin solc ${args.solcVersion}, npm solc is ${SOLC_VERSION}`);
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: require("solc").version(),
  };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 10000 },
      evmVersion: "cancun",
      viaIR: false,
    },
  },
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      // Tests and the devnet use many accounts; 20 is Hardhat's default. `sdex devnet` sets
      // SDEX_DEV_ACCOUNTS when it wants more (benchmarks with many nodes and makers).
      accounts: { count: Number(process.env.SDEX_DEV_ACCOUNTS || 20) },
    },
  },
  paths: { sources: "./contracts", artifacts: "./artifacts", cache: "./cache" },
};
