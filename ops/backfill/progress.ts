import { Presets, SingleBar } from "cli-progress";

/** Progress of one table: a bar on a terminal, else a line per second (logs and CI stay readable). */
export function progressReporter(table: string, stream: NodeJS.WriteStream = process.stderr) {
  if (stream.isTTY) {
    const bar = new SingleBar(
      { format: `  ${table.padEnd(14)} [{bar}] {value}/{total} rows | {eta_formatted} left`, stream },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(copied: number, total: number) {
        if (!started) bar.start(total, copied);
        started = true;
        bar.setTotal(total);
        bar.update(copied);
      },
      stop: () => started && bar.stop(),
    };
  }
  let lastPrint = 0;
  return {
    update(copied: number, total: number) {
      const now = Date.now();
      if (copied === 0 || (now - lastPrint < 1000 && copied < total)) return;
      lastPrint = now;
      stream.write(`  ${table}: ${copied}/${total} rows\n`);
    },
    stop: () => undefined,
  };
}
