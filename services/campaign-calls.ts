// Calls of a campaign that is being deleted. A member holding a line (`_dispatch`: granted; `_lock`:
// its call placed) is owned by its member workflow; terminating that workflow would leave the
// person in a call nobody owns or hangs up (measured: answered calls still up 27 min after a
// DELETE). So DELETE refuses while calls are up, and DELETE ?force=true asks each owner to end
// its member with the terminate Update (spec §9.4: a live call is hung up with uuid_kill …
// MANAGER_REQUEST by the workflow's activity, and the member ends once the call's result is in)
// before anything is deleted. Stop (PUT …/state/3) needs none of this: the member workflows keep
// running and own their calls until they end (§8.2).
import type { Client } from '@temporalio/client';
import { isValidObjectId } from 'mongoose';
import { Member } from '../models';
import { stopCampaignWorkflow } from '../workflows/start';
import { memberWorkflowId, parseMemberWorkflowId, terminateUpdate } from '../workflows/messages';
import { HttpError } from '../lib/http-error';
import { mapLimit } from '../lib/map-limit';
import { runUpdate } from './workflows';

/** Members of the campaign in a call or placing one (`_lock` set by placeCall until the attempt ends). */
export async function membersInCall(client: Client, campaignId: string): Promise<string[]> {
  return membersWhere(client, campaignId, { _lock: { $ne: null } });
}

/** Members holding a line: granted (`_dispatch`) or in a call (`_lock`). */
async function membersHoldingLines(client: Client, campaignId: string): Promise<string[]> {
  return membersWhere(client, campaignId, { $or: [{ _lock: { $ne: null } }, { _dispatch: { $ne: null } }] });
}

/** The campaign's members matching `cond`. Only a member whose workflow runs holds a line, so only
 *  those are read (by `_id`): the embedded store would read every member of the campaign for
 *  `cond`. Without the visibility query (search attributes missing), all members are read. */
async function membersWhere(client: Client, campaignId: string, cond: Record<string, unknown>): Promise<string[]> {
  let running: string[] | undefined = [];
  try {
    for await (const wf of client.workflow.list({ query: `CampaignId = "${campaignId}" AND ExecutionStatus = "Running"` })) {
      const m = parseMemberWorkflowId(wf.workflowId);
      if (m && isValidObjectId(m.memberId)) running.push(m.memberId);
    }
  } catch {
    running = undefined;
  }
  const idOf = (r: unknown) => String((r as { _id: unknown })._id);
  if (!running) return (await Member.find({ dialer: campaignId, ...cond }, { _id: 1 }).lean()).map(idOf);
  const out: string[] = [];
  for (let i = 0; i < running.length; i += 500) {
    out.push(...(await Member.find({ _id: { $in: running.slice(i, i + 500) }, dialer: campaignId, ...cond }, { _id: 1 }).lean()).map(idOf));
  }
  return out;
}

/**
 * Stops the campaign (no new grants) and has every member holding a line ended by its workflow,
 * which hangs its call up first. Returns the members ended this way. Throws 503 when an owner did
 * not answer in time (a worker down): nothing may be deleted then, the calls would lose their owner.
 */
export async function hangUpCampaignCalls(client: Client, campaignId: string, updateTimeoutMs: number): Promise<number> {
  await stopCampaignWorkflow(client, campaignId);
  const done = new Set<string>();
  let unanswered = 0;
  // A claim in flight when the stop arrived may still grant a member: look again until none is new.
  for (let pass = 0; pass < 5; pass++) {
    const todo = (await membersHoldingLines(client, campaignId)).filter((id) => !done.has(id));
    if (todo.length === 0) break;
    await mapLimit(todo, 20, async (memberId) => {
      done.add(memberId);
      const handle = client.workflow.getHandle(memberWorkflowId(campaignId, memberId));
      try {
        // not-found (no workflow: nothing owns a call there) and rejected (already ended) are both done.
        await runUpdate(client, updateTimeoutMs, () => handle.executeUpdate(terminateUpdate, { args: [] }));
      } catch {
        unanswered++;
      }
    });
  }
  if (unanswered > 0) {
    throw new HttpError(503, `${unanswered} member workflow(s) in a call did not answer the hang-up in time (is a worker running?); nothing was deleted, the campaign is stopped; retry later`);
  }
  return done.size;
}
