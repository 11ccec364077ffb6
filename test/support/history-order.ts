// Reading a workflow's history for what ended one of its waits: a signal (the next step was
// scheduled before any timer fired) or a timer (the fallback poll).
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;

/** For each `signal` received: whether the workflow scheduled `activity` next ('activity'), or a
 *  timer fired first ('timer'), or neither happened before the history ends ('neither'). */
export function afterEachSignal(history: History, signal: string, activity: string): ('activity' | 'timer' | 'neither')[] {
  const events = history.events ?? [];
  return events.flatMap((e, i) => {
    if (e.workflowExecutionSignaledEventAttributes?.signalName !== signal) return [];
    for (const next of events.slice(i + 1)) {
      if (next.timerFiredEventAttributes) return ['timer' as const];
      if (next.activityTaskScheduledEventAttributes?.activityType?.name === activity) return ['activity' as const];
    }
    return ['neither' as const];
  });
}
