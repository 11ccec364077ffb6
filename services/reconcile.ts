// Reconciliation of open attempts (spec esl-protocol.md §7 point 6): mod_event_socket keeps nothing
// for a disconnected client, so every result that finished while the worker was not connected
// (connection reset, half-open silence, worker restart, FreeSWITCH restart with a new Core-UUID)
// is gone from the socket. After every ESL (re)connect — the subscription is already in place, so
// results finishing from now on are not missed — and periodically, every open attempt (sent, no
// result) is checked:
//   uuid_exists true   → the call is alive; its hangup event (or CDR) will settle it;
//   uuid_exists false  → wait a grace period (a late CDR retry, or an originate that had not yet
//                        created its channel), check again; still gone and still no result →
//                        LOST_CALL through the same first-wins settle + signal as every other source
//                        (the member retries, uncounted a bounded number of times; a call whose
//                        CHANNEL_ANSWER was recorded is answered-and-lost and never redialled:
//                        rules applyOutcome `lost`).
// Attempts settled but not yet applied by their workflow (the signal failed, e.g. Temporal was
// down) are signalled again. The member workflow's own overdue check (checkCall) stays the
// backstop for anything this misses.
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { EslClient, EslConnectedInfo } from '../esl';
import { settleLost, storedResult } from '../activities/member';
import { Attempt, recordAnswer, storedResultsOf, type AttemptResult } from '../models';
import { callResultSignal } from '../workflows/messages';
import { reconciled } from '../lib/metrics';
import { attemptFields } from './attempt-context';

export interface ReconcilerOptions {
  esl: EslClient;
  client: Client;
  log: Logger;
  /** Wait between "gone" and "lost" (default 10 s). */
  graceMs?: number;
  /** Periodic pass while connected (default 60 s; 0 = only on (re)connect). */
  intervalMs?: number;
  /** Settled results not applied after this long are signalled again (default 30 s). */
  resignalAfterMs?: number;
}

export interface ReconcileReport {
  reason: string;
  open: number;
  alive: number;
  lost: number;
  /** Of those, answered before they vanished (CHANNEL_ANSWER recorded): not redialled. */
  answeredLost: number;
  /** Live calls found answered that had no answer recorded (it came while nobody listened). */
  answeredFound: number;
  /** Settled by another source during the grace period. */
  settledMeanwhile: number;
  resignalled: number;
}

export interface ReconcilerTotals {
  passes: number;
  lost: number;
  resignalled: number;
  failedPasses: number;
}

interface OpenAttempt {
  _id: string;
  workflowId: string;
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again: string | undefined;
  private stopped = false;
  private wakeGrace: (() => void) | undefined;
  readonly totals: ReconcilerTotals = { passes: 0, lost: 0, resignalled: 0, failedPasses: 0 };
  private readonly graceMs: number;
  private readonly intervalMs: number;
  private readonly resignalAfterMs: number;
  private readonly onConnected = (info: EslConnectedInfo) =>
    this.trigger(info.coreUuidChanged ? 'Core-UUID changed (FreeSWITCH restarted)' : 'ESL (re)connected');

  constructor(private readonly o: ReconcilerOptions) {
    this.graceMs = o.graceMs ?? 10_000;
    this.intervalMs = o.intervalMs ?? 60_000;
    this.resignalAfterMs = o.resignalAfterMs ?? 30_000;
  }

