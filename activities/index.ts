// All activities the dialer worker serves, built from injected dependencies.
import { createAgentActivities } from './agents';
import { createCampaignActivities } from './campaign';
import type { ActivityDeps } from './deps';
import { createMemberActivities } from './member';
import { createPurgeActivities, type PurgeActivities } from './purge';
import { createPredictiveActivities } from './predictive';
import type { DialerActivities } from './types';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps): DialerActivities & PurgeActivities {
  return { ...createMemberActivities(deps), ...createCampaignActivities(deps), ...createAgentActivities(deps), ...createPredictiveActivities(deps), ...createPurgeActivities() };
}
