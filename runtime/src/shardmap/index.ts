/** The slot map shared by routers, members and the resharding migrator (docs/resharding.md). */
export * from './map';
export { SlotGuard } from './guard';
