// GET /api/v2/dialer/:dialer/forecast: when the campaign will finish its list and the contacts it
// will have made (services/forecast.ts reads the inputs, rules/finish-forecast.ts forecasts).
import type Router from '@koa/router';
import { campaignForecast } from '../services/forecast';
import { findDialer } from './dialers';
import { sendData } from './http';

const round = (v: number | null, digits = 0) => (v === null ? null : Number(v.toFixed(digits)));

export function forecastRoute(router: Router): void {
  router.get('/api/v2/dialer/:dialer/forecast', async (ctx) => {
    const doc = await findDialer(ctx, 'dialer');
    const now = Date.now();
    const f = await campaignForecast(doc, now);
    const i = f.inputs;
    sendData(ctx, {
      finishAt: f.finishAt === null ? null : new Date(f.finishAt).toISOString(),
      remainingSec: round(f.remainingSec),
      expectedContacts: Math.round(f.expectedContacts),
      ...(f.reason ? { reason: f.reason } : {}),
      computedAt: new Date(now).toISOString(),
      running: doc.active === true,
      answerRate: round(i.answerRate, 4),
      contactRate: round(i.contactRate, 4),
      failRate: round(i.failRate, 4),
      attemptsLeft: Math.round(i.attemptsLeft),
      membersWaiting: i.membersWaiting,
      membersFresh: i.membersFresh,
      membersDialled: i.membersDialled,
      lines: i.lines,
      lineSecPerAttempt: round(i.lineSecPerAttempt, 2),
      maxTryCount: i.maxTryCount,
      retryWaitSec: i.retryWaitSec,
      calendarOpenHoursPerWeek: round(i.calendarOpenHoursPerWeek, 2),
      calendarOpenHoursUntilFinish: round(i.calendarOpenHoursUntilFinish, 2),
      ifStartedNowSec: round(i.ifStartedNowSec),
      contactsSoFar: i.contactsSoFar,
      expectedContactsLeft: Math.round(i.expectedContactsLeft),
    });
  });
}
