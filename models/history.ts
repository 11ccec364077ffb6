// The `dialerHistory` collection (spec §11.4): start/stop/reset log of a dialer, GET …/history.
import mongoose, { Schema, type Model } from 'mongoose';

export interface HistoryDoc {
  dialer: string;
  domain: string;
  action: string;
  value: unknown;
  user: string | null;
  createdOn: number;
}

const historySchema = new Schema(
  {
    dialer: { type: String, required: true },
    domain: { type: String, required: true },
    action: { type: String, required: true },
    value: { type: Schema.Types.Mixed, default: null },
    user: { type: String, default: null },
    createdOn: { type: Number, default: () => Date.now() },
  },
  { collection: 'dialerHistory', versionKey: false, minimize: false },
);
historySchema.index({ dialer: 1, createdOn: -1 });

export const History: Model<HistoryDoc> =
  (mongoose.models.History as Model<HistoryDoc> | undefined) ?? mongoose.model<HistoryDoc>('History', historySchema);

export async function addHistory(h: Omit<HistoryDoc, 'createdOn' | 'user'> & { user?: string | null }): Promise<void> {
  await History.create({ ...h, user: h.user ?? null, createdOn: Date.now() });
}
