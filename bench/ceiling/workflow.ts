// The Temporal shape of one dialer attempt, without Mongo or ESL (bench/temporal-ceiling.ts):
// started with its grant (signal-with-start), two local activities (load member, load campaign),
// a third (place the call) that asks for the result signal, a search-attribute upsert (in call),
// the result signal, a last local activity (store the attempt), completion.
import { condition, defineSignal, proxyLocalActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { searchAttributes as SA } from '../../lib/search-attributes';
import type { CeilingActivities } from './activities';

export const grant = defineSignal<[string]>('grant');
export const result = defineSignal<[string]>('result');

const local = proxyLocalActivities<CeilingActivities>({ startToCloseTimeout: '30 seconds' });

export async function attemptWorkflow(id: string): Promise<string> {
  let granted: string | null = null;
  let cause: string | null = null;
  setHandler(grant, (lease) => { granted = lease; });
  setHandler(result, (c) => { cause = c; });
  await local.load(id);
  await local.load(id);
  await condition(() => granted !== null);
  await local.place(id);
  upsertSearchAttributes([{ key: SA.MemberState, value: 'in-call' }, { key: SA.Attempt, value: 1 }]);
  await condition(() => cause !== null);
  await local.end(id);
  return cause!;
}
