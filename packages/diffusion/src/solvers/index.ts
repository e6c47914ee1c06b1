export * from './noise-schedule-vp.ts';
export * from './time-grid.ts';
