/**
 * `sluice/simulator`: a local Telegram Bot API server for testing bots over
 * real HTTP. Start with {@link createSimulator}.
 */
export { type SimulatorEvents, type SimulatorOptions, type WaitOptions, Simulator, createSimulator } from "./simulator.js";
export type { ApiCall, BotStats, CreateBotOptions, SentCall, SentResult, SimulatedBot } from "./bot.js";
export type { ChatState, ChatType } from "./chats.js";
export type { FailNextOptions, Faults } from "./faults.js";
export type { FloodLimits } from "./flood-limits.js";
export type { UploadedFile } from "./http.js";
export type { UpdateInput, UpdateType } from "./update-queue.js";
export type { CallbackQuerySpec, MessageSpec } from "./users.js";
export { type TrafficOptions, syntheticTraffic } from "./traffic.js";
export { type PushSummary, RemoteSimulator, forkSimulator } from "./remote.js";
export type { RemoteSimulatorOptions } from "./protocol.js";
