// The page imports uPlot as `./uPlot.esm.js`, which the server serves from the uplot package; this gives that path its types.
import uPlot from "uplot";

export default uPlot;
