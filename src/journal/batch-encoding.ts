import { Packr } from "msgpackr";

/**
 * How a journaled batch is stored: MessagePack with records (msgpackr). A
 * batch's updates share a few shapes, so each shape's keys are written once
 * per batch instead of once per update: about a quarter of JSON's bytes,
 * encoded as fast as `JSON.stringify`, and the SQLite write shrinks with it.
 * The record definitions travel inside each value, so any later process
 * decodes it without shared state.
 */
const packr = new Packr({ useRecords: true });

/** Encodes a batch of updates for the `journal_batches.updates` column. */
export function encodeBatch<Y>(updates: readonly Y[]): Buffer {
    return packr.pack(updates);
}

/**
 * Decodes a stored batch. A string is a batch written as JSON by sluice
 * before 0.2, still read so that an upgrade replays what it left unfinished.
 */
export function decodeBatch<Y>(stored: Buffer | string): Y[] {
    return (typeof stored === "string" ? JSON.parse(stored) : packr.unpack(stored)) as Y[];
}
