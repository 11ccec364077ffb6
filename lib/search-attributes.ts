// The project's custom search attributes: registered on the Temporal server by scripts/servers.ts
// and set by the member workflow so the Web UI can filter members by campaign, domain and state.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA = {
  CampaignId: defineSearchAttributeKey('CampaignId', SearchAttributeType.KEYWORD),
  DomainId: defineSearchAttributeKey('DomainId', SearchAttributeType.KEYWORD),
  MemberState: defineSearchAttributeKey('MemberState', SearchAttributeType.KEYWORD),
  Attempt: defineSearchAttributeKey('Attempt', SearchAttributeType.INT),
};

/** Name/type pairs for `temporal operator search-attribute create`. */
export const SEARCH_ATTRIBUTES: { name: string; type: 'Keyword' | 'Int' }[] = [
  { name: 'CampaignId', type: 'Keyword' },
  { name: 'DomainId', type: 'Keyword' },
  { name: 'MemberState', type: 'Keyword' },
  { name: 'Attempt', type: 'Int' },
];
