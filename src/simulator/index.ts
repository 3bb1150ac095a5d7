/**
 * `sluice/simulator`: a local Telegram Bot API server for testing bots over
 * real HTTP. Start with {@link createSimulator}.
 */

export type { ApiCall, BotStats, CreateBotOptions, SentCall, SentResult, SimulatedBot } from "./bot.js";
export type { ChatState, ChatType } from "./chats.js";
export type { SimulatorEvents } from "./events.js";
export type { DelayNextOptions, FailNextOptions, Faults } from "./faults.js";
export type { FloodLimits } from "./flood-limits.js";
export type { UploadedFile } from "./http.js";
export type { RemoteSimulatorOptions } from "./protocol.js";
export { forkSimulator, type PushSummary, RemoteSimulator } from "./remote.js";
export { createSimulator, Simulator, type SimulatorOptions } from "./simulator.js";
export { syntheticTraffic, type TrafficOptions } from "./traffic.js";
export type { UpdateInput, UpdateType } from "./update-queue.js";
export type { CallbackQuerySpec, MessageSpec } from "./users.js";
export type { WaitOptions } from "./waiters.js";
