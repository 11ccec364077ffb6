export * from './campaign';
export * from './member';
export * from './attempt';
export * from './member-end';
