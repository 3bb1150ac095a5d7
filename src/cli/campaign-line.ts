/** A campaign's counters, as the store and the admin API both give them. */
export interface CampaignCounts {
    id: number;
    name: string;
    state: string;
    total: number;
    sent: number;
    failed: number;
    skipped: number;
    pending: number;
}

/** One line saying where a campaign stands, the same in every command that shows one. */
export function campaignLine(c: CampaignCounts): string {
    return `campaign ${c.id} "${c.name}" ${c.state}: ${c.sent} sent, ${c.failed} failed, ${c.skipped} skipped, ${c.pending} pending of ${c.total}`;
}
