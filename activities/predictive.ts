// Activities of a predictive call (§2.4): the member leg is parked after its answer; these play the
// hold file, call the agent, bridge the two, drop a member no agent was found for, and cancel an
// agent leg whose member hung up. And the campaign's pacing state (written by its workflow only).
import { buildOriginate, parseJobResult, type EslEvent } from '../esl';
import { Campaign } from '../models';
import { CampaignStore } from '../models/campaign-store';
import { playItemProblem, type Pacing } from '../rules';
import { config } from '../lib/config';
import { heartbeating } from './claim';
import type { ActivityDeps } from './deps';
import type { PredictiveActivities } from './types';

/** How long past the agent's ring time to wait for the originate's BACKGROUND_JOB. */
const JOB_GRACE_MS = 15_000;

export function createPredictiveActivities({ esl, log, agentEndpointsAllow = config.agentEndpointsAllow, soundsAllow = config.soundsAllow }: ActivityDeps): PredictiveActivities {
  const api = (command: string): Promise<string> => {
    if (!esl.api) throw new Error('ESL client without api()');
    return esl.api(command);
  };

  /** bgapi, then its BACKGROUND_JOB (the agent leg may ring for a minute: never a blocking api). */
  function bgapiResult(command: string, jobUuid: string, timeoutMs: number): Promise<string> {
    const { on, off } = esl;
    if (!on || !off) throw new Error('ESL client without events');
    return new Promise<string>((resolve, reject) => {
      const onJob = (ev: EslEvent) => {
        if (ev['Job-UUID'] !== jobUuid) return;
        done();
        resolve(ev._body ?? '');
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no BACKGROUND_JOB for ${jobUuid} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        off.call(esl, 'BACKGROUND_JOB', onJob);
      };
      on.call(esl, 'BACKGROUND_JOB', onJob);
      esl.bgapi(command, jobUuid).catch((err: unknown) => {
        done();
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  return {
    async playToMember({ uuid, file }) {
      // Checked again at the door: the stored document may predate the check.
      const problem = playItemProblem(file, soundsAllow);
      if (problem) {
        log.warn({ uuid, file, problem }, 'playbackFile not played');
        return false;
      }
      return (await api(`uuid_broadcast ${uuid} ${file} aleg`)).startsWith('+OK');
    },

    async callAgent({ uuid, jobUuid, memberUuid, contact, vars, timeoutSec }) {
      let command: string;
      try {
        command = buildOriginate({ uuid, dialString: contact, vars: { ...vars, cc_member_session_uuid: memberUuid }, timeoutSec, endpoints: agentEndpointsAllow });
      } catch (err) {
        log.warn({ uuid, contact, err: String(err) }, 'agent leg not sent');
        return { answered: false, cause: 'INVALID_NUMBER_FORMAT' };
      }
      // Heartbeats while the agent's phone rings: a lost worker is noticed within the heartbeat timeout.
      const job = parseJobResult(await heartbeating(() => bgapiResult(command, jobUuid, timeoutSec * 1000 + JOB_GRACE_MS)));
      return job.ok ? { answered: true } : { answered: false, cause: job.cause };
    },

    async bridgeCalls({ memberUuid, agentUuid }) {
      return (await api(`uuid_bridge ${memberUuid} ${agentUuid}`)).startsWith('+OK');
    },

    async cancelAgentLegs({ memberUuid }) {
      // §2.4: the member hung up while its agent was being called.
      if (!esl.hupall) throw new Error('ESL client without hupall()');
      await esl.hupall('ORIGINATOR_CANCEL', 'cc_member_session_uuid', memberUuid);
    },

    async loadPacing(campaignId) {
      const doc = await Campaign.findById(campaignId, { _pacingState: 1 }).lean<{ _pacingState?: Pacing | null }>();
      return doc?._pacingState ?? null;
    },

    async savePacing({ campaignId, state, view }) {
      await CampaignStore.setPacing(campaignId, state, view);
    },
  };
}
