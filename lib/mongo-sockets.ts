// A write on a dead socket must fail, not wait forever.
//
// The mongodb driver (6.20, and upstream up to 7.5 at least) writes a command with socket.write()
// and, when that returns false, waits for the socket's 'drain' or 'error'. A socket Node has
// already destroyed (the server closed it: FerretDB killed; Node ended and destroyed our side, but
// the 'close' event that marks the driver's Connection closed has not fired yet) returns false and
// emits neither, and a destroyed socket takes no timeout: the command waits for good. When that
// command is the server monitor's heartbeat — the monitor is asked for a check the moment an
// operation fails on the same restart — the monitor never checks again, the server stays Unknown,
// and every operation of the process fails server selection with the old error ("read ECONNRESET")
// until it is restarted. A write whose socket closes while it waits for 'drain' hangs the same way.
//
// failWritesOnDeadSockets() makes such a write fail at once with a network error, as a write on a
// closed connection does: the operation is retried or fails, and the monitor's failed heartbeat
// sends it to connect anew.
import { type Socket } from 'node:net';
import mongoose from 'mongoose';

interface DriverConnection {
  socket: Socket;
  id: number | string;
  address: string;
  onError(error: Error): void;
  writeCommand(...args: unknown[]): Promise<void>;
}

/** The driver's Connection class: the copy of `mongodb` that mongoose loads. */
function driverConnection(): { prototype: DriverConnection } | undefined {
  const file = require.resolve('mongodb/lib/cmap/connection', { paths: [require.resolve('mongoose')] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(file) as { Connection?: { prototype: DriverConnection } }).Connection;
}

let installed = false;

/** Installs the check once per process; `onDeadSocket` is told of each write it failed. False when
 *  this driver has no `Connection.prototype.writeCommand` (a driver upgrade: look again; the test
 *  test/mongo-reconnect.test.ts fails then). */
export function failWritesOnDeadSockets(onDeadSocket: (connection: string) => void = () => undefined): boolean {
  if (installed) return true;
  const proto = driverConnection()?.prototype;
  if (typeof proto?.writeCommand !== 'function') return false;
  installed = true;
  const write = proto.writeCommand;
  proto.writeCommand = async function (this: DriverConnection, ...args: unknown[]): Promise<void> {
    const socket = this.socket;
    const dead = () => {
      onDeadSocket(`${this.id} to ${this.address}`);
      const err = new mongoose.mongo.MongoNetworkError(`connection ${this.id} to ${this.address} closed`);
      this.onError(err); // marks the Connection closed, as its 'close' handler would
      return err;
    };
    if (socket.destroyed) throw dead();
    let onClose = () => undefined as void;
    const closed = new Promise<never>((_, reject) => {
      onClose = () => reject(dead());
    });
    socket.once('close', onClose);
    try {
      return await Promise.race([write.apply(this, args), closed]);
    } finally {
      socket.off('close', onClose);
    }
  };
  return true;
}
