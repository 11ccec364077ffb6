// Public surface of the dialer's ESL layer. See esl/README.md.
export {
  EslClient,
  EslError,
  EslNotConnectedError,
  EslTimeoutError,
  EslConnectionLostError,
  EslCommandError,
  DEFAULT_EVENTS,
  reconnectDelay,
  subscriptionCommand,
} from './client';
export type { EslClientOptions, EslConnectedInfo, EslLogger } from './client';
export { bridgeApp, buildOriginate, dialEndpointProblem, dialStringProblem, DEFAULT_DIAL_ENDPOINTS, parseJobResult, hangupFromEvent, sanitizeVarValue } from './format';
export type { EslEvent, OriginateOptions, JobResult, HangupInfo } from './format';
