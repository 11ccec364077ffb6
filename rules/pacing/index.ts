// Predictive pacing controllers behind one interface (see types.ts).
export * from './types';
export * from './window';
export * from './progressive';
export * from './g2';
export * from './v4';
export * from './vicidial';
export * from './forecast';
export * from './compliance';
