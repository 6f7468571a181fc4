// Seeds of the resilience suite: every fuzz case and kill moment replays from these.
export const FUZZ_SEED = 20261123;
export const CRASH_SEED = 20261123;
