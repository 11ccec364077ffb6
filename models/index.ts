export * from './campaign';
export * from './calendar';
export * from './member';
export * from './attempt';
export * from './member-end';
