// Leading- and trailing-edge throttle per key: the first call for a key runs at once, calls within
// `windowMs` after it collapse into one run at the end of the window, so the last call is never
// dropped. Used for campaign wake-ups (each costs the campaign a claim read).

export function coalescer(windowMs: number, run: (key: string) => void): (key: string) => void {
  const state = new Map<string, { last: number; pending: boolean }>();
  return (key) => {
    const s = state.get(key) ?? { last: -Infinity, pending: false };
    state.set(key, s);
    if (s.pending) return;
    const fire = () => {
      s.pending = false;
      s.last = Date.now();
      run(key);
    };
    const wait = s.last + windowMs - Date.now();
    if (wait <= 0) return fire();
    s.pending = true;
    setTimeout(fire, wait).unref();
  };
}
