import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { EslClient } from '../esl';
import type { ChannelVariableAllowList } from '../rules';

/** What the activities need from the worker process; injected so tests hand in real parts. */
export interface ActivityDeps {
  /** api, hupall and the events: predictive calls only (activities/predictive.ts). */
  esl: Pick<EslClient, 'bgapi' | 'uuidExists' | 'uuidKill'> & Partial<Pick<EslClient, 'api' | 'hupall' | 'on' | 'off'>>;
  client: Client;
  log: Logger;
  /** Task queue member workflows are started on (the worker's own). */
  taskQueue: string;
  /** Tenant variables FreeSWITCH acts on that may be sent anyway; default config.channelVariablesAllow. */
  channelVariablesAllow?: ChannelVariableAllowList;
  /** Endpoint prefixes a destination may dial; default config.dialEndpointsAllow. */
  dialEndpointsAllow?: readonly string[];
  /** Endpoint prefixes an agent's contact may dial; default config.agentEndpointsAllow. */
  agentEndpointsAllow?: readonly string[];
  /** Sound files a tenant may play; default config.soundsAllow. */
  soundsAllow?: readonly string[];
  /** Originations per second per sofia gateway; default config.gatewayCps (GATEWAY_CPS). */
  gatewayCps?: Record<string, number>;
  /** Simultaneous calls per sofia gateway across campaigns; default config.gatewayLines (GATEWAY_LINES). */
  gatewayLines?: Record<string, number>;
}