  start(): void {
    this.o.esl.on('connected', this.onConnected);
    if (this.o.esl.isConnected()) this.trigger('start');
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => {
        if (this.o.esl.isConnected()) this.trigger('periodic');
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Stops future passes and cuts a grace wait short (that pass then settles nothing). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.o.esl.off('connected', this.onConnected);
    if (this.timer) clearInterval(this.timer);
    this.wakeGrace?.();
    await this.running;
  }

  /** Runs a pass now, or right after the one in progress. */
  trigger(reason: string): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = reason;
      return;
    }
    this.running = (async () => {
      let next: string | undefined = reason;
      while (next && !this.stopped) {
        this.again = undefined;
        await this.runOnce(next).catch((err: unknown) => {
          this.totals.failedPasses++;
          reconciled(null);
          this.o.log.warn({ reason: next, err: String(err) }, 'reconciliation pass failed; the next (re)connect or period retries');
        });
        next = this.again;
      }
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves when no pass is running or queued. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async runOnce(reason: string): Promise<ReconcileReport> {
    const { esl, client, log } = this.o;
    const report: ReconcileReport = { reason, open: 0, alive: 0, answeredFound: 0, lost: 0, answeredLost: 0, settledMeanwhile: 0, resignalled: 0 };
    // Sent and not yet ended by their workflow; those with a stored result only wait for it to apply it.
    const notEnded = await Attempt.find({ sentOn: { $ne: null }, result: null }, { _id: 1, workflowId: 1 }).lean<OpenAttempt[]>();
    const stored = await storedResultsOf(notEnded.map((a) => a._id));
    const open = notEnded.filter((a) => !stored.has(a._id));
    report.open = open.length;
    const gone: OpenAttempt[] = [];
    const alive: OpenAttempt[] = [];
    for (const a of open) {
      if (await esl.uuidExists(a._id)) alive.push(a);
      else gone.push(a);
    }
    report.alive = alive.length;
    // An answer that came while no worker listened (worker down, ESL half-open) is recorded now,
    // from the switch's own channel list: should the call vanish later, it is never redialled.
    if (alive.length > 0) report.answeredFound = await this.recordAnswered(alive);
    if (gone.length > 0 && !this.stopped) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.graceMs);
        this.wakeGrace = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wakeGrace = undefined;
    }
    for (const a of gone) {
      if (this.stopped) break;
      // Its send claim undone meanwhile (not sent: its retry records it again).
      if (!(await Attempt.exists({ _id: a._id }))) {
        report.settledMeanwhile++;
        continue;
      }
      // It may have come into being meanwhile (an originate that had not created its channel yet).
      if (await esl.uuidExists(a._id)) {
        report.alive++;
        continue;
      }
      try {
        // LOST_CALL, or, when its CHANNEL_ANSWER was recorded, an answered call whose result was
        // lost: the member ends with it instead of being rung again (rules applyOutcome).
        const lost = await settleLost(a._id);
        if (!lost) {
          report.settledMeanwhile++;
          continue;
        }
        report.lost++;
        if (lost.answered) report.answeredLost++;
        await client.workflow.getHandle(a.workflowId).signal(callResultSignal, lost);
        log.child(attemptFields(a.workflowId, a._id)).info({ workflowId: a.workflowId, ...lost }, 'call result');
      } catch (err) {
        // Stored but not signalled (Temporal down): the re-signal below / the workflow's own check apply it.
        log.child(attemptFields(a.workflowId, a._id)).warn({ uuid: a._id, err: String(err) }, 'reconcile: LOST_CALL not signalled');
      }
    }
    report.resignalled = await this.resignal(notEnded, stored);
    this.totals.passes++;
    this.totals.lost += report.lost;
    this.totals.resignalled += report.resignalled;
    if (report.open > 0 || report.resignalled > 0 || reason !== 'periodic') log.info(report, 'reconciliation');
    reconciled(report);
    return report;
  }

  /** Records the answer of the live attempts the switch lists as answered (the first answer stays). */
  private async recordAnswered(alive: OpenAttempt[]): Promise<number> {
    const answered = await this.o.esl.answeredChannels();
    let n = 0;
    for (const a of alive) if (answered.has(a._id) && (await recordAnswer(a._id, Date.now()))) n++;
    return n;
  }

  /** Results stored a while ago that their workflow has not applied yet (signal lost): again. */
  private async resignal(notEnded: OpenAttempt[], stored: Map<string, AttemptResult>): Promise<number> {
    const now = Date.now();
    let n = 0;
    for (const a of notEnded) {
      const settled = stored.get(a._id);
      if (!settled || settled.settledOn >= now - this.resignalAfterMs || settled.settledOn <= now - 3_600_000) continue;
      const r = storedResult(a._id, settled);
      if (!r) continue;
      try {
        // Idempotent: the workflow ignores a result for another attempt or when it already has one.
        await this.o.client.workflow.getHandle(a.workflowId).signal(callResultSignal, r);
        n++;
      } catch {
        /* closed or unknown workflow: nothing waits for it */
      }
    }
    return n;
  }
}
