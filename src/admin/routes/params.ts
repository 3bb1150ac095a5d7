/** The schema of routes addressed by a numeric `:id` (a message, a campaign, a task). */
export const idParams = { type: "object", required: ["id"], properties: { id: { type: "integer", minimum: 1 } } } as const;
