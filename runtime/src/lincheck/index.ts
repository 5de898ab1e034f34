/**
 * The linearizability checker: parse a JSON Lines history of a key-value store and decide
 * whether it is linearizable. See `checker.ts` for the algorithm and `history.ts` for the format.
 */
export { HistoryEvent, HistoryError, Operation, OpFunction, EventType, Value, parseHistory, pairOperations, describeOperation, validateEvent } from './history';
export { checkHistory, checkOperations, CheckOptions, CheckResult, CheckStats, Linearizable, NotLinearizable, Unknown } from './checker';
export { randomHistory, RandomHistoryOptions, RandomHistory } from './random-history';
