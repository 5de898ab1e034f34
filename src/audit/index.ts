export * from './engine';
export * from './ha-audit';
