// The Webitel v3 dialer rules, pure and deterministic: safe to import from workflow code.
export * from './types';
export * from './causes';
export * from './clock';
export * from './numbers';
export * from './member';
export * from './attempt';
export * from './channel-vars';
export * from './content';
export * from './amd';
export * from './member-end';
export * from './agents';
export * from './predictive';
export * from './line-priority';
