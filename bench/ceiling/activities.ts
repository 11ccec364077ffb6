// Local activities of the ceiling workflow: no I/O but the result signal, which the worker's client
// sends as the call-result router does for a real call.
export interface CeilingActivities {
  load(id: string): Promise<void>;
  place(id: string): Promise<void>;
  end(id: string): Promise<void>;
}

export function ceilingActivities(o: { signalResult(id: string): void; ended(id: string): void }): CeilingActivities {
  return {
    async load() {},
    async place(id) {
      // As the originate's BACKGROUND_JOB -ERR: the result arrives right after the send.
      setImmediate(() => o.signalResult(id));
    },
    async end(id) {
      o.ended(id);
    },
  };
}
