// The workflow bundle entry: every workflow type the worker serves.
export { memberWorkflow } from './member';
export { campaignWorkflow } from './campaign';
export { webhookDispatcherWorkflow, deliverMemberEndWorkflow } from './webhook';
export { agentWorkflow } from './agent';
export { purgeMembersWorkflow } from './purge';
export { templateJobWorkflow } from './template';
export { memberExpirySweepWorkflow } from './expiry';
