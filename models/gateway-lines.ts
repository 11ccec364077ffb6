// Lines of a sofia gateway shared by every campaign that dials through it (GATEWAY_LINES: the
// carrier's channel count), granted by campaign `priority` when campaigns compete
// (rules/line-priority.ts). One document per gateway: the calls holding its lines (by attempt uuid,
// like models/lines.ts) and the campaigns waiting for one. This module is its only writer; the
// member activities take a line after their campaign's own line (placeCall) and give it back with it
// (endAttempt, checkLease of a dead member). Writes are one at a time per gateway in a process
// (models/serial.ts); several worker processes need MongoDB for the counter to be exact (the
// waiter list is a hint refreshed every few seconds, a lost update only delays an order by one try).
import { Schema } from 'mongoose';
import { mayTakeSharedLine, withWaiter, type LineWaiter } from '../rules';
import { model } from './model';
import { exclusively } from './serial';

const gatewayLinesSchema = new Schema(
  {
    _id: { type: String, required: true }, // gateway name
    active: { type: Number, default: 0 },
    leases: { type: [new Schema({ id: String, campaign: String, at: Number }, { _id: false })], default: [] },
    waiters: { type: [new Schema({ campaign: String, priority: Number, at: Number }, { _id: false })], default: [] },
  },
  { collection: 'dialer_gateway_lines', versionKey: false, minimize: false },
);
const GatewayLinesModel = model('GatewayLines', gatewayLinesSchema);

export interface GatewayLinesDoc {
  _id: string;
  active: number;
  leases: { id: string; campaign: string; at: number }[];
  waiters: LineWaiter[];
}

export const GatewayLines = {
  /** Takes one of the gateway's `limit` lines for the attempt `leaseId` of campaign `me.campaign`
   *  (idempotent); false when none is free or a campaign with a higher priority is waiting. */
  async acquire(gateway: string, leaseId: string, me: { campaign: string; priority: number }, limit: number, now = Date.now()): Promise<boolean> {
    return exclusively(`gateway-lines:${gateway}`, async () => {
      await GatewayLinesModel.updateOne({ _id: gateway }, { $setOnInsert: { active: 0, leases: [], waiters: [] } }, { upsert: true });
      const stored = await GatewayLinesModel.findById(gateway).lean<GatewayLinesDoc>();
      const doc = { active: stored?.active ?? 0, leases: stored?.leases ?? [], waiters: stored?.waiters ?? [] };
      if (doc.leases.some((l) => l.id === leaseId)) return true;
      if (doc.active < limit && mayTakeSharedLine(me, doc.waiters, now)) {
        const won = await GatewayLinesModel.findOneAndUpdate(
          { _id: gateway, active: { $lt: limit }, 'leases.id': { $ne: leaseId } },
          {
            $inc: { active: 1 },
            $push: { leases: { id: leaseId, campaign: me.campaign, at: now } },
            $set: { waiters: doc.waiters.filter((w) => w.campaign !== me.campaign) },
          },
        );
        if (won) return true;
      }
      await GatewayLinesModel.updateOne({ _id: gateway }, { $set: { waiters: withWaiter(doc.waiters, me, now) } });
      return false;
    });
  },

  /** Gives back the line of attempt `leaseId`, whichever gateway holds it (a retried release frees nothing more). */
  async release(leaseId: string): Promise<void> {
    const docs = await GatewayLinesModel.find({ 'leases.id': leaseId }, { _id: 1 }).lean<{ _id: string }[]>();
    for (const { _id } of docs) await exclusively(`gateway-lines:${_id}`, () => pull(_id, (l) => l.id === leaseId));
  },

  /** Every line a campaign holds (dialer reset with `resetProcess`, dialer deleted). */
  async dropCampaign(campaignId: string): Promise<void> {
    const docs = await GatewayLinesModel.find({ 'leases.campaign': campaignId }, { _id: 1 }).lean<{ _id: string }[]>();
    for (const { _id } of docs) await exclusively(`gateway-lines:${_id}`, () => pull(_id, (l) => l.campaign === campaignId));
  },

  async snapshot(gateway: string): Promise<GatewayLinesDoc | null> {
    return GatewayLinesModel.findById(gateway).lean<GatewayLinesDoc>();
  },
};

async function pull(gateway: string, which: (l: GatewayLinesDoc['leases'][number]) => boolean): Promise<void> {
  const doc = await GatewayLinesModel.findById(gateway, { leases: 1 }).lean<GatewayLinesDoc>();
  // Each lease $pull-ed as read: FerretDB v1 ignores a $pull condition (models/lines.ts).
  for (const lease of (doc?.leases ?? []).filter(which)) {
    await GatewayLinesModel.updateOne({ _id: gateway, 'leases.id': lease.id }, { $inc: { active: -1 }, $pull: { leases: lease } });
  }
}
