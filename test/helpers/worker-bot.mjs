// Worker threads do not inherit `node --import tsx`; this launcher loads the TypeScript worker bot through tsx.
import { tsImport } from "tsx/esm/api";
await tsImport("./worker-bot.ts", import.meta.url);
