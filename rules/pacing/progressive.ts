// Progressive: one line per free agent (the zero-abandon baseline, and every controller's floor).
import { progressiveCalls, type PacingController } from './types';

export type ProgressiveState = Record<string, never>;

export const progressive: PacingController<ProgressiveState> = {
  name: 'progressive',
  onEvent: (state) => state,
  decide: (state, obs) => ({ state, callsToPlace: progressiveCalls(obs) }),
};

export function newProgressiveState(): ProgressiveState {
  return {};
}
