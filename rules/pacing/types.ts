// Predictive pacing: the one interface every controller implements. Pure and deterministic: time
// comes in with each event and observation (seconds, any epoch), nothing reads a clock or draws a
// random number, and the state is a plain JSON object that survives continue-as-new.

/** An agent who is logged in, not paused and not free. */
export type BusyAgent =
  /** On a call since `since`; a wrap-up of exactly `wrapSec` follows the call. */
  | { state: 'talk'; since: number; wrapSec: number }
  /** In wrap-up until `until` (known exactly: a timer). */
  | { state: 'wrap'; until: number };

/** What the dialer knows at a decision point. */
export interface Observation {
  now: number;
  /** Logged-in, not paused agents (free + busy). */
  loggedAgents: number;
  freeAgents: number;
  busy: BusyAgent[];
  /** Placement times of calls not yet answered or classified (dialing, ringing, in AMD analysis). */
  dialing: number[];
  /** Answered live calls waiting for an agent. */
  waiting: number;
  /** Calls bridged to an agent. */
  talking: number;
  /** Most calls allowed not yet bridged (dialing + waiting), e.g. 3 lines per agent. */
  maxLines: number;
  /** How long an answered call may wait for an agent before it is dropped (abandoned). */
  waitLimitSec: number;
}

/** What happened to a call; `at` is when. */
export type PacingEvent =
  | { type: 'placed'; at: number }
  /** Answered and classified human (or AMD off / NOTSURE routed to an agent): it needs an agent now. */
  | { type: 'live'; at: number; placedAt: number }
  /** Ended without needing an agent: no answer, busy, failed, or AMD said machine (`amdMachine`). */
  | { type: 'ended'; at: number; placedAt: number; answered: boolean; amdMachine?: boolean }
  /** A live call was bridged to an agent. */
  | { type: 'bridged'; at: number; liveAt: number }
  /** A live call found no agent within the wait limit and was dropped. */
  | { type: 'abandoned'; at: number; liveAt: number }
  /** A bridged call ended after `talkSec`; the agent's wrap-up starts now. */
  | { type: 'talkEnded'; at: number; talkSec: number };

export interface Decision<S> {
  state: S;
  /** Calls to originate now (the caller still applies its own limits). */
  callsToPlace: number;
}

export interface PacingController<S> {
  readonly name: string;
  onEvent(state: S, event: PacingEvent): S;
  decide(state: S, obs: Observation): Decision<S>;
}

/** One line per free agent, never more calls in flight than free agents: zero abandons by design. */
export function progressiveCalls(obs: Observation): number {
  const room = Math.max(0, obs.maxLines - obs.dialing.length - obs.waiting);
  return Math.min(room, Math.max(0, obs.freeAgents - obs.dialing.length - obs.waiting));
}
