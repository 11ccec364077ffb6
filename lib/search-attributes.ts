// The project's custom search attributes: registered on the Temporal server by scripts/servers.ts
// and set by the member workflow so the Web UI can filter members by campaign, domain and state.
// Safe to import from workflows: it only uses @temporalio/common.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const searchAttributes = {
  CampaignId: defineSearchAttributeKey('CampaignId', SearchAttributeType.KEYWORD),
  DomainId: defineSearchAttributeKey('DomainId', SearchAttributeType.KEYWORD),
  MemberState: defineSearchAttributeKey('MemberState', SearchAttributeType.KEYWORD),
  Attempt: defineSearchAttributeKey('Attempt', SearchAttributeType.INT),
  MemberId: defineSearchAttributeKey('MemberId', SearchAttributeType.KEYWORD),
  EndCause: defineSearchAttributeKey('EndCause', SearchAttributeType.KEYWORD),
  NextAttemptAt: defineSearchAttributeKey('NextAttemptAt', SearchAttributeType.DATETIME),
};
// SQLite visibility allows 10 Keyword, 3 Int, 3 Datetime custom attributes per namespace; no phone
// number ever goes into one (they are visible to every UI user and kept in visibility storage).
export const SA = searchAttributes;

// Type names as `temporal operator search-attribute create --type` and the server spell them.
const typeName: Record<SearchAttributeType, string> = {
  TEXT: 'Text', KEYWORD: 'Keyword', INT: 'Int', DOUBLE: 'Double', BOOL: 'Bool', DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** Name/type pairs for `temporal operator search-attribute create`, e.g. { name: 'Attempt', type: 'Int' },
 *  and the type as `temporal operator search-attribute list` reports it (`INDEXED_VALUE_TYPE_INT`). */
export const SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: string; listedType: string }> = Object.values(searchAttributes).map(
  (k) => ({ name: k.name, type: typeName[k.type], listedType: `INDEXED_VALUE_TYPE_${k.type}` }),
);
